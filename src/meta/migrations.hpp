#pragma once
// The schema migrations in schema/*.sql, embedded at build time, in order. Migration i (1-based)
// brings the schema to version i.

#include <span>
#include <string_view>

namespace dermaga::meta {

struct Migration {
    std::string_view name;
    std::string_view sql;
};

std::span<const Migration> migrations();

}  // namespace dermaga::meta
