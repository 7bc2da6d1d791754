// Two nodes on one metadata database and one blob directory: two Apps in this process, each on
// its own port, as a load balancer would see them. What one node does, the other must honour:
// revoked credentials at once, a deleted tag within cache.manifest_max_age, an upload begun
// on one node continued on the other, one writer per upload across both. And when PostgreSQL
// goes away, both answer 503 UNAVAILABLE and recover by themselves.
// PostgreSQL only (ctest runs these in api_suite_postgres): SQLite serves one node.

#include <chrono>
#include <future>
#include <thread>

#include "auth_fixture.hpp"
#include "sql/testing/postgres_server.hpp"

namespace dermaga::test {
namespace {

class TwoNodes : public PeopleApiTest {
protected:
    void configure(app::Config& c) override {
        PeopleApiTest::configure(c);
        c.manifest_cache_max_age = 1;
        // Fail fast while the database is away (the outage test), as an operator of several
        // nodes would configure it.
        c.meta_postgres_connect_timeout = 2;
        c.meta_postgres_statement_timeout = 3;
    }
    void SetUp() override {
        PeopleApiTest::SetUp();
        node_b_ = std::make_unique<app::App>(config_);
        b_port_ = node_b_->start();
        b_ = std::make_unique<HttpClient>("127.0.0.1", b_port_);
    }
    void TearDown() override {
        b_.reset();
        if (node_b_) {
            node_b_->stop();
            node_b_.reset();
        }
        PeopleApiTest::TearDown();
    }
    HttpClient& a() { return http(); }
    HttpClient& b() { return *b_; }

    std::string new_pat(const std::string& user, const std::string& scopes) {
        auto r = a().request("POST", "/api/v1/users/" + user + "/tokens",
                             with(as(user), {"Content-Type", "application/json"}),
                             json{{"name", "ci"}, {"scopes", scopes}}.dump());
        EXPECT_EQ(r.status, 201u) << describe(r);
        auto j = json::parse(r.body, nullptr, false);
        return j.is_object() ? j.value("secret", "") : "";
    }
    static Headers with(Headers h, std::pair<std::string, std::string> extra) {
        h.push_back(std::move(extra));
        return h;
    }

