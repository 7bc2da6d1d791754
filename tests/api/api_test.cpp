// API suite: base endpoint, health, throttling and concurrent pushes. The other endpoints have
// their own files (blobs_test.cpp, uploads_test.cpp, manifests_test.cpp, listings_test.cpp,
// bad_input_test.cpp); all share the fixture in api_fixture.hpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <latch>
#include <thread>

#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

class Base : public ApiTest {};

TEST_F(Base, GetV2Returns200WithApiVersionHeader) {
    auto r = http().get("/v2/");
    EXPECT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(Base, GetV2WithoutTrailingSlashReturns200) {
    auto r = http().get("/v2");
    EXPECT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(Base, HeadV2Returns200WithApiVersionHeader) {
    auto r = http().head("/v2/");
    EXPECT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
    EXPECT_TRUE(r.body.empty());
}

TEST_F(Base, HealthzReturns200Ok) {
    auto r = http().get("/healthz");
    EXPECT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.body, "ok\n");
}

TEST_F(Base, ErrorResponsesCarryApiVersionHeader) {
    auto r = http().get("/v2/library/blobs/" + absent_digest());
    EXPECT_TRUE(IsOciError(r, 404, "BLOB_UNKNOWN"));
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(Base, ConnectionIsReusedAcrossManyRequests) {
    // One kept-alive connection serves a mix of successes, errors and bodies.
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(http().get("/v2/").status, 200u);
        EXPECT_EQ(http().get("/v2/x/blobs/" + absent_digest()).status, 404u);
        EXPECT_EQ(http().head("/v2/x/manifests/latest").status, 404u);
    }
}

TEST_F(Base, ClientWithoutKeepAliveWorks) {
    HttpClient c("127.0.0.1", port(), KeepAlive::no);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(c.get("/v2/").status, 200u);
    }
}

// One request in flight at most: a second concurrent request is throttled.
class Throttling : public ApiTest {
    void configure(app::Config& c) override {
        c.http_max_inflight = 1;
        c.http_read_timeout = 3;
    }
};

TEST_F(Throttling, RequestBeyondMaxInflightGets429TooManyRequestsWithRetryAfter) {
    const auto location = http().post("/v2/library/app/blobs/uploads/").header("Location");
    ASSERT_FALSE(location.empty());
    // Hold the only slot: a PATCH whose body is still arriving.
    std::thread holder([&] {
        HttpClient::raw_exchange(
            "127.0.0.1", port(),
            "PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
            HttpClient::HalfClose::no, std::chrono::milliseconds(1500));
    });
    HttpResponse r;
    for (int i = 0; i < 100 && r.status != 429; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        r = http().get("/v2/");
    }
    // The distribution-spec error table spells this code TOOMANYREQUESTS (code-14).
    EXPECT_TRUE(IsOciError(r, 429, "TOOMANYREQUESTS"));
    EXPECT_EQ(r.header("Retry-After"), "1");
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
    EXPECT_EQ(http().get("/healthz").status, 200u);  // health checks are never throttled
    holder.join();
    // Once the slot is free again, requests are served.
    HttpResponse after;
    for (int i = 0; i < 200 && after.status != 200; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        after = http().get("/v2/");
    }
    EXPECT_EQ(after.status, 200u) << describe(after);
}

// App lifecycle: stopping while clients come and go.
class Lifecycle : public ApiTest {};

TEST_F(Lifecycle, StopWhileClientsHangUpDoesNotCrash) {
    // Idle keep-alive connections closed by their clients just as the server shuts down: the
    // shutdown must cope with connections that close under it (it once threw from an io thread
    // and terminated the process). Run in a child process so a crash fails only this test.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            for (int round = 0; round < 20; ++round) {
                std::vector<std::unique_ptr<HttpClient>> clients;
                for (int i = 0; i < 16; ++i) {
                    clients.push_back(new_client());
                    clients.back()->get("/v2/");
                }
                clients.clear();
                restart_app();
            }
            TearDown();  // the child exits here: stop the App and remove its data dir
            std::exit(0);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_F(Lifecycle, StopWithIdleKeepAliveConnectionsIsPrompt) {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(new_client());
        ASSERT_EQ(clients.back()->get("/v2/").status, 200u);
    }
    const auto t0 = std::chrono::steady_clock::now();
    restart_app();  // clients still connected and idle
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_LT(ms, 900) << "idle connections held up the shutdown";
    EXPECT_EQ(http().get("/v2/").status, 200u);
}

