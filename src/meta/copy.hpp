#pragma once
// Copying a whole metadata store from one database to another (`dermaga migrate-meta`: an
// SQLite install moving to PostgreSQL). Engine-neutral: both sides are sql::Databases.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sql/sql.hpp"

namespace dermaga::meta {

/// A table of the schema and its generated id column ("" when the key is natural).
struct TableSpec {
    const char* name;
    const char* identity;
};

/// Every table of the schema, parents before children (the order a copy inserts in). A
/// migration that adds a table adds it here; tests/schema_test.cpp checks they agree.
std::span<const TableSpec> tables();

struct TableCount {
    std::string table;
    std::int64_t rows = 0;  ///< in the source, and (verified) in the target
};

/// Migrates both databases to this binary's schema, then copies every row of every table from
/// `from` (read in one snapshot) into `to`, in transactions of bounded size, moves the
/// target's id generators past the copied ids, and verifies that each table holds as many
/// rows in the target as in the source. Blocking.
/// Errors: errc::conflict when any table of `to` already holds a row (nothing is written);
/// errc::db_error naming the table when a copy or the count check fails.
Result<std::vector<TableCount>> copy_metadata(sql::Database& from, sql::Database& to);

}  // namespace dermaga::meta
