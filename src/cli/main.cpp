// dermaga serve | check-config | version | user | org | team | robot | repo | token | audit | keys |
// migrate-meta
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "app/app.hpp"
#include "app/config.hpp"
#include "cli/common.hpp"
#include "core/log.hpp"

using namespace dermaga;

int main(int argc, char** argv) {
    app::block_shutdown_signals();
    CLI::App cli{"Dermaga: an OCI container image registry"};
    cli.require_subcommand(1);
    cli::Common common;

    auto* serve = cli.add_subcommand("serve", "run the registry");
    cli::add_common(serve, common);
    auto* check = cli.add_subcommand("check-config", "validate the configuration and print every key");
    cli::add_common(check, common);
    cli.add_subcommand("version", "print the version");

    // Management commands act on the configured store directly as the local operator.
    int rc = -1;
    cli::add_user_commands(cli, common, rc);
    cli::add_org_commands(cli, common, rc);
    cli::add_access_commands(cli, common, rc);
    cli::add_migrate_command(cli, common, rc);
    cli::add_store_options_to_group_commands(cli, common);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e) == 0 ? 0 : 2;  // usage errors exit 2; --help exits 0
    }
    if (rc >= 0) {
        return rc;
    }

    if (cli.got_subcommand("version")) {
        std::printf("dermaga %s\n", app::version());
        return 0;
    }
    app::Config cfg = cli::load_or_exit(common);
    if (cli.got_subcommand("check-config")) {
        for (const auto& row : app::describe(cfg)) {
            std::printf("%-28s %-36s %s\n", row[0].c_str(), row[1].c_str(), row[2].c_str());
        }
        std::printf("configuration OK\n");
        return 0;
    }
    log::Level level = log::Level::info;
    log::parse_level(cfg.log_level, level);
    log::init(level);
    int exit_code = 1;
    try {
        app::App instance(cfg);
        exit_code = instance.run_until_signal();
    } catch (const std::exception& e) {
        log::error("startup_failed", {{"error", e.what()}});
        log::shutdown();
        std::fprintf(stderr, "dermaga: %s\n", e.what());
        return 1;
    }
    log::shutdown();
    return exit_code;
}
