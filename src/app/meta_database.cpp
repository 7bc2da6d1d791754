#include "app/meta_database.hpp"

#include <filesystem>
#include <stdexcept>

#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"

namespace dermaga::app {

namespace {

sql::postgres::Options postgres_options(const Config& c, const std::string& dsn) {
    sql::postgres::Options o;
    o.dsn = dsn;
    o.pool_size = c.meta_postgres_pool_size;
    o.connect_timeout = std::chrono::seconds(c.meta_postgres_connect_timeout);
    o.statement_timeout = std::chrono::seconds(c.meta_postgres_statement_timeout);
    return o;
}

}  // namespace

std::shared_ptr<sql::Database> open_meta_database(const Config& c, std::size_t readers) {
    if (c.meta_driver == "postgres") {
        return std::make_shared<sql::postgres::Database>(postgres_options(c, c.meta_postgres_dsn));
    }
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(c.sqlite_path()).parent_path(), ec);
    if (ec) {
        throw std::runtime_error("directory of " + c.sqlite_path() + ": " + ec.message());
    }
    return std::make_shared<sql::sqlite::Database>(c.sqlite_path(), readers);
}

std::string meta_location(const Config& c) {
    return c.meta_driver == "postgres" ? sql::postgres::describe_dsn(c.meta_postgres_dsn) : c.sqlite_path();
}

Result<std::vector<meta::TableCount>> migrate_meta(const Config& c, const std::string& from, const std::string& to_dsn) {
    if (!std::filesystem::is_regular_file(from)) {
        return fail(errc::invalid, "no SQLite database at " + from);
    }
    if (auto r = sql::postgres::check_dsn(to_dsn); !r) {
        return fail(errc::invalid, "--to: " + r.error().detail);
    }
    try {
        sql::sqlite::Database source(from, 1);
        sql::postgres::Database target(postgres_options(c, to_dsn));
        return meta::copy_metadata(source, target);
    } catch (const std::runtime_error& e) {
        return fail(errc::invalid, e.what());
    }
}

}  // namespace dermaga::app
