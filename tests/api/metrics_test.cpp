// /metrics, /readyz and the metrics listener, over real HTTP: what traffic adds to the request
// metrics, that the page passes Prometheus's own checker, that store counts come from the
// background recount, readiness reasons, and who may read /metrics.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "app/meta_database.hpp"
#include "auth_fixture.hpp"
#include "meta/migrations.hpp"
#include "sql/dialect.hpp"

namespace dermaga::test {
namespace {

/// The value of one series (exact name and labels as written); NaN when absent.
double series(const std::string& page, const std::string& name_and_labels) {
    const std::string needle = "\n" + name_and_labels + " ";
    auto at = page.find(needle);
    if (at == std::string::npos) {
        return std::nan("");
    }
    at += needle.size();
    return std::stod(page.substr(at, page.find('\n', at) - at));
}

/// Runs `promtool check metrics` on `page`; returns its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& page,
                                           const std::filesystem::path& dir) {
    const auto file = dir / "metrics.txt";
    std::ofstream(file) << page;
    const std::string cmd = "promtool check metrics < " + file.string() + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return {-1, "popen failed"};
    }
    std::string out;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) {
        out.append(buf, n);
    }
    const int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class MetricsTest : public ApiTest {
protected:
    std::string scrape() {
        auto r = http().get("/metrics");
        EXPECT_EQ(r.status, 200u) << describe(r);
        EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
        return "\n" + r.body;
    }
    /// Scrapes until `done(page)` holds (at most `tries` times, `pause` apart); the last page.
    template <class Done>
    std::string scrape_until(Done done, int tries, std::chrono::milliseconds pause) {
        std::string page = scrape();
        for (int i = 1; i < tries && !done(page); ++i) {
            std::this_thread::sleep_for(pause);
            page = scrape();
        }
        return page;
    }
};

TEST_F(MetricsTest, PagePassesPromtoolAfterRealTraffic) {
    auto img = push_image("lib/app", "v1", "promtool");
    ASSERT_EQ(
        http().get("/v2/lib/app/manifests/v1", {{"Accept", std::string(oci_manifest)}}).status,
        200u);
    ASSERT_EQ(http().get("/v2/lib/app/blobs/" + sha256(img.layer)).status, 200u);
    ASSERT_EQ(http().get("/v2/lib/app/tags/list").status, 200u);
    ASSERT_EQ(http().get("/v2/_catalog").status, 200u);
    ASSERT_EQ(http().get("/v2/nope/manifests/x").status, 404u);
    auto page = scrape();
    auto [rc, out] = promtool_check(page, dir_);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "") << "promtool has complaints";
    EXPECT_EQ(series(page, "dermaga_build_info{version=\"0.1.0\"}"), 1);
    EXPECT_GT(series(page, "process_resident_memory_bytes"), 0);
    EXPECT_GT(series(page, "process_open_fds"), 0);
    EXPECT_EQ(series(page, "dermaga_ready"), 1);
}

