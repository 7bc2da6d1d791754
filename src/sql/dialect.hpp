#pragma once
// Dialect: the one place per engine that knows how its SQL differs from the portable SQL the
// stores are written in. sqlite/dialect.cpp and postgres/dialect.cpp hold every
// engine-specific statement text; README.md lists the rules.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace dermaga::sql {

class Connection;

class Dialect {
public:
    virtual ~Dialect() = default;
    /// "sqlite" or "postgres": picks per-engine migration overrides.
    virtual std::string_view name() const = 0;
    /// The text this engine prepares for a portable statement (placeholders `?N`, `X COLLATE
    /// NOCASE`, `instr`, row-lock clauses).
    virtual std::string statement(std::string_view portable) const = 0;
    /// The DDL this engine runs for a portable migration script (SQLite type names).
    virtual std::string schema(std::string_view portable) const = 0;

    /// Takes the lock that serialises migrators (several nodes may start at once); runs first
    /// in every migration transaction.
    virtual Result<void> lock_schema(Connection& c) const = 0;
    /// The schema version recorded in the database (0: empty database).
    virtual Result<int> schema_version(Connection& c) const = 0;
    virtual Result<void> set_schema_version(Connection& c, int version) const = 0;
    /// After rows were copied in with explicit ids: moves the id generator of `table.column`
    /// past the largest id, so new rows never collide with copied ones.
    virtual Result<void> sync_identity(Connection& c, std::string_view table, std::string_view column) const = 0;
};

/// Replaces `?N` placeholders with `$N` outside quotes and comments (and keeps `$N`). Sets
/// `max_index` to the largest N seen and bit N-1 of `used` for each N up to 64.
std::string numbered_placeholders(std::string_view sql, int& max_index, std::uint64_t& used);

}  // namespace dermaga::sql
