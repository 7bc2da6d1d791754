#include "app/config.hpp"

#include <gtest/gtest.h>

using namespace dermaga::app;

TEST(Config, YamlOverridesDefaults) {
    Config c;
    ASSERT_TRUE(apply_yaml(c, "http:\n  addr: 0.0.0.0:6000\n  read_timeout: 5m\nlimits:\n  max_manifest_bytes: 1MiB\n"));
    EXPECT_EQ(c.http_addr, "0.0.0.0:6000");
    EXPECT_EQ(c.http_read_timeout, 300);
    EXPECT_EQ(c.max_manifest_bytes, 1u << 20);
    EXPECT_TRUE(validate(c));
}

TEST(Config, UnknownKeysAreRejectedWithTheirName) {
    Config c;
    auto r = apply_yaml(c, "http:\n  adress: x\n");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("http.adress"), std::string::npos);
    auto e = apply_env(c, {{"DERMAGA_HTTP_ADRESS", "x"}});
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().detail.find("DERMAGA_HTTP_ADRESS"), std::string::npos);
}

TEST(Config, EnvironmentOverridesFile) {
    Config c;
    ASSERT_TRUE(apply_yaml(c, "log:\n  level: debug\n"));
    ASSERT_TRUE(apply_env(c, {{"DERMAGA_LOG_LEVEL", "warn"}, {"DERMAGA_STORAGE_DATA_DIR", "/srv/x"}}));
    EXPECT_EQ(c.log_level, "warn");
    EXPECT_EQ(c.sqlite_path(), "/srv/x/meta.db");
}

TEST(Config, BadValuesSayWhatIsWrong) {
    Config c;
    EXPECT_FALSE(apply_key(c, "http.read_timeout", "soon"));
    EXPECT_FALSE(apply_key(c, "limits.max_page_size", "-1"));
    EXPECT_FALSE(apply_key(c, "log.access", "maybe"));
    EXPECT_FALSE(apply_yaml(c, "http: [1, 2"));
    c.storage_driver = "tape";
    EXPECT_FALSE(validate(c));
    c = Config{};
    c.http_addr = "nocolon";
    EXPECT_FALSE(validate(c));
}

TEST(Config, TlsKeysComeFromYamlAndEnvironment) {
    Config c;
    ASSERT_TRUE(apply_yaml(c, "http:\n  tls:\n    cert: /etc/d/tls.crt\n    key: /etc/d/tls.key\n"));
    ASSERT_TRUE(apply_env(c, {{"DERMAGA_HTTP_TLS_CLIENT_CA", "/etc/d/ca.crt"}, {"DERMAGA_HTTP_TLS_CLIENT_AUTH", "require"}}));
    EXPECT_EQ(c.http_tls_cert, "/etc/d/tls.crt");
    EXPECT_EQ(c.http_tls_key, "/etc/d/tls.key");
    EXPECT_EQ(c.http_tls_client_ca, "/etc/d/ca.crt");
    EXPECT_EQ(c.http_tls_client_auth, "require");
    EXPECT_TRUE(c.tls_enabled());
    EXPECT_TRUE(validate(c));
    EXPECT_FALSE(Config{}.tls_enabled());
}

/// What validate() says of `base` changed by `edit`: "valid", or the reason.
template <class Edit>
std::string reason_for(Config base, Edit edit) {
    edit(base);
    auto r = validate(base);
    return r ? std::string("valid") : r.error().detail;
}

