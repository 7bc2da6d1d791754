// migrate-meta's copy: everything from main's SQLite database into PostgreSQL, verified, and
// a non-empty target refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/random.hpp"
#include "main_v4.hpp"
#include "meta/copy.hpp"
#include "meta/sql_meta_store.hpp"
#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/testing/postgres_server.hpp"

using namespace dermaga;
using namespace dermaga::meta;

namespace {

class CopyTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::filesystem::create_directories(dir_);
        fixture::load_main_v4((dir_ / "meta.db").string());
        from_ = std::make_shared<sql::sqlite::Database>((dir_ / "meta.db").string(), 2);
        sql::postgres::Options o;
        o.dsn = sql::testing::PostgresServer::shared().create_database();
        to_ = std::make_shared<sql::postgres::Database>(o);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_ = std::filesystem::temp_directory_path() / ("dermaga-copy-" + random_hex(6));
    std::shared_ptr<sql::Database> from_, to_;
};

TEST_F(CopyTest, CopiesEveryTableAndThePostgresStoreReadsTheSame) {
    auto counts = copy_metadata(*from_, *to_);
    ASSERT_TRUE(counts) << counts.error().detail;
    ASSERT_EQ(counts->size(), tables().size());
    std::int64_t total = 0;
    for (const auto& c : *counts) {
        total += c.rows;
        if (c.table == "audit") {
            EXPECT_EQ(c.rows, 22);
        }
    }
    // 60 rows in the fixture but sqlite_sequence, plus the inline config's bytes, which the
    // upgrade moved from blobs.data into a blob_data row.
    EXPECT_EQ(total, 61) << "every row of the fixture but sqlite_sequence";
    SqlMetaStore pg(to_);
    auto auth = pg.auth_store();
    fixture::expect_main_v4(pg, *auth);
    fixture::expect_new_ids_follow_main_v4(*auth);
}

TEST_F(CopyTest, RefusesATargetThatHoldsAnything) {
    {
        SqlMetaStore pg(to_);
        ASSERT_TRUE(pg.link_blob("x/y", fixture::main_layer, 1, "", 1));
    }
    auto r = copy_metadata(*from_, *to_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::conflict);
    EXPECT_NE(r.error().detail.find("not empty"), std::string::npos) << r.error().detail;
    SqlMetaStore pg(to_);
    EXPECT_EQ(pg.list_repositories("", 10)->names.size(), 0u) << "nothing was copied";
    EXPECT_FALSE(*pg.repository_exists("acme/app"));
}

TEST_F(CopyTest, CopiesBetweenAnyTwoEngines) {
    auto sqlite_target = std::make_shared<sql::sqlite::Database>((dir_ / "copy.db").string(), 2);
    auto counts = copy_metadata(*from_, *sqlite_target);
    ASSERT_TRUE(counts) << counts.error().detail;
    SqlMetaStore copy(sqlite_target);
    auto auth = copy.auth_store();
    fixture::expect_main_v4(copy, *auth);
}

}  // namespace