TEST_F(MetricsTest, CountsRequestsByRouteMethodAndCodeWithBytesAndLatency) {
    auto img = push_image("lib/app", "v1", "counted");
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(
            http().get("/v2/lib/app/manifests/v1", {{"Accept", std::string(oci_manifest)}}).status,
            200u);
    }
    ASSERT_EQ(http().head("/v2/lib/app/manifests/v1").status, 200u);
    ASSERT_EQ(http().get("/v2/lib/app/blobs/" + absent_digest()).status, 404u);
    auto page = scrape();
    EXPECT_EQ(
        series(page, "dermaga_http_requests_total{route=\"manifest\",method=\"PUT\",code=\"201\"}"),
        1);
    EXPECT_EQ(
        series(page, "dermaga_http_requests_total{route=\"manifest\",method=\"GET\",code=\"200\"}"),
        3);
    EXPECT_EQ(
        series(page,
               "dermaga_http_requests_total{route=\"manifest\",method=\"HEAD\",code=\"200\"}"),
        1);
    EXPECT_EQ(
        series(page, "dermaga_http_requests_total{route=\"blob\",method=\"GET\",code=\"404\"}"), 1);
    // two blobs pushed, each POST then PUT ?digest=
    EXPECT_EQ(
        series(page, "dermaga_http_requests_total{route=\"upload\",method=\"POST\",code=\"202\"}"),
        2);
    EXPECT_EQ(
        series(page, "dermaga_http_requests_total{route=\"upload\",method=\"PUT\",code=\"201\"}"),
        2);
    EXPECT_EQ(series(page, "dermaga_http_received_bytes_total{route=\"upload\"}"),
              img.config.size() + img.layer.size());
    EXPECT_EQ(series(page, "dermaga_http_received_bytes_total{route=\"manifest\"}"),
              img.manifest.size());
    EXPECT_EQ(series(page, "dermaga_http_sent_bytes_total{route=\"manifest\"}"),
              3 * img.manifest.size());
    EXPECT_EQ(series(page, "dermaga_http_request_duration_seconds_count{route=\"manifest\"}"), 5);
    EXPECT_GT(series(page, "dermaga_http_request_duration_seconds_sum{route=\"manifest\"}"), 0);
    // the three GETs: the first read the database, the next two came from memory (HEAD too)
    EXPECT_EQ(series(page, "dermaga_manifest_cache_lookups_total{result=\"miss\"}"), 1);
    EXPECT_EQ(series(page, "dermaga_manifest_cache_lookups_total{result=\"hit\"}"), 3);
    // this scrape's own request is in flight; its connection is open
    EXPECT_EQ(series(page, "dermaga_http_requests_in_flight"), 1);
    EXPECT_GE(series(page, "dermaga_http_open_connections"), 1);
    EXPECT_GT(series(page, "dermaga_blocking_calls_total"), 0);
    EXPECT_GT(series(page, "dermaga_blocking_wait_seconds_count"), 0);
    EXPECT_EQ(series(page, "dermaga_blocking_threads"), 8);
    EXPECT_GT(series(page, "dermaga_db_commit_duration_seconds_count"), 0);
    EXPECT_GT(series(page, "dermaga_db_commit_batch_size_sum"), 0);
}

class StoreCountsTest : public MetricsTest {
protected:
    void configure(app::Config& c) override { c.metrics_store_interval = 3600; }
};

TEST_F(StoreCountsTest, ComeFromTheLastRecountNotAQueryPerScrape) {
    // The recount at start-up saw an empty store; pushes since then show only at the next one.
    auto page = scrape_until(
        [](const std::string& p) {
            return series(p, "dermaga_store_counted_timestamp_seconds") > 0;
        },
        200, std::chrono::milliseconds(10));
    ASSERT_GT(series(page, "dermaga_store_counted_timestamp_seconds"), 0) << page;
    push_image("lib/app", "v1", "stale");
    page = scrape();
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"manifests\"}"), 0);
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"blobs\"}"), 0);
}

class FreshStoreCountsTest : public MetricsTest {
protected:
    void configure(app::Config& c) override { c.metrics_store_interval = 1; }
};

TEST_F(FreshStoreCountsTest, FollowTheStoreWithinTheInterval) {
    auto img = push_image("lib/app", "v1", "fresh");
    push_image("lib/other", "", "fresh2");
    ASSERT_EQ(http().post("/v2/lib/app/blobs/uploads/").status, 202u);  // one session left open
    auto page = scrape_until(
        [](const std::string& p) {
            return series(p, "dermaga_store_objects{kind=\"manifests\"}") == 2 &&
                   series(p, "dermaga_upload_sessions") == 1;
        },
        50, std::chrono::milliseconds(100));
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"repositories\"}"), 2) << page;
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"manifests\"}"), 2);
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"tags\"}"), 1);
    EXPECT_EQ(series(page, "dermaga_store_objects{kind=\"blobs\"}"), 4);
    EXPECT_GE(series(page, "dermaga_store_bytes{kind=\"blobs\"}"),
              img.config.size() + img.layer.size());
    EXPECT_EQ(series(page, "dermaga_upload_sessions"), 1);
}

