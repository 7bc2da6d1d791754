#pragma once
// The schema migrations in schema/*.sql, embedded at build time, in order. Migration i
// (1-based) brings the schema to version i on every engine. schema/<engine>/NNN_name.sql, when
// present, replaces NNN_name.sql on that engine (none is needed so far: see schema/README.md).

#include <span>

#include "sql/migrate.hpp"

namespace dermaga::meta {

std::span<const sql::Migration> migrations();

}  // namespace dermaga::meta
