// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

class Blobs : public ApiTest {
protected:
    const std::string data_ = "0123456789abcdefghij";  // 20 bytes
    std::string digest_;
    std::string url_;

    void SetUp() override {
        ApiTest::SetUp();
        digest_ = push_blob("library/app", data_);
        url_ = "/v2/library/app/blobs/" + digest_;
    }
};

TEST_F(Blobs, GetReturnsBytesWithContentLengthAndDigest) {
    auto r = http().get(url_);
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.body, data_);
    EXPECT_EQ(r.header("Content-Length"), "20");
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest_);
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
}

TEST_F(Blobs, HeadReturnsContentLengthAndDigestWithoutBody) {
    auto r = http().head(url_);
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.header("Content-Length"), "20");
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest_);
    // The connection stays usable after a HEAD (no stray body bytes).
    EXPECT_EQ(http().get(url_).body, data_);
}

TEST_F(Blobs, RangeRequestReturns206WithContentRange) {
    auto r = http().get(url_, {{"Range", "bytes=2-5"}});
    ASSERT_EQ(r.status, 206u) << describe(r);
    EXPECT_EQ(r.body, "2345");
    EXPECT_EQ(r.header("Content-Range"), "bytes 2-5/20");
    EXPECT_EQ(r.header("Content-Length"), "4");
}

TEST_F(Blobs, OpenEndedRangeReturnsTheRest) {
    auto r = http().get(url_, {{"Range", "bytes=15-"}});
    ASSERT_EQ(r.status, 206u) << describe(r);
    EXPECT_EQ(r.body, "fghij");
    EXPECT_EQ(r.header("Content-Range"), "bytes 15-19/20");
}

TEST_F(Blobs, SuffixRangeReturnsTheLastBytes) {
    auto r = http().get(url_, {{"Range", "bytes=-3"}});
    ASSERT_EQ(r.status, 206u) << describe(r);
    EXPECT_EQ(r.body, "hij");
    EXPECT_EQ(r.header("Content-Range"), "bytes 17-19/20");
}

TEST_F(Blobs, RangePastTheEndIsClampedToTheBlob) {
    auto r = http().get(url_, {{"Range", "bytes=18-1000"}});
    ASSERT_EQ(r.status, 206u) << describe(r);
    EXPECT_EQ(r.body, "ij");
    EXPECT_EQ(r.header("Content-Range"), "bytes 18-19/20");
}

TEST_F(Blobs, UnsatisfiableRangeReturns416WithContentRange) {
    for (const char* range : {"bytes=20-", "bytes=25-30", "bytes=-0"}) {
        auto r = http().get(url_, {{"Range", range}});
        EXPECT_EQ(r.status, 416u) << range << "\n" << describe(r);
        EXPECT_EQ(r.header("Content-Range"), "bytes */20") << range;
    }
}

TEST_F(Blobs, MalformedRangeReturns416) {
    for (const char* range : {"bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,4-5", "bytes="}) {
        auto r = http().get(url_, {{"Range", range}});
        EXPECT_EQ(r.status, 416u) << range << "\n" << describe(r);
    }
    EXPECT_EQ(http().get(url_).body, data_);
}

TEST_F(Blobs, UnknownBlobReturns404BlobUnknown) {
    auto r = http().get("/v2/library/app/blobs/" + absent_digest());
    EXPECT_TRUE(IsOciError(r, 404, "BLOB_UNKNOWN"));
    EXPECT_EQ(http().head("/v2/library/app/blobs/" + absent_digest()).status, 404u);
}

TEST_F(Blobs, BlobOfAnotherRepositoryIsNotServed) {
    auto r = http().get("/v2/library/other/blobs/" + digest_);
    EXPECT_TRUE(IsOciError(r, 404, "BLOB_UNKNOWN"));
    EXPECT_EQ(http().head("/v2/library/other/blobs/" + digest_).status, 404u);
    EXPECT_EQ(http().get("/v2/library/blobs/" + digest_).status, 404u);
    EXPECT_EQ(http().get("/v2/library/app/sub/blobs/" + digest_).status, 404u);
}

TEST_F(Blobs, DeleteReturns202ThenGetReturns404) {
    auto d = http().del(url_);
    EXPECT_EQ(d.status, 202u) << describe(d);
    EXPECT_TRUE(IsOciError(http().get(url_), 404, "BLOB_UNKNOWN"));
    EXPECT_EQ(http().head(url_).status, 404u);
    EXPECT_TRUE(IsOciError(http().del(url_), 404, "BLOB_UNKNOWN"));
}

TEST_F(Blobs, DeleteInOneRepositoryLeavesOtherRepositoriesServing) {
    push_blob("library/second", data_);
    ASSERT_EQ(http().del(url_).status, 202u);
    auto r = http().get("/v2/library/second/blobs/" + digest_);
    EXPECT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.body, data_);
}

TEST_F(Blobs, DeletedBlobCanBePushedAgain) {
    ASSERT_EQ(http().del(url_).status, 202u);
    push_blob("library/app", data_);
    EXPECT_EQ(http().get(url_).body, data_);
}

TEST_F(Blobs, EmptyBlobRoundTrips) {
    const auto d = push_blob("library/app", "");
    auto r = http().get("/v2/library/app/blobs/" + d);
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Content-Length"), "0");
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Blobs, MultiMegabyteBlobRoundTripsByteForByte) {
    std::string big(3 * 1024 * 1024 + 17, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    const auto d = push_blob("library/big", big);
    auto r = http().get("/v2/library/big/blobs/" + d);
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.body.size(), big.size());
    EXPECT_TRUE(r.body == big);
    auto part = http().get("/v2/library/big/blobs/" + d, {{"Range", "bytes=1048570-1048589"}});
    ASSERT_EQ(part.status, 206u);
    EXPECT_EQ(part.body, big.substr(1048570, 20));
}

}  // namespace
}  // namespace dermaga::test