TEST_F(MetricsTest, ReadyzNamesWhatIsNotReady) {
    auto ok = http().get("/readyz");
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.body, "ready\n");
    // storage: the uploads directory vanished (an unmounted volume looks like this)
    std::filesystem::rename(dir_ / "uploads", dir_ / "uploads.away");
    auto gone = http().get("/readyz");
    EXPECT_EQ(gone.status, 503u);
    EXPECT_EQ(gone.body.rfind("not ready: storage: uploads directory unreachable", 0), 0u)
        << gone.body;
    EXPECT_EQ(gone.body.find(dir_.string()), std::string::npos) << "no paths shown";
    EXPECT_EQ(http().get("/healthz").status, 200u) << "alive, just not ready";
    EXPECT_EQ(series(scrape(), "dermaga_ready"), 0);
    std::filesystem::rename(dir_ / "uploads.away", dir_ / "uploads");
    EXPECT_EQ(http().get("/readyz").status, 200u);
    // database: its schema is not the one this binary was built for (migrations not done);
    // set from outside the server, as another process or node would, on either engine
    auto db = app::open_meta_database(config_, 1);
    auto set_version = [&](int v) {
        return db->write<void>([&](sql::Connection& c) { return c.dialect().set_schema_version(c, v); });
    };
    ASSERT_TRUE(set_version(99));
    auto schema = http().get("/readyz");
    EXPECT_EQ(schema.status, 503u);
    EXPECT_NE(schema.body.find("database: database schema is at version 99"), std::string::npos)
        << schema.body;
    ASSERT_TRUE(set_version(static_cast<int>(meta::migrations().size())));
    EXPECT_EQ(http().get("/readyz").status, 200u);
}

class MetricsListenerTest : public MetricsTest {
protected:
    void configure(app::Config& c) override { c.metrics_addr = "127.0.0.1:0"; }
};

