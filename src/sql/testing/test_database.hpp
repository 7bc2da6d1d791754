#pragma once
// The metadata engine a test run asks for, so one suite runs on both: $DERMAGA_TEST_META is
// "sqlite" (the default) or "postgres"; ctest registers the suites that honour it once per
// engine.

#include <filesystem>
#include <memory>
#include <string>

#include "sql/sql.hpp"

namespace dermaga::sql::testing {

/// "sqlite" or "postgres". Throws std::runtime_error for any other value.
std::string test_engine();

/// A fresh, empty database on test_engine(): SQLite at `dir`/meta.db, or a new schema of the
/// process's private PostgreSQL (PostgresServer::shared()). open() connects to it, again after
/// a test's "restart" (new connections, same data).
class TestDatabase {
public:
    explicit TestDatabase(const std::filesystem::path& dir);
    std::shared_ptr<Database> open() const;

private:
    std::string engine_;
    std::string where_;  ///< SQLite file or PostgreSQL connection string
};

/// TestDatabase(dir).open(): for tests that never restart.
std::shared_ptr<Database> fresh_test_database(const std::filesystem::path& dir);

}  // namespace dermaga::sql::testing
