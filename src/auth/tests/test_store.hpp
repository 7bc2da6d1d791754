#pragma once
// A fresh AuthStore on the engine the run asks for (DERMAGA_TEST_META: SQLite in a temporary
// directory, or a fresh PostgreSQL schema), and a clock tests can move.

#include <atomic>
#include <filesystem>
#include <memory>

#include "core/clock.hpp"
#include "core/random.hpp"
#include "meta/sql_meta_store.hpp"
#include "sql/testing/test_database.hpp"

namespace dermaga::auth::fixture {

struct FakeClock final : Clock {
    std::atomic<std::int64_t> now{1'800'000'000};
    std::int64_t now_unix() const override { return now.load(); }
};

struct TestStore {
    std::filesystem::path dir = std::filesystem::temp_directory_path() / ("dermaga-auth-" + random_hex(6));
    std::shared_ptr<sql::Database> db;  ///< under the stores, for tests that damage it
    std::unique_ptr<meta::SqlMetaStore> meta;
    std::unique_ptr<meta::AuthStore> auth;
    TestStore() {
        std::filesystem::create_directories(dir);
        db = sql::testing::fresh_test_database(dir);
        meta = std::make_unique<meta::SqlMetaStore>(db);
        auth = meta->auth_store();
    }
    ~TestStore() {
        auth.reset();
        meta.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
};

}  // namespace dermaga::auth::fixture
