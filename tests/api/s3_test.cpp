// What only blobs on S3 show through the API (the suite runs on S3 when DERMAGA_TEST_S3_* is
// set, see tests/servers/rgw-env.sh; these cases exist only then): an upload continued on a
// second node, large blobs streamed with ranges, presigned redirects, and an unreachable S3.
#include <cstdlib>

#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

bool on_s3() {
    const char* e = std::getenv("DERMAGA_TEST_S3_ENDPOINT");
    return e != nullptr && *e != '\0';
}

std::string pattern(std::size_t n, unsigned seed = 7) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 13);
    return s;
}

class S3Api : public ApiTest, public ::testing::WithParamInterface<int> {};

TEST_P(S3Api, AChunkedUploadBegunOnOneNodeFinishesOnAnother) {
    // A second node: its own App (process state, hash cache) over the same metadata and bucket.
    app::App other(config_);
    HttpClient node_b("127.0.0.1", other.start());
    const auto data = pattern(13 * 1024 * 1024 + 5);
    const auto digest = sha256(data);
    auto start = http().post("/v2/ha/app/blobs/uploads/");
    ASSERT_EQ(start.status, 202u) << describe(start);
    auto loc = start.header("Location");
    const std::size_t cuts[] = {0, 3 * 1024 * 1024, 9 * 1024 * 1024 + 1, data.size()};
    for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
        auto& node = i % 2 == 0 ? http() : node_b;  // alternate nodes, chunks smaller and larger than a part
        auto r = node.patch(loc, std::string_view(data).substr(cuts[i], cuts[i + 1] - cuts[i]),
                            {{"Content-Range", std::to_string(cuts[i]) + "-" + std::to_string(cuts[i + 1] - 1)},
                             {"Content-Type", "application/octet-stream"}});
        ASSERT_EQ(r.status, 202u) << "chunk " << i << ": " << describe(r);
        EXPECT_EQ(r.header("Range"), "0-" + std::to_string(cuts[i + 1] - 1));
        loc = r.header("Location");
    }
    auto status = node_b.get(loc);
    EXPECT_EQ(status.header("Range"), "0-" + std::to_string(data.size() - 1)) << "the other node sees the progress";
    auto done = node_b.put(with_query(loc, "digest=" + digest));
    ASSERT_EQ(done.status, 201u) << describe(done);
    auto got = http().get("/v2/ha/app/blobs/" + digest);
    ASSERT_EQ(got.status, 200u);
    EXPECT_TRUE(got.body == data) << "bytes differ";
    other.stop();
}

TEST_P(S3Api, LargeBlobsStreamWithRangesAcrossPieces) {
    const auto data = pattern(9 * 1024 * 1024 + 333, 3);
    const auto digest = push_blob("big/app", data);
    auto url = "/v2/big/app/blobs/" + digest;
    auto all = http().get(url);
    ASSERT_EQ(all.status, 200u) << describe(all);
    EXPECT_TRUE(all.body == data);
    const std::uint64_t first = 4 * 1024 * 1024 - 10, last = 8 * 1024 * 1024 + 10;  // crosses two pieces
    auto part = http().get(url, {{"Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}});
    ASSERT_EQ(part.status, 206u) << describe(part);
    EXPECT_TRUE(part.body == data.substr(first, last - first + 1));
    auto head = http().head(url);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(data.size()));
}

class S3Redirect : public S3Api {
protected:
    void configure(app::Config& c) override {
        c.s3_redirect = true;
        c.s3_redirect_expiry = 60;
    }
};

TEST_P(S3Redirect, PullsGetAPresignedUrlThatServesTheBytes) {
    const auto data = pattern(200 * 1024, 5);
    const auto digest = push_blob("redir/app", data);
    auto r = http().get("/v2/redir/app/blobs/" + digest);
    ASSERT_EQ(r.status, 307u) << describe(r);
    const auto location = r.header("Location");
    ASSERT_TRUE(location.starts_with("http://127.0.0.1:")) << location;
    EXPECT_NE(location.find("X-Amz-Signature="), std::string::npos);
    EXPECT_NE(location.find("X-Amz-Expires=60"), std::string::npos);
    const auto hostport = location.substr(7, location.find('/', 7) - 7);
    HttpClient s3("127.0.0.1", static_cast<std::uint16_t>(std::stoi(hostport.substr(hostport.find(':') + 1))));
    auto bytes = s3.get(location.substr(location.find('/', 7)));
    ASSERT_EQ(bytes.status, 200u) << describe(bytes);
    EXPECT_TRUE(bytes.body == data);
    EXPECT_EQ(http().head("/v2/redir/app/blobs/" + digest).status, 200u) << "HEAD is answered, not redirected";
    EXPECT_EQ(http().get("/v2/other/app/blobs/" + digest).status, 404u) << "no URL for a repository without it";
}

class S3Down : public S3Api {
protected:
    void configure(app::Config& c) override {
        c.s3_endpoint = "http://127.0.0.1:1";  // nothing listens there
        c.s3_attempts = 2;
        c.s3_create_bucket = false;
    }
};

TEST_P(S3Down, AnUnreachableS3Gives503WithoutItsDetails) {
    auto start = http().post("/v2/down/app/blobs/uploads/");
    ASSERT_EQ(start.status, 202u) << "nothing is stored before the first byte";
    auto data = pattern(5 * 1024 * 1024 + 1);
    auto r = http().patch(start.header("Location"), data, {{"Content-Type", "application/octet-stream"}});
    EXPECT_EQ(r.status, 503u) << describe(r);
    EXPECT_NE(r.body.find("UNAVAILABLE"), std::string::npos) << r.body;
    for (const char* leak : {"127.0.0.1", "s3", "S3", "curl", "Connection refused"}) {
        EXPECT_EQ(r.body.find(leak), std::string::npos) << "leaks " << leak << ": " << r.body;
    }
}

const std::vector<int> when_on_s3 = on_s3() ? std::vector<int>{0} : std::vector<int>{};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(S3Api);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(S3Redirect);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(S3Down);
INSTANTIATE_TEST_SUITE_P(OnS3, S3Api, ::testing::ValuesIn(when_on_s3));
INSTANTIATE_TEST_SUITE_P(OnS3, S3Redirect, ::testing::ValuesIn(when_on_s3));
INSTANTIATE_TEST_SUITE_P(OnS3, S3Down, ::testing::ValuesIn(when_on_s3));

}  // namespace
}  // namespace dermaga::test
