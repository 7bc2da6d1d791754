// Blob uploads under /v2/<name>/blobs/uploads/: POST, PATCH, PUT, GET, DELETE, mounts.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

class Uploads : public ApiTest {
protected:
    /// POST a new upload in `repo`; returns its Location.
    std::string start(std::string_view repo = "library/app") {
        auto r = http().post("/v2/" + std::string(repo) + "/blobs/uploads/");
        EXPECT_EQ(r.status, 202u) << describe(r);
        return r.header("Location");
    }
    HttpResponse patch(const std::string& location, std::string_view chunk,
                       std::string range = {}) {
        Headers h{{"Content-Type", "application/octet-stream"}};
        if (!range.empty()) {
            h.emplace_back("Content-Range", range);
        }
        return http().patch(location, chunk, h);
    }
    void expect_blob(std::string_view repo, const std::string& digest, const std::string& bytes) {
        auto r = http().get("/v2/" + std::string(repo) + "/blobs/" + digest);
        EXPECT_EQ(r.status, 200u) << describe(r);
        EXPECT_TRUE(r.body == bytes) << "blob content differs";
        EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    }
};

TEST_F(Uploads, PostReturns202WithLocationAndUploadUuid) {
    auto r = http().post("/v2/library/app/blobs/uploads/");
    ASSERT_EQ(r.status, 202u) << describe(r);
    const auto location = r.header("Location");
    const auto uuid = r.header("Docker-Upload-UUID");
    EXPECT_FALSE(uuid.empty());
    EXPECT_EQ(location, "/v2/library/app/blobs/uploads/" + uuid);
    EXPECT_EQ(r.header("Range"), "0-0");
    EXPECT_EQ(r.header("Content-Length"), "0");
    // Two sessions never share an id.
    EXPECT_NE(http().post("/v2/library/app/blobs/uploads/").header("Docker-Upload-UUID"), uuid);
}

TEST_F(Uploads, PostWithoutTrailingSlashAlsoStartsAnUpload) {
    auto r = http().post("/v2/library/app/blobs/uploads");
    EXPECT_EQ(r.status, 202u) << describe(r);
    EXPECT_FALSE(r.header("Location").empty());
}

