// The SQLite dialect: every SQLite-specific statement text of the stores lives here.
// Portable SQL is SQLite's own, so statements pass through except for row-lock clauses, which
// SQLite lacks and does not need: its single writer already serialises every write.

#include <regex>

#include "sql/dialect.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/sql.hpp"

namespace dermaga::sql::sqlite {

namespace {

class SqliteDialect final : public Dialect {
public:
    std::string_view name() const override { return "sqlite"; }

    std::string statement(std::string_view portable) const override {
        static const std::regex locks(R"(\s+FOR\s+(UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)(\s+SKIP\s+LOCKED|\s+NOWAIT)?)");
        return std::regex_replace(std::string(portable), locks, "");
    }

    std::string schema(std::string_view portable) const override { return std::string(portable); }

    Result<void> lock_schema(Connection&) const override { return {}; }  // the writer is alone

    Result<int> schema_version(Connection& c) const override {
        DERMAGA_TRY(s, c.prepare("PRAGMA user_version"));
        DERMAGA_TRY(row, s->step());
        return row ? static_cast<int>(s->int64(0)) : 0;
    }

    Result<void> set_schema_version(Connection& c, int version) const override {
        return c.exec("PRAGMA user_version = " + std::to_string(version));
    }

    Result<void> sync_identity(Connection&, std::string_view, std::string_view) const override {
        return {};  // rowids continue after the largest one by themselves
    }
};

}  // namespace

const Dialect& sqlite_dialect() {
    static const SqliteDialect d;
    return d;
}

}  // namespace dermaga::sql::sqlite
