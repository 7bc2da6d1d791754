// dermaga migrate-meta --from <sqlite path> --to <postgres dsn>

#include <memory>

#include "app/meta_database.hpp"
#include "cli/common.hpp"

namespace dermaga::cli {

namespace {
struct MigrateArgs {
    std::string from, to;
};
}  // namespace

void add_migrate_command(CLI::App& cli, Common& o, int& rc) {
    auto args = std::make_shared<MigrateArgs>();
    auto* cmd = cli.add_subcommand("migrate-meta",
                                   "copy an SQLite metadata database into an empty PostgreSQL database");
    add_store_options(cmd, o);  // -c: meta.postgres.* timeouts and pool size apply to the target
    cmd->add_option("--from", args->from, "SQLite file to copy (stop `dermaga serve` first)")->required();
    cmd->add_option("--to", args->to, "PostgreSQL connection string or URI of an empty database")->required();
    cmd->callback([&o, &rc, args] {
        const auto cfg = load_or_exit(o);
        auto counts = app::migrate_meta(cfg, args->from, args->to);
        if (!counts) {
            std::fprintf(stderr, "dermaga: %s\n", counts.error().detail.c_str());
            rc = 1;
            return;
        }
        std::vector<std::vector<std::string>> rows;
        std::int64_t total = 0;
        for (const auto& c : *counts) {
            rows.push_back({c.table, std::to_string(c.rows)});
            total += c.rows;
        }
        print_table({"TABLE", "ROWS"}, rows);
        std::printf("copied %lld rows in %zu tables; every table's count verified\n", static_cast<long long>(total),
                    counts->size());
        rc = 0;
    });
}

}  // namespace dermaga::cli
