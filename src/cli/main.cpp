// dermaga serve | check-config | version
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

#include "app/app.hpp"
#include "app/config.hpp"
#include "core/log.hpp"

using namespace dermaga;

namespace {

struct Common {
    std::string config_path;
    std::string addr;
    std::string data;
};

/// Loads the config file and environment, then applies command-line flags. Exits 2 with a
/// one-line reason on any error.
app::Config load_or_exit(const Common& o) {
    auto cfg = app::load(o.config_path);
    if (!cfg) {
        std::fprintf(stderr, "dermaga: config: %s\n", cfg.error().detail.c_str());
        std::exit(2);
    }
    if (!o.addr.empty()) {
        cfg->http_addr = o.addr;
    }
    if (!o.data.empty()) {
        cfg->data_dir = o.data;
    }
    if (auto v = app::validate(*cfg); !v) {
        std::fprintf(stderr, "dermaga: config: %s\n", v.error().detail.c_str());
        std::exit(2);
    }
    return *cfg;
}

void add_common(CLI::App* cmd, Common& o) {
    cmd->add_option("-c,--config", o.config_path, "YAML config file")->envname("DERMAGA_CONFIG");
    cmd->add_option("--addr", o.addr, "listen address HOST:PORT (overrides http.addr)");
    cmd->add_option("--data", o.data, "data directory (overrides storage.data_dir)");
}

}  // namespace

int main(int argc, char** argv) {
    app::block_shutdown_signals();
    CLI::App cli{"Dermaga: an OCI container image registry"};
    cli.require_subcommand(1);
    Common common;

    auto* serve = cli.add_subcommand("serve", "run the registry");
    add_common(serve, common);
    auto* check = cli.add_subcommand("check-config", "validate the configuration and print every key");
    add_common(check, common);
    cli.add_subcommand("version", "print the version");

    CLI11_PARSE(cli, argc, argv);

    if (cli.got_subcommand("version")) {
        std::printf("dermaga %s\n", app::version());
        return 0;
    }
    app::Config cfg = load_or_exit(common);
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
    int rc = 1;
    try {
        app::App instance(cfg);
        rc = instance.run_until_signal();
    } catch (const std::exception& e) {
        log::error("startup_failed", {{"error", e.what()}});
        log::shutdown();
        std::fprintf(stderr, "dermaga: %s\n", e.what());
        return 1;
    }
    log::shutdown();
    return rc;
}