TEST(Config, TlsCombinationsThatMakeNoSenseAreRejectedNamingTheKey) {
    Config tls;
    tls.http_tls_cert = "/c.crt";
    tls.http_tls_key = "/c.key";
    auto reason = [&](auto edit) { return reason_for(tls, edit); };
    EXPECT_EQ(reason([](Config&) {}), "valid");
    EXPECT_EQ(reason([](Config& c) { c.http_tls_key.clear(); }).rfind("http.tls.key:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.http_tls_cert.clear(); }).rfind("http.tls.cert:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.http_tls_client_auth = "sometimes"; }).rfind("http.tls.client_auth:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.http_tls_client_auth = "optional"; }).rfind("http.tls.client_ca:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.http_tls_client_ca = "/ca.crt"; }).rfind("http.tls.client_ca:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) {
                  c.http_tls_client_auth = "require";
                  c.http_tls_client_ca = "/ca.crt";
              }),
              "valid");
    EXPECT_EQ(reason([](Config& c) {
                  c.http_tls_cert.clear();
                  c.http_tls_key.clear();
                  c.http_tls_client_auth = "require";
                  c.http_tls_client_ca = "/ca.crt";
              }).rfind("http.tls.client_auth:", 0),
              0u);
}

TEST(Config, MetricsKeysAndTheirChecks) {
    Config c;
    EXPECT_TRUE(c.metrics_enabled);
    EXPECT_TRUE(c.metrics_addr.empty());
    ASSERT_TRUE(apply_yaml(c, "metrics:\n  addr: 127.0.0.1:9102\n  public: true\n  store_interval: 5m\n"));
    EXPECT_EQ(c.metrics_addr, "127.0.0.1:9102");
    EXPECT_TRUE(c.metrics_public);
    EXPECT_EQ(c.metrics_store_interval, 300);
    EXPECT_TRUE(validate(c));
    ASSERT_TRUE(apply_env(c, {{"DERMAGA_METRICS_ENABLED", "false"}}));
    auto off = validate(c);
    ASSERT_FALSE(off);
    EXPECT_NE(off.error().detail.find("metrics.addr"), std::string::npos) << off.error().detail;
    c = Config{};
    c.metrics_addr = "9102";
    auto bad = validate(c);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().detail.rfind("metrics.addr", 0), 0u) << bad.error().detail;
    c = Config{};
    c.metrics_store_interval = 0;
    EXPECT_FALSE(validate(c));
}

TEST(Config, PostgresNeedsAConnectionStringThatParses) {
    Config pg;
    pg.meta_driver = "postgres";
    pg.meta_postgres_dsn = "host=db.example dbname=dermaga user=dermaga";
    auto reason = [&](auto edit) { return reason_for(pg, edit); };
    EXPECT_EQ(reason([](Config&) {}), "valid");
    EXPECT_EQ(reason([](Config& c) { c.meta_postgres_dsn = "postgresql://u@db/x?connect_timeout=3"; }), "valid");
    EXPECT_EQ(reason([](Config& c) { c.meta_postgres_dsn.clear(); }).rfind("meta.postgres.dsn: required", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.meta_postgres_dsn = "host=x bogus=1"; }).rfind("meta.postgres.dsn:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.meta_postgres_pool_size = 0; }).rfind("meta.postgres:", 0), 0u);
    EXPECT_EQ(reason([](Config& c) { c.meta_driver = "mysql"; }).rfind("meta.driver:", 0), 0u);
    Config sqlite;
    sqlite.meta_postgres_dsn = "not looked at";
    EXPECT_TRUE(validate(sqlite)) << "the DSN only matters with the postgres driver";
}

TEST(Config, CheckConfigNeverPrintsADatabasePassword) {
    Config c;
    ASSERT_TRUE(apply_env(c, {{"DERMAGA_META_DRIVER", "postgres"},
                              {"DERMAGA_META_POSTGRES_DSN", "host=db dbname=d user=u password=hunter2"},
                              {"DERMAGA_META_POSTGRES_STATEMENT_TIMEOUT", "30s"}}));
    EXPECT_EQ(c.meta_postgres_statement_timeout, 30);
    bool seen = false;
    for (const auto& row : describe(c)) {
        for (const auto& cell : row) {
            EXPECT_EQ(cell.find("hunter2"), std::string::npos) << row[0];
        }
        if (row[0] == "meta.postgres.dsn") {
            seen = true;
            EXPECT_NE(row[2].find("password=(set)"), std::string::npos) << row[2];
            EXPECT_NE(row[2].find("host=db"), std::string::npos) << row[2];
        }
    }
    EXPECT_TRUE(seen);
}