TEST_F(Uploads, MonolithicPostThenPutCreatesBlob) {
    const std::string data = "monolithic blob";
    const auto digest = sha256(data);
    auto location = start();
    auto r = http().put(with_query(location, "digest=" + digest), data,
                        {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Location"), "/v2/library/app/blobs/" + digest);
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    expect_blob("library/app", digest, data);
    // The returned blob Location is usable as given.
    EXPECT_EQ(http().get(r.header("Location")).body, data);
}

TEST_F(Uploads, SinglePostWithDigestCreatesBlob) {
    const std::string data = "single post blob";
    const auto digest = sha256(data);
    auto r = http().post("/v2/library/app/blobs/uploads/?digest=" + digest, data,
                         {{"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Location"), "/v2/library/app/blobs/" + digest);
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    expect_blob("library/app", digest, data);
}

TEST_F(Uploads, SinglePostWithWrongDigestReturns400DigestInvalid) {
    const std::string data = "single post blob";
    const auto wrong = sha256("something else");
    auto r = http().post("/v2/library/app/blobs/uploads/?digest=" + wrong, data);
    EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
    EXPECT_EQ(http().head("/v2/library/app/blobs/" + wrong).status, 404u);
    EXPECT_EQ(http().head("/v2/library/app/blobs/" + sha256(data)).status, 404u);
}

TEST_F(Uploads, ChunkedPatchWithContentRangeThenPutCompletes) {
    const std::string data = "chunk-one|chunk-two|chunk-3";
    const auto digest = sha256(data);
    auto location = start();
    std::size_t off = 0;
    for (std::size_t len : {10u, 10u, 7u}) {
        auto r = patch(location, data.substr(off, len),
                       std::to_string(off) + "-" + std::to_string(off + len - 1));
        ASSERT_EQ(r.status, 202u) << describe(r);
        off += len;
        EXPECT_EQ(r.header("Range"), "0-" + std::to_string(off - 1));
        EXPECT_FALSE(r.header("Docker-Upload-UUID").empty());
        EXPECT_EQ(r.header("Content-Length"), "0");
        location = r.header("Location");  // clients use the latest Location
        ASSERT_FALSE(location.empty());
    }
    auto done = http().put(with_query(location, "digest=" + digest));
    ASSERT_EQ(done.status, 201u) << describe(done);
    EXPECT_EQ(done.header("Docker-Content-Digest"), digest);
    expect_blob("library/app", digest, data);
}

TEST_F(Uploads, StreamedPatchWithoutContentRangeThenPutCompletes) {
    const std::string a(700 * 1024, 'a');
    const std::string b(900 * 1024, 'b');
    const auto digest = sha256(a + b);
    auto location = start();
    auto r1 = patch(location, a);
    ASSERT_EQ(r1.status, 202u) << describe(r1);
    EXPECT_EQ(r1.header("Range"), "0-" + std::to_string(a.size() - 1));
    auto r2 = patch(r1.header("Location"), b);
    ASSERT_EQ(r2.status, 202u) << describe(r2);
    EXPECT_EQ(r2.header("Range"), "0-" + std::to_string(a.size() + b.size() - 1));
    auto done = http().put(with_query(r2.header("Location"), "digest=" + digest));
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/app", digest, a + b);
}

TEST_F(Uploads, PatchWithChunkedTransferEncodingIsAccepted) {
    const std::string data(100 * 1024, 'c');
    auto location = start();
    auto r = http().request("PATCH", location, {{"Content-Type", "application/octet-stream"}}, data,
                            Framing::chunked);
    ASSERT_EQ(r.status, 202u) << describe(r);
    EXPECT_EQ(r.header("Range"), "0-" + std::to_string(data.size() - 1));
    auto done = http().put(with_query(r.header("Location"), "digest=" + sha256(data)));
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/app", sha256(data), data);
}

TEST_F(Uploads, FinalChunkMayComeWithThePut) {
    const std::string data = "first part|last part";
    const auto digest = sha256(data);
    auto location = start();
    auto r = patch(location, data.substr(0, 11), "0-10");
    ASSERT_EQ(r.status, 202u) << describe(r);
    auto done = http().put(with_query(r.header("Location"), "digest=" + digest), data.substr(11),
                           {{"Content-Range", "11-" + std::to_string(data.size() - 1)},
                            {"Content-Type", "application/octet-stream"}});
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/app", digest, data);
}

TEST_F(Uploads, OutOfOrderPatchReturns416WithCurrentRange) {
    const std::string data = "0123456789";
    auto location = start();
    ASSERT_EQ(patch(location, data.substr(0, 4), "0-3").status, 202u);
    auto bad = patch(location, data.substr(6, 4), "6-9");
    EXPECT_EQ(bad.status, 416u) << describe(bad);
    EXPECT_EQ(bad.header("Range"), "0-3");
    EXPECT_EQ(bad.header("Location"), location);
    auto repeat = patch(location, data.substr(0, 4), "0-3");  // a chunk sent twice
    EXPECT_EQ(repeat.status, 416u) << describe(repeat);
    // The upload goes on from the last valid offset.
    auto status = http().get(location);
    EXPECT_EQ(status.status, 204u);
    EXPECT_EQ(status.header("Range"), "0-3");
    ASSERT_EQ(patch(location, data.substr(4), "4-9").status, 202u);
    auto done = http().put(with_query(location, "digest=" + sha256(data)));
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/app", sha256(data), data);
}

TEST_F(Uploads, ContentRangeDisagreeingWithContentLengthReturns416) {
    auto location = start();
    auto r = patch(location, "abcd", "0-9");
    EXPECT_EQ(r.status, 416u) << describe(r);
    auto malformed = patch(location, "abcd", "zero-three");
    EXPECT_EQ(malformed.status, 416u) << describe(malformed);
}

TEST_F(Uploads, GetStatusReturns204WithRangeAndLocation) {
    auto location = start();
    ASSERT_EQ(patch(location, "hello").status, 202u);
    auto r = http().get(location);
    EXPECT_EQ(r.status, 204u) << describe(r);
    EXPECT_EQ(r.header("Range"), "0-4");
    EXPECT_EQ(r.header("Location"), location);
    EXPECT_TRUE(r.body.empty());
}

TEST_F(Uploads, DeleteCancelsTheUpload) {
    auto location = start();
    ASSERT_EQ(patch(location, "doomed").status, 202u);
    auto d = http().del(location);
    EXPECT_EQ(d.status, 204u) << describe(d);
    EXPECT_TRUE(IsOciError(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(patch(location, "more"), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().put(with_query(location, "digest=" + sha256("doomed"))), 404,
                           "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().del(location), 404, "BLOB_UPLOAD_UNKNOWN"));
}

TEST_F(Uploads, WrongDigestOnPutReturns400AndDiscardsTheUpload) {
    const std::string data = "content";
    auto location = start();
    ASSERT_EQ(patch(location, data).status, 202u);
    const auto wrong = sha256("other content");
    auto r = http().put(with_query(location, "digest=" + wrong));
    EXPECT_TRUE(IsOciError(r, 400, "DIGEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().put(with_query(location, "digest=" + sha256(data))), 404,
                           "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_EQ(http().head("/v2/library/app/blobs/" + wrong).status, 404u);
    EXPECT_EQ(http().head("/v2/library/app/blobs/" + sha256(data)).status, 404u);
}

TEST_F(Uploads, UploadIdIsUnknownInAnotherRepository) {
    auto location = start("library/app");
    const auto id = location.substr(location.rfind('/') + 1);
    ASSERT_EQ(patch(location, "abc").status, 202u);
    const std::string other = "/v2/library/other/blobs/uploads/" + id;
    EXPECT_TRUE(IsOciError(http().get(other), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(patch(other, "def"), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().put(with_query(other, "digest=" + sha256("abc"))), 404,
                           "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().del(other), 404, "BLOB_UPLOAD_UNKNOWN"));
    // The session in its own repository is untouched.
    auto status = http().get(location);
    EXPECT_EQ(status.status, 204u);
    EXPECT_EQ(status.header("Range"), "0-2");
    ASSERT_EQ(http().put(with_query(location, "digest=" + sha256("abc"))).status, 201u);
    EXPECT_EQ(http().head("/v2/library/other/blobs/" + sha256("abc")).status, 404u);
}

TEST_F(Uploads, UnknownUploadIdReturns404BlobUploadUnknown) {
    const std::string location = "/v2/library/app/blobs/uploads/0123456789abcdef0123456789abcdef";
    EXPECT_TRUE(IsOciError(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(patch(location, "x"), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().put(with_query(location, "digest=" + sha256("x"))), 404,
                           "BLOB_UPLOAD_UNKNOWN"));
}

TEST_F(Uploads, PutWithoutDigestReturns400DigestInvalid) {
    auto location = start();
    ASSERT_EQ(patch(location, "abc").status, 202u);
    EXPECT_TRUE(IsOciError(http().put(location), 400, "DIGEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().put(with_query(location, "digest=sha256:nothex")), 400,
                           "DIGEST_INVALID"));
}

TEST_F(Uploads, Sha512DigestsWork) {
    const std::string data = "hashed with sha512";
    const auto digest = sha512(data);
    // POST then PUT.
    auto location = start();
    auto r = http().put(with_query(location, "digest=" + digest), data);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    EXPECT_EQ(r.header("Location"), "/v2/library/app/blobs/" + digest);
    expect_blob("library/app", digest, data);
    // Chunked.
    const std::string chunked = "first half, second half";
    auto loc2 = start();
    ASSERT_EQ(patch(loc2, chunked.substr(0, 11), "0-10").status, 202u);
    ASSERT_EQ(patch(loc2, chunked.substr(11), "11-" + std::to_string(chunked.size() - 1)).status,
              202u);
    ASSERT_EQ(http().put(with_query(loc2, "digest=" + sha512(chunked))).status, 201u);
    expect_blob("library/app", sha512(chunked), chunked);
    // Single POST, and a wrong sha512.
    ASSERT_EQ(http()
                  .post("/v2/library/app/blobs/uploads/?digest=" + sha512("one shot"), "one shot")
                  .status,
              201u);
    expect_blob("library/app", sha512("one shot"), "one shot");
    EXPECT_TRUE(IsOciError(http().post("/v2/library/app/blobs/uploads/?digest=" + sha512("x"), "y"),
                           400, "DIGEST_INVALID"));
}

TEST_F(Uploads, UploadResumesAcrossRestart) {
    const std::string data = std::string(300 * 1024, 'r') + "tail after restart";
    const auto digest = sha256(data);
    auto location = start();
    ASSERT_EQ(
        patch(location, data.substr(0, 300 * 1024), "0-" + std::to_string(300 * 1024 - 1)).status,
        202u);

    restart_app();

    auto status = http().get(location);
    ASSERT_EQ(status.status, 204u) << describe(status);
    EXPECT_EQ(status.header("Range"), "0-" + std::to_string(300 * 1024 - 1));
    auto r = patch(status.header("Location"), data.substr(300 * 1024),
                   std::to_string(300 * 1024) + "-" + std::to_string(data.size() - 1));
    ASSERT_EQ(r.status, 202u) << describe(r);
    auto done = http().put(with_query(r.header("Location"), "digest=" + digest));
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/app", digest, data);
}

TEST_F(Uploads, CompletedBlobsSurviveRestart) {
    const auto digest = push_blob("library/app", "durable");
    restart_app();
    expect_blob("library/app", digest, "durable");
}

TEST_F(Uploads, MountFromRepositoryHoldingTheBlobReturns201) {
    const std::string data = "shared layer";
    const auto digest = push_blob("library/source", data);
    auto r =
        http().post("/v2/library/target/blobs/uploads/?mount=" + digest + "&from=library/source");
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Location"), "/v2/library/target/blobs/" + digest);
    EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
    expect_blob("library/target", digest, data);
    EXPECT_EQ(http().get(r.header("Location")).body, data);
}

TEST_F(Uploads, MountFallsBackTo202WhenTheSourceLacksTheBlob) {
    const std::string data = "not in source";
    const auto digest = sha256(data);
    push_blob("library/elsewhere", data);  // present in the registry, but not in `from`
    auto r =
        http().post("/v2/library/target/blobs/uploads/?mount=" + digest + "&from=library/source");
    ASSERT_EQ(r.status, 202u) << describe(r);
    ASSERT_FALSE(r.header("Location").empty());
    EXPECT_EQ(http().head("/v2/library/target/blobs/" + digest).status, 404u);
    // The fallback session is a normal upload.
    auto done = http().put(with_query(r.header("Location"), "digest=" + digest), data);
    ASSERT_EQ(done.status, 201u) << describe(done);
    expect_blob("library/target", digest, data);
}

// Automatic content discovery: without `from`, a blob held by any repository (all are readable
// in an open registry) is mounted; an unknown one opens a normal upload.
TEST_F(Uploads, MountWithoutFromMountsABlobHeldElsewhere) {
    const auto digest = push_blob("library/source", "x");
    auto r = http().post("/v2/library/target/blobs/uploads/?mount=" + digest);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Location"), "/v2/library/target/blobs/" + digest);
    expect_blob("library/target", digest, "x");

    const auto unknown = absent_digest("discovery");
    auto u = http().post("/v2/library/target/blobs/uploads/?mount=" + unknown);
    EXPECT_EQ(u.status, 202u) << describe(u);
    EXPECT_FALSE(u.header("Location").empty());
}

TEST_F(Uploads, LocationHeadersAreRelativeAndUsableAsGiven) {
    const std::string data = "follow the locations";
    auto post = http().post("/v2/library/app/blobs/uploads/");
    ASSERT_EQ(post.status, 202u);
    EXPECT_EQ(post.header("Location").rfind("/v2/", 0), 0u) << post.header("Location");
    auto p1 = http().patch(post.header("Location"), data.substr(0, 6));
    ASSERT_EQ(p1.status, 202u) << describe(p1);
    auto st = http().get(p1.header("Location"));
    ASSERT_EQ(st.status, 204u) << describe(st);
    auto p2 = http().patch(st.header("Location"), data.substr(6));
    ASSERT_EQ(p2.status, 202u) << describe(p2);
    auto put = http().put(with_query(p2.header("Location"), "digest=" + sha256(data)));
    ASSERT_EQ(put.status, 201u) << describe(put);
    EXPECT_EQ(put.header("Location").rfind("/v2/", 0), 0u);
    EXPECT_EQ(http().get(put.header("Location")).body, data);
}

TEST_F(Uploads, PushingAnExistingBlobAgainSucceeds) {
    const auto d1 = push_blob("library/app", "same bytes");
    const auto d2 = push_blob("library/app", "same bytes");
    EXPECT_EQ(d1, d2);
    expect_blob("library/app", d1, "same bytes");
}

TEST_F(Uploads, SequentialPatchesWithoutContentRangeAppendInOrder) {
    auto location = start();
    ASSERT_EQ(patch(location, "AAAA").status, 202u);
    ASSERT_EQ(patch(location, "BBBB").status, 202u);
    ASSERT_EQ(http().put(with_query(location, "digest=" + sha256("AAAABBBB"))).status, 201u);
    expect_blob("library/app", sha256("AAAABBBB"), "AAAABBBB");
}

// Upload sessions expire when idle for longer than limits.upload_expiry.
class UploadExpiry : public Uploads {
    void configure(app::Config& c) override { c.upload_expiry = 2; }
};

TEST_F(UploadExpiry, IdleUploadExpires) {
    auto location = start();
    ASSERT_EQ(patch(location, "abc").status, 202u);
    std::this_thread::sleep_for(std::chrono::milliseconds(3200));
    EXPECT_TRUE(IsOciError(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(patch(location, "def"), 404, "BLOB_UPLOAD_UNKNOWN"));
}

// The background sweep of the running server (every tenth of the expiry, at least every
// second): an idle session nobody asks about again loses its file, and so does an old upload file
// no session refers to. No request touches either, so only the sweep can remove them.
TEST_F(UploadExpiry, BackgroundSweepRemovesIdleSessionsAndStrayFiles) {
    namespace fs = std::filesystem;
    auto location = start();
    ASSERT_EQ(patch(location, "abc").status, 202u);
    const std::string id = location.substr(location.rfind('/') + 1);
    const fs::path uploads = fs::path(config_.blob_root()) / "uploads";
    ASSERT_TRUE(fs::exists(uploads / id)) << uploads / id;
    const fs::path stray = uploads / "stray0123456789abcdef";
    std::ofstream(stray) << "left by a crash";
    fs::last_write_time(stray, fs::file_time_type::clock::now() - std::chrono::minutes(2));
    auto live = start();  // kept busy below: the sweep must leave it alone
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    while ((fs::exists(uploads / id) || fs::exists(stray)) &&
           std::chrono::steady_clock::now() < deadline) {
        ASSERT_EQ(patch(live, "x").status, 202u);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_FALSE(fs::exists(uploads / id)) << "idle session's file still there";
    EXPECT_FALSE(fs::exists(stray)) << "stray upload file still there";
    EXPECT_TRUE(IsOciError(http().get(location), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_EQ(http().get(live).status, 204u) << "an active session was swept";
}

TEST_F(UploadExpiry, ActiveUploadDoesNotExpire) {
    // Each PATCH is activity: the session must live while chunks keep arriving, even when the
    // whole upload takes longer than the expiry ("idle upload sessions expire after").
    const std::string data = "aaaabbbbcccc";
    auto location = start();
    ASSERT_EQ(patch(location, "aaaa", "0-3").status, 202u);
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    ASSERT_EQ(patch(location, "bbbb", "4-7").status, 202u);
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    auto r = patch(location, "cccc", "8-11");
    ASSERT_EQ(r.status, 202u) << "upload expired although it was active 1.6 s ago\n" << describe(r);
    ASSERT_EQ(http().put(with_query(location, "digest=" + sha256(data))).status, 201u);
}

}  // namespace
}  // namespace dermaga::test