TEST_F(MetricsListenerTest, ServesProbesThereAndHidesMetricsFromTheMainListener) {
    ASSERT_NE(metrics_port(), 0);
    ASSERT_NE(metrics_port(), port());
    HttpClient side("127.0.0.1", metrics_port());
    auto page = side.get("/metrics");
    EXPECT_EQ(page.status, 200u);
    EXPECT_NE(page.body.find("dermaga_http_requests_total"), std::string::npos);
    EXPECT_EQ(side.get("/readyz").status, 200u);
    EXPECT_EQ(side.get("/healthz").status, 200u);
    EXPECT_EQ(side.get("/v2/").status, 404u) << "the metrics listener serves no API";
    EXPECT_EQ(side.post("/metrics").status, 405u);
    EXPECT_EQ(http().get("/metrics").status, 404u) << "not on the main listener";
    EXPECT_EQ(http().get("/readyz").status, 200u);
    // Requests on the metrics listener are not API traffic: only /readyz and /v2/ on the main
    // one count. (A request is counted just after its response is written, so poll.)
    ASSERT_EQ(http().get("/v2/").status, 200u);
    const std::string ok_other =
        "dermaga_http_requests_total{route=\"other\",method=\"GET\",code=\"200\"}";
    double seen = 0;
    for (int i = 0; i < 100 && seen < 2; ++i) {
        seen = series("\n" + side.get("/metrics").body, ok_other);
        std::this_thread::sleep_for(std::chrono::milliseconds(i ? 10 : 0));
    }
    EXPECT_EQ(seen, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(series("\n" + side.get("/metrics").body, ok_other), 2)
        << "the side listener's scrapes are not counted";
}

class MetricsOffTest : public MetricsTest {
protected:
    void configure(app::Config& c) override { c.metrics_enabled = false; }
};

TEST_F(MetricsOffTest, NoMetricsPageButReadinessStays) {
    EXPECT_EQ(http().get("/metrics").status, 404u);
    EXPECT_EQ(http().get("/readyz").status, 200u);
    EXPECT_EQ(metrics_port(), 0);
}

class MetricsAccessTest : public AuthApiTest {};

TEST_F(MetricsAccessTest, AdministratorsOnlyWhenAccessControlIsOn) {
    add_user("root", true);
    add_user("alice");
    auto anon = http().get("/metrics");
    EXPECT_EQ(anon.status, 401u);
    EXPECT_EQ(anon.header("WWW-Authenticate"), "Basic realm=\"dermaga\"");
    EXPECT_EQ(http().get("/metrics", basic("root", "wrong")).status, 401u);
    EXPECT_TRUE(IsOciError(http().get("/metrics", as("alice")), 403, "DENIED"));
    auto admin = http().get("/metrics", as("root"));
    ASSERT_EQ(admin.status, 200u);
    EXPECT_EQ(http().get("/readyz").status, 200u) << "readiness needs no credentials";
    EXPECT_EQ(http().get("/healthz").status, 200u);
}

TEST_F(MetricsAccessTest, CountsAuthenticationsByMethodAndOutcomeAndTokensIssued) {
    add_user("root", true);
    add_user("bob");
    token(as("bob"), "repository:bob/x:pull");
    ASSERT_EQ(http().get("/v2/", basic("bob", "nope")).status, 401u);
    ASSERT_EQ(http().get("/v2/", basic("org+robot", "dmg_robot_x")).status, 401u);
    ASSERT_EQ(http().get("/v2/", bearer("not.a.jwt")).status, 401u);
    auto page = "\n" + http().get("/metrics", as("root")).body;
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"password\",outcome=\"failure\"}"),
              1)
        << page;
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"robot\",outcome=\"failure\"}"), 1);
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"bearer\",outcome=\"failure\"}"),
              1);
    // bob's /token login, then root's scrape
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"password\",outcome=\"success\"}"),
              2);
    EXPECT_EQ(series(page, "dermaga_auth_tokens_issued_total{kind=\"access\"}"), 1);
}

class LockoutMetricsTest : public AuthApiTest {
protected:
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        c.auth_lockout_threshold = 2;
    }
};

TEST_F(LockoutMetricsTest, CountsLockoutsAndLockedAttempts) {
    add_user("root", true);
    add_user("carol");
    for (int i = 0; i < 3; ++i) {
        http().get("/v2/", basic("carol", "wrong-" + std::to_string(i)));
    }
    auto page = "\n" + http().get("/metrics", as("root")).body;
    EXPECT_EQ(series(page, "dermaga_auth_lockouts_total{key=\"user\"}"), 1) << page;
    EXPECT_TRUE(std::isnan(series(page, "dermaga_auth_lockouts_total{key=\"address\"}")));
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"password\",outcome=\"failure\"}"),
              2);
    EXPECT_EQ(series(page, "dermaga_auth_attempts_total{method=\"password\",outcome=\"locked\"}"),
              1);
}

class PublicMetricsTest : public AuthApiTest {
protected:
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        c.metrics_public = true;
    }
};

TEST_F(PublicMetricsTest, MetricsPublicServesAnonymousScrapes) {
    EXPECT_EQ(http().get("/metrics").status, 200u);
}

}  // namespace
}  // namespace dermaga::test

namespace dermaga::test {
namespace {

TEST(MetricsListenerStart, ATakenPortFailsStartAndLeavesNothingRunning) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto dir = std::filesystem::temp_directory_path() /
                     ("dermaga-metrics-bind-" + std::to_string(::getpid()));
    app::Config c;
    c.http_addr = "127.0.0.1:0";
    c.metrics_addr = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
    c.data_dir = dir.string();
    c.auth_enabled = false;
    c.blocking_threads = 4;
    {
        app::App a(c);
        EXPECT_THROW(a.start(), std::exception);
    }  // destroyed cleanly: no I/O thread was left running (std::terminate otherwise)
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dermaga::test
