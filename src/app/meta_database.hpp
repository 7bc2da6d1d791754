#pragma once
// Opening the metadata database the configuration names (the only place that picks an SQL
// engine), and `dermaga migrate-meta`.

#include <memory>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "meta/copy.hpp"
#include "sql/sql.hpp"

namespace dermaga::app {

/// The metadata database of `c`: SQLite at sqlite_path() with `readers` reader connections
/// (creating the data directory), or PostgreSQL at meta.postgres.dsn with its pool size and
/// timeouts. Migrations are applied by the store opened on it. Throws std::runtime_error with
/// a one-line reason.
std::shared_ptr<sql::Database> open_meta_database(const Config& c, std::size_t readers);

/// Where the metadata lives, for logs: the SQLite path, or the connection string without a
/// password.
std::string meta_location(const Config& c);

/// `dermaga migrate-meta`: copies the SQLite database at `from` (which must exist) into the
/// empty PostgreSQL database `to_dsn` (connected with c's meta.postgres settings) and returns
/// the rows per table, verified. Errors: app::errc::invalid for a missing source or a bad
/// connection string; meta::errc::conflict for a non-empty target; meta::errc::db_error.
Result<std::vector<meta::TableCount>> migrate_meta(const Config& c, const std::string& from, const std::string& to_dsn);

}  // namespace dermaga::app