// Each thread gets ready (its own connection, its upload session) and then waits at a latch,
// so that the requests under test really run at the same time rather than one after another
// as threads happen to start.
class Concurrency : public ApiTest {};

TEST_F(Concurrency, EightThreadsPushingDistinctImagesAllSucceedAndAreListed) {
    constexpr int n = 8;
    std::atomic<int> failures{0};
    std::vector<std::string> digests(n);
    std::vector<std::thread> threads;
    std::latch start_together(n);
    for (int t = 0; t < n; ++t) {
        threads.emplace_back([&, t] {
            auto c = new_client();
            start_together.arrive_and_wait();
            try {
                const std::string repo = "concurrent/img" + std::to_string(t);
                const std::string config = R"({"os":"linux","n":)" + std::to_string(t) + "}";
                const std::string layer =
                    "layer " + std::to_string(t) + std::string(5000 + t, 'a' + t);
                for (const auto& blob : {config, layer}) {
                    // Chunked upload: POST, PATCH, PUT.
                    auto start = c->post("/v2/" + repo + "/blobs/uploads/");
                    auto patch = c->patch(start.header("Location"), blob);
                    auto put =
                        c->put(with_query(patch.header("Location"), "digest=" + sha256(blob)));
                    if (start.status != 202 || patch.status != 202 || put.status != 201) {
                        ++failures;
                    }
                }
                auto manifest =
                    image_manifest(desc_of(oci_config, config), {desc_of(oci_layer, layer)});
                auto put = c->put("/v2/" + repo + "/manifests/v1", manifest,
                                  {{"Content-Type", std::string(oci_manifest)}});
                if (put.status != 201) {
                    ++failures;
                }
                digests[t] = sha256(manifest);
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    ASSERT_EQ(failures.load(), 0);
    auto catalog = get_json("/v2/_catalog");
    std::vector<std::string> repos = catalog["repositories"];
    ASSERT_EQ(repos.size(), static_cast<std::size_t>(n));
    for (int t = 0; t < n; ++t) {
        const std::string repo = "concurrent/img" + std::to_string(t);
        EXPECT_EQ(repos[t], repo);
        auto m = http().get("/v2/" + repo + "/manifests/v1");
        EXPECT_EQ(m.status, 200u);
        EXPECT_EQ(m.header("Docker-Content-Digest"), digests[t]);
        auto tags = get_json("/v2/" + repo + "/tags/list");
        EXPECT_EQ(tags["tags"], json::array({"v1"}));
    }
}

TEST_F(Concurrency, EightThreadsUploadingTheSameBlobAllSucceed) {
    constexpr int n = 8;
    const std::string blob(256 * 1024, 'z');
    const std::string digest = sha256(blob);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    std::latch start_together(n);
    for (int t = 0; t < n; ++t) {
        threads.emplace_back([&] {
            auto c = new_client();
            HttpResponse start;
            try {
                start = c->post("/v2/shared/blobs/uploads/");
            } catch (const std::exception&) {
                ++failures;
            }
            start_together.arrive_and_wait();  // every session open: the eight PUTs race
            try {
                auto put = c->put(with_query(start.header("Location"), "digest=" + digest), blob);
                if (put.status != 201) {
                    ++failures;
                }
            } catch (const std::exception&) {
                ++failures;
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(failures.load(), 0);
    auto r = http().get("/v2/shared/blobs/" + digest);
    EXPECT_EQ(r.status, 200u);
    EXPECT_TRUE(r.body == blob);
}

}  // namespace
}  // namespace dermaga::test
