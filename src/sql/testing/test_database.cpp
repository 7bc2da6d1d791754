#include "sql/testing/test_database.hpp"

#include <cstdlib>
#include <stdexcept>

#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/testing/postgres_server.hpp"

namespace dermaga::sql::testing {

std::string test_engine() {
    const char* e = std::getenv("DERMAGA_TEST_META");
    const std::string engine = e && *e ? e : "sqlite";
    if (engine != "sqlite" && engine != "postgres") {
        throw std::runtime_error("DERMAGA_TEST_META must be sqlite or postgres, not " + engine);
    }
    return engine;
}

TestDatabase::TestDatabase(const std::filesystem::path& dir)
    : engine_(test_engine()),
      where_(engine_ == "postgres" ? PostgresServer::shared().create_schema() : (dir / "meta.db").string()) {}

std::shared_ptr<Database> TestDatabase::open() const {
    if (engine_ == "postgres") {
        postgres::Options o;
        o.dsn = where_;
        o.pool_size = 4;
        return std::make_shared<postgres::Database>(o);
    }
    return std::make_shared<sqlite::Database>(where_, 2);
}

std::shared_ptr<Database> fresh_test_database(const std::filesystem::path& dir) { return TestDatabase(dir).open(); }

}  // namespace dermaga::sql::testing
