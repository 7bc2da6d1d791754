// The schema on both engines: the table list the copy relies on, and a database written by
// main's binary before the SQL layer, which must open (upgrading in place) and read back.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "core/random.hpp"
#include "main_v4.hpp"
#include "meta/copy.hpp"
#include "meta/migrations.hpp"
#include "meta/sql_helpers.hpp"
#include "meta/sql_meta_store.hpp"
#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/testing/postgres_server.hpp"

using namespace dermaga;
using namespace dermaga::meta;

namespace {

std::set<std::string> listed_tables() {
    std::set<std::string> out;
    for (const auto& t : tables()) {
        out.insert(t.name);
    }
    return out;
}

std::set<std::string> names(sql::Database& db, const char* sql) {
    auto r = db.read<std::set<std::string>>([&](sql::Connection& c) -> Result<std::set<std::string>> {
        DERMAGA_TRY(s, c.prepare(sql));
        std::set<std::string> out;
        while (true) {
            DERMAGA_TRY(row, s->step());
            if (!row) {
                return out;
            }
            out.insert(s->text(0));
        }
    });
    EXPECT_TRUE(r) << r.error().detail;
    return r.value_or(std::set<std::string>{});
}

struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("dermaga-schema-" + random_hex(6));
    TempDir() { std::filesystem::create_directories(path); }
    ~TempDir() { std::filesystem::remove_all(path); }
};

TEST(Schema, EveryTableIsListedForCopyingOnBothEngines) {
    TempDir dir;
    auto lite = std::make_shared<sql::sqlite::Database>((dir.path / "m.db").string(), 1);
    SqlMetaStore on_sqlite(lite);
    EXPECT_EQ(names(*lite, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"),
              listed_tables());
    sql::postgres::Options o;
    o.dsn = sql::testing::PostgresServer::shared().create_database();
    auto pg = std::make_shared<sql::postgres::Database>(o);
    SqlMetaStore on_postgres(pg);
    auto pg_tables = names(*pg, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    EXPECT_EQ(pg_tables.erase("dermaga_schema"), 1u) << "the version table";
    EXPECT_EQ(pg_tables, listed_tables());
    EXPECT_EQ(on_postgres.schema_version(), static_cast<int>(migrations().size()));
    EXPECT_EQ(on_sqlite.schema_version(), static_cast<int>(migrations().size()));
}

TEST(Schema, ADatabaseFromMainUpgradesInPlaceAndReadsBack) {
    TempDir dir;
    const auto path = (dir.path / "meta.db").string();
    fixture::load_main_v4(path);
    SqlMetaStore store(std::make_shared<sql::sqlite::Database>(path, 2));
    EXPECT_EQ(store.schema_version(), static_cast<int>(migrations().size()));
    auto auth = store.auth_store();
    fixture::expect_main_v4(store, *auth);
    fixture::expect_new_ids_follow_main_v4(*auth);
}

}  // namespace