    std::unique_ptr<app::App> node_b_;
    std::unique_ptr<HttpClient> b_;
    std::uint16_t b_port_ = 0;
};

TEST_F(TwoNodes, ARevokedTokenStopsWorkingOnTheOtherNodeAtOnce) {
    const auto pat = new_pat("alice", "pull push");
    auto tok =
        b().get("/token?service=dermaga&scope=repository:alice/app:pull,push", basic("alice", pat));
    ASSERT_EQ(tok.status, 200u) << describe(tok);
    const auto t = bearer(json::parse(tok.body)["token"].get<std::string>());
    // Both remembered on node b: the Basic check and the verified bearer token.
    ASSERT_EQ(b().post("/v2/alice/app/blobs/uploads/", {}, basic("alice", pat)).status, 202u);
    ASSERT_EQ(b().post("/v2/alice/app/blobs/uploads/", {}, t).status, 202u);

    auto del = a().del("/api/v1/users/alice/tokens/ci", as("alice"));
    ASSERT_EQ(del.status, 204u) << describe(del);

    EXPECT_EQ(b().post("/v2/alice/app/blobs/uploads/", {}, basic("alice", pat)).status, 401u);
    EXPECT_EQ(b().post("/v2/alice/app/blobs/uploads/", {}, t).status, 401u);
}

TEST_F(TwoNodes, ADisabledAccountIsRefusedOnTheOtherNodeAtOnce) {
    ASSERT_EQ(b().get("/v2/alice/app/tags/list", as("alice")).status, 404u)
        << "alice may read, nothing there";
    auto r = a().request("PATCH", "/api/v1/users/alice",
                         with(as("root"), {"Content-Type", "application/json"}),
                         json{{"disabled", true}}.dump());
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(b().get("/v2/alice/app/tags/list", as("alice")).status, 401u);
}

TEST_F(TwoNodes, ATagDeletedOnOneNodeIsGoneOnTheOtherWithinTheCacheBound) {
    auto img = push_image_as(as("alice"), "alice/app", "v1", "one");
    for (int i = 0; i < 3; ++i) {  // read, then served from node b's cache
        ASSERT_EQ(b().get("/v2/alice/app/manifests/v1", as("alice")).status, 200u);
    }
    auto del = a().del("/v2/alice/app/manifests/v1", as("alice"));
    ASSERT_EQ(del.status, 202u) << describe(del);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // cache.manifest_max_age: 1 s
    EXPECT_TRUE(
        IsOciError(b().get("/v2/alice/app/manifests/v1", as("alice")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_EQ(b().get("/v2/alice/app/manifests/" + img.digest, as("alice")).status, 200u)
        << "deleting a tag leaves the manifest";
}

TEST_F(TwoNodes, AChunkedUploadHopsNodes) {
    const std::string one(70000, 'a'), two(50000, 'b'), three = "end";
    auto start = a().post("/v2/alice/big/blobs/uploads/", {}, as("alice"));
    ASSERT_EQ(start.status, 202u) << describe(start);
    const auto loc = start.header("Location");
    auto chunk = [&](HttpClient& node, const std::string& bytes, std::size_t at) {
        auto h = with(as("alice"), {"Content-Range", std::to_string(at) + "-" +
                                                         std::to_string(at + bytes.size() - 1)});
        h.emplace_back("Content-Type", "application/octet-stream");
        return node.patch(loc, bytes, h);
    };
    ASSERT_EQ(chunk(b(), one, 0).status, 202u);
    auto second = chunk(a(), two, one.size());
    ASSERT_EQ(second.status, 202u) << describe(second);
    EXPECT_EQ(second.header("Range"), "0-" + std::to_string(one.size() + two.size() - 1));
    const auto digest = sha256(one + two + three);
    auto put = b().put(with_query(loc, "digest=" + digest), three,
                       with(as("alice"), {"Content-Type", "application/octet-stream"}));
    ASSERT_EQ(put.status, 201u) << describe(put);
    EXPECT_EQ(a().get("/v2/alice/big/blobs/" + digest, as("alice")).body, one + two + three);
}

TEST_F(TwoNodes, ConcurrentPatchesOnTwoNodesNeverMixTheirBytes) {
    auto start = a().post("/v2/alice/race/blobs/uploads/", {}, as("alice"));
    ASSERT_EQ(start.status, 202u);
    const auto loc = start.header("Location");
    const std::string x(8 << 20, 'x'), y(8 << 20, 'y');
    auto send = [&](std::uint16_t port, const std::string& bytes) {
        HttpClient c("127.0.0.1", port);
        auto h = with(as("alice"), {"Content-Range", "0-" + std::to_string(bytes.size() - 1)});
        h.emplace_back("Content-Type", "application/octet-stream");
        return c.patch(loc, bytes, h).status;
    };
    auto fa = std::async(std::launch::async, send, port(), std::cref(x));
    auto fb = std::async(std::launch::async, send, b_port_, std::cref(y));
    const unsigned sa = fa.get(), sb = fb.get();
    // Exactly one wins; the other is told the upload is busy (400) or no longer at 0 (416).
    EXPECT_EQ((sa == 202u) + (sb == 202u), 1) << sa << " " << sb;
    const std::string& winner = sa == 202u ? x : y;
    auto put = b().put(with_query(loc, "digest=" + sha256(winner)), {}, as("alice"));
    ASSERT_EQ(put.status, 201u) << describe(put);
    EXPECT_EQ(a().get("/v2/alice/race/blobs/" + sha256(winner), as("alice")).body == winner, true);
}

TEST_F(TwoNodes, ADatabaseOutageAnswers503UnavailableAndHealsByItself) {
    push_image_as(as("alice"), "alice/app", "v1", "one");
    auto& pg = sql::testing::PostgresServer::shared();
    pg.stop();
    for (HttpClient* node : {&a(), &b()}) {
        EXPECT_TRUE(
            IsOciError(node->get("/v2/alice/app/tags/list", as("alice")), 503, "UNAVAILABLE"));
        EXPECT_EQ(node->get("/readyz").status, 503u);
        EXPECT_EQ(node->get("/healthz").status, 200u) << "alive, only not ready";
    }
    pg.start();
    for (HttpClient* node : {&a(), &b()}) {
        unsigned ready = 0;
        for (int i = 0; i < 100 && ready != 200u; ++i) {
            ready = node->get("/readyz").status;
            if (ready != 200u) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        EXPECT_EQ(ready, 200u);
        EXPECT_EQ(node->get("/v2/alice/app/tags/list", as("alice")).status, 200u);
    }
}

}  // namespace
}  // namespace dermaga::test
