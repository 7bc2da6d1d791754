#pragma once
// Numbered schema migrations, the same numbers on every engine. Each is written once in
// portable DDL (SQLite's) and adapted by the engine's Dialect::schema; a statement no rule can
// adapt goes in a whole-file override for that engine.

#include <span>
#include <string_view>

#include "sql/sql.hpp"

namespace dermaga::sql {

struct MigrationOverride {
    std::string_view engine;  ///< Dialect::name()
    std::string_view sql;     ///< run as written on that engine
};

struct Migration {
    std::string_view name;  ///< "001_init.sql"; migration i (1-based) brings the schema to version i
    std::string_view sql;   ///< portable DDL
    std::span<const MigrationOverride> overrides = {};
};

/// The DDL `engine` runs for `m`.
std::string migration_sql(const Migration& m, const Dialect& d);

/// Applies the migrations the database lacks, each in its own transaction under the dialect's
/// schema lock (several nodes may start at once: each migration runs exactly once). Returns
/// the resulting version. Errors: the database is newer than `all` (sql::errc::error naming
/// both versions), or a migration failed (nothing of it applied).
Result<int> migrate(Database& db, std::span<const Migration> all);

/// The schema version recorded in the database.
Result<int> schema_version(Database& db);

}  // namespace dermaga::sql
