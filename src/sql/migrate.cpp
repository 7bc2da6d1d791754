#include "sql/migrate.hpp"

#include "sql/dialect.hpp"

namespace dermaga::sql {

std::string migration_sql(const Migration& m, const Dialect& d) {
    for (const auto& o : m.overrides) {
        if (o.engine == d.name()) {
            return std::string(o.sql);
        }
    }
    return d.schema(m.sql);
}

Result<int> migrate(Database& db, std::span<const Migration> all) {
    const int target = static_cast<int>(all.size());
    while (true) {
        // One transaction per migration: read the version under the lock, apply the next one.
        auto step = db.write<int>([&](Connection& c) -> Result<int> {
            const Dialect& d = c.dialect();
            DERMAGA_CHECK(c.allow_long_statements(std::chrono::hours(1)));
            DERMAGA_CHECK(d.lock_schema(c));
            DERMAGA_TRY(current, d.schema_version(c));
            if (current > target) {
                return fail(errc::error, "database schema version " + std::to_string(current) +
                                             " is newer than this binary supports (" + std::to_string(target) + ")");
            }
            if (current == target) {
                return current;
            }
            const auto& m = all[static_cast<std::size_t>(current)];
            if (auto r = c.exec(migration_sql(m, d)); !r) {
                return fail(Error{r.error().code, std::string(m.name) + ": " + r.error().detail});
            }
            DERMAGA_CHECK(d.set_schema_version(c, current + 1));
            return current + 1;
        });
        if (!step) {
            return step;
        }
        if (*step == target) {
            return target;
        }
    }
}

Result<int> schema_version(Database& db) {
    return db.read<int>([](Connection& c) { return c.dialect().schema_version(c); });
}

}  // namespace dermaga::sql
