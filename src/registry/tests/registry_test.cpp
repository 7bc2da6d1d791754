// Registry use cases over the real filesystem and SQLite drivers in a temp directory.
#include "registry/registry.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <variant>

#include "meta/sql_meta_store.hpp"
#include "sql/testing/test_database.hpp"
#include "storage/fs/fs_blob_store.hpp"

using namespace dermaga;
using namespace dermaga::registry;

namespace {

class FakeClock final : public Clock {
public:
    std::int64_t now_unix() const override { return now; }
    std::int64_t now = 1000;
};

class RegistryTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("dermaga-reg-" + std::to_string(::getpid()) + "-" +
                                                         std::to_string(counter_++));
        db_.emplace(dir_);
        open();
    }
    void open() {
        reg_.reset();
        meta_.reset();
        blobs_ = std::make_unique<storage::FsBlobStore>(dir_ / "blobs");
        meta_ = std::make_unique<meta::SqlMetaStore>(db_->open());
        reg_ = std::make_unique<Registry>(*blobs_, *meta_, clock_, Options{});
    }
    void TearDown() override {
        reg_.reset();
        meta_.reset();
        std::filesystem::remove_all(dir_);
    }
    RepoName repo(const char* n) { return *RepoName::parse(n); }

    Digest push_blob(const RepoName& r, std::string_view bytes) {
        auto id = *reg_->start_upload(r);
        auto a = reg_->begin_append(r, id, std::nullopt);
        EXPECT_TRUE(a);
        EXPECT_TRUE(a->write(std::span<const char>(bytes.data(), bytes.size())));
        reg_->end_append(std::move(*a));
        auto d = digest_of(bytes);
        EXPECT_TRUE(reg_->complete_upload(r, id, d));
        return d;
    }

    /// A second node: its own Registry, blob store and database connections over the same
    /// blob directory and database.
    struct Node {
        storage::FsBlobStore blobs;
        meta::SqlMetaStore meta;
        Registry reg;
        Node(const std::filesystem::path& dir, const sql::testing::TestDatabase& db,
             const Clock& clock, Options o)
            : blobs(dir / "blobs"), meta(db.open()), reg(blobs, meta, clock, o) {}
    };
    std::unique_ptr<Node> other_node(Options o = {}) {
        return std::make_unique<Node>(dir_, *db_, clock_, o);
    }

    static inline int counter_ = 0;
    std::filesystem::path dir_;
    std::optional<sql::testing::TestDatabase> db_;
    FakeClock clock_;
    std::unique_ptr<storage::FsBlobStore> blobs_;
    std::unique_ptr<meta::SqlMetaStore> meta_;
    std::unique_ptr<Registry> reg_;
};

TEST_F(RegistryTest, BlobIsVisibleOnlyInItsRepositoryUntilMounted) {
    auto a = repo("team/a");
    auto b = repo("team/b");
    auto d = push_blob(a, "layer");
    EXPECT_EQ(*reg_->blob_size(a, d), 5u);
    EXPECT_EQ(reg_->blob_size(b, d).error().code, errc::blob_unknown);
    EXPECT_FALSE(*reg_->mount_blob(b, repo("team/none"), d));
    EXPECT_TRUE(*reg_->mount_blob(b, a, d));
    EXPECT_EQ(*reg_->blob_size(b, d), 5u);
}

std::string content(const BlobContent& c) {
    if (const auto* s = std::get_if<std::string>(&c)) {
        return *s;
    }
    const auto& f = std::get<storage::OpenBlob>(c);
    std::string out(f.size, '\0');
    EXPECT_EQ(::pread(f.fd.get(), out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return out;
}

std::size_t files_under(const std::filesystem::path& dir) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        n += e.is_regular_file() ? 1 : 0;
    }
    return n;
}

TEST_F(RegistryTest, SmallBlobsLiveInTheMetadataStoreLargeOnesInFiles) {
    auto r = repo("r");
    const std::string small(Options{}.inline_blob_bytes, 's');
    const std::string large(Options{}.inline_blob_bytes + 1, 'l');
    auto ds = push_blob(r, small);
    auto dl = push_blob(r, large);
    auto de = push_blob(r, "");
    auto cs = *reg_->open_blob(r, ds);
    EXPECT_TRUE(std::holds_alternative<std::string>(cs));
    EXPECT_EQ(content(cs), small);
    auto cl = *reg_->open_blob(r, dl);
    EXPECT_TRUE(std::holds_alternative<storage::OpenBlob>(cl));
    EXPECT_EQ(content(cl), large);
    EXPECT_EQ(content(*reg_->open_blob(r, de)), "") << "the empty blob too";
    EXPECT_EQ(files_under(dir_ / "blobs"), 1u) << "one file: the large blob; no upload files left";
    open();  // and after a restart
    EXPECT_EQ(content(*reg_->open_blob(r, ds)), small);
    EXPECT_EQ(*reg_->blob_size(r, ds), small.size());
}

TEST_F(RegistryTest, CompleteWithBodyCommitsFromMemoryOrAppends) {
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    EXPECT_EQ(reg_->complete_upload_with(r, id, digest_of("nope"), "body").error().code, errc::digest_invalid);
    EXPECT_EQ(reg_->upload_size(r, id).error().code, errc::blob_upload_unknown) << "a mismatch ends the session";

    id = *reg_->start_upload(r);
    ASSERT_TRUE(reg_->complete_upload_with(r, id, digest_of("body"), "body"));
    EXPECT_EQ(content(*reg_->open_blob(r, digest_of("body"))), "body");
    EXPECT_EQ(files_under(dir_ / "blobs"), 0u) << "never touched a file";

    // A final piece after earlier chunks is appended, then the whole is verified.
    id = *reg_->start_upload(r);
    {
        auto a = *reg_->begin_append(r, id, std::nullopt);
        ASSERT_TRUE(a.write(std::span<const char>("hello ", 6)));
        reg_->end_append(std::move(a));
    }
    ASSERT_TRUE(reg_->complete_upload_with(r, id, digest_of("hello world"), "world"));
    EXPECT_EQ(content(*reg_->open_blob(r, digest_of("hello world"))), "hello world");
}

TEST_F(RegistryTest, DigestMismatchDiscardsTheUpload) {
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    auto a = *reg_->begin_append(r, id, std::nullopt);
    ASSERT_TRUE(a.write(std::span<const char>("abc", 3)));
    reg_->end_append(std::move(a));
    auto res = reg_->complete_upload(r, id, digest_of("abd"));
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code, errc::digest_invalid);
    EXPECT_EQ(reg_->upload_size(r, id).error().code, errc::blob_upload_unknown);
    EXPECT_FALSE(reg_->blob_size(r, digest_of("abd")));
}

TEST_F(RegistryTest, ChunksMustArriveInOrder) {
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    auto a = *reg_->begin_append(r, id, 0);
    ASSERT_TRUE(a.write(std::span<const char>("abc", 3)));
    reg_->end_append(std::move(a));
    auto bad = reg_->begin_append(r, id, 1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, errc::range_invalid);
    auto good = reg_->begin_append(r, id, 3);
    ASSERT_TRUE(good);
    auto busy = reg_->begin_append(r, id, std::nullopt);
    EXPECT_EQ(busy.error().code, errc::blob_upload_invalid);
    reg_->end_append(std::move(*good));
}

// Two nodes: two Registry instances over one database and one (shared) blob directory.
TEST_F(RegistryTest, AChunkedUploadContinuesOnAnotherNode) {
    auto other = other_node();
    Registry& node_b = other->reg;
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    {
        auto a = *reg_->begin_append(r, id, 0);
        ASSERT_TRUE(a.write(std::span<const char>("hello ", 6)));
        reg_->end_append(std::move(a));
    }
    EXPECT_EQ(*node_b.upload_size(r, id), 6u);
    {
        auto b = *node_b.begin_append(r, id, 6);
        ASSERT_TRUE(b.write(std::span<const char>("wide ", 5)));
        node_b.end_append(std::move(b));
    }
    // Back on the first node, whose running hash stopped at 6 bytes: it must not be reused.
    {
        auto a = *reg_->begin_append(r, id, 11);
        ASSERT_TRUE(a.write(std::span<const char>("world", 5)));
        reg_->end_append(std::move(a));
    }
    EXPECT_EQ(node_b.complete_upload(r, id, digest_of("hello wide world")).value_or(0), 16u);
    EXPECT_EQ(content(*reg_->open_blob(r, digest_of("hello wide world"))), "hello wide world");
}

TEST_F(RegistryTest, OneWriterPerUploadAcrossNodes) {
    auto other = other_node();
    Registry& node_b = other->reg;
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    auto a = *reg_->begin_append(r, id, std::nullopt);
    EXPECT_EQ(node_b.begin_append(r, id, std::nullopt).error().code, errc::blob_upload_invalid);
    EXPECT_EQ(node_b.complete_upload(r, id, digest_of("")).error().code, errc::blob_upload_invalid)
        << "no completion while another node writes";
    ASSERT_TRUE(a.write(std::span<const char>("abc", 3)));
    reg_->end_append(std::move(a));
    auto b = node_b.begin_append(r, id, 3);
    ASSERT_TRUE(b) << "free once the first writer is done";
    node_b.end_append(std::move(*b));
}

TEST_F(RegistryTest, ADeadWritersClaimRunsOutAndItsNodeCannotWriteAfterwards) {
    auto other = other_node();
    Registry& node_b = other->reg;
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    auto stalled = *reg_->begin_append(r, id, std::nullopt);  // its node freezes here
    ASSERT_TRUE(stalled.write(std::span<const char>("abc", 3)));
    clock_.now += Options{}.upload_lease_seconds / 2;
    ASSERT_TRUE(stalled.write(std::span<const char>("def", 3))) << "renews its lease";
    clock_.now += Options{}.upload_lease_seconds - 1;
    EXPECT_EQ(node_b.begin_append(r, id, std::nullopt).error().code, errc::blob_upload_invalid)
        << "the renewed lease still runs";
    clock_.now += 2;
    auto b = node_b.begin_append(r, id, 6);
    ASSERT_TRUE(b) << "the lease ran out: another node takes over";
    EXPECT_EQ(stalled.write(std::span<const char>("XYZ", 3)).error().code,
              errc::blob_upload_invalid)
        << "the frozen writer wakes up and must not write";
    reg_->end_append(std::move(stalled));
    ASSERT_TRUE(b->write(std::span<const char>("ghi", 3)));
    node_b.end_append(std::move(*b));
    EXPECT_TRUE(node_b.complete_upload(r, id, digest_of("abcdefghi")));
}

TEST_F(RegistryTest, UploadIdWorksOnlyInItsRepository) {
    auto id = *reg_->start_upload(repo("a"));
    EXPECT_EQ(reg_->upload_size(repo("b"), id).error().code, errc::blob_upload_unknown);
    EXPECT_EQ(reg_->begin_append(repo("b"), id, std::nullopt).error().code, errc::blob_upload_unknown);
    EXPECT_EQ(reg_->cancel_upload(repo("b"), id).error().code, errc::blob_upload_unknown);
}

TEST_F(RegistryTest, UploadResumesAfterRestartWithCorrectDigest) {
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    {
        auto a = *reg_->begin_append(r, id, std::nullopt);
        ASSERT_TRUE(a.write(std::span<const char>("hello ", 6)));
        reg_->end_append(std::move(a));
    }
    open();  // a new process: the running hash is gone, the bytes are not
    EXPECT_EQ(*reg_->upload_size(r, id), 6u);
    auto a = *reg_->begin_append(r, id, 6);
    ASSERT_TRUE(a.write(std::span<const char>("world", 5)));
    reg_->end_append(std::move(a));
    EXPECT_TRUE(reg_->complete_upload(r, id, digest_of("hello world")));
}

TEST_F(RegistryTest, UploadsExpire) {
    auto r = repo("r");
    auto id = *reg_->start_upload(r);
    clock_.now += Options{}.upload_expiry_seconds + 1;
    EXPECT_EQ(reg_->upload_size(r, id).error().code, errc::blob_upload_unknown);
}

TEST_F(RegistryTest, PurgeRemovesOnlyExpiredUploads) {
    auto r = repo("r");
    auto old_id = *reg_->start_upload(r);
    {
        auto a = *reg_->begin_append(r, old_id, std::nullopt);
        ASSERT_TRUE(a.write(std::span<const char>("abc", 3)));
        reg_->end_append(std::move(a));
    }
    clock_.now += Options{}.upload_expiry_seconds + 1;
    auto fresh_id = *reg_->start_upload(r);
    EXPECT_EQ(*reg_->purge_expired_uploads(100), 1u);
    EXPECT_EQ(*blobs_->upload_size(old_id, {}), 0u) << "its bytes are gone";
    EXPECT_TRUE(reg_->upload_size(r, fresh_id));
}

TEST_F(RegistryTest, ManifestNeedsItsBlobsAndKeepsItsBytes) {
    auto r = repo("r");
    auto cfg = push_blob(r, "{}");
    std::string layer_digest = "sha256:" + std::string(64, 'c');
    std::string body = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                       cfg.str() + R"(","size":2},"layers":[{"mediaType":"x","digest":")" + layer_digest + R"(","size":1}]})";
    auto ref = *Reference::parse("v1");
    auto missing = reg_->put_manifest(r, ref, "application/vnd.oci.image.manifest.v1+json", body, {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::manifest_blob_unknown);
    EXPECT_EQ(missing.error().detail, layer_digest);

    std::string ok = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                     cfg.str() + R"(","size":2},"layers":[]})";
    auto pushed = reg_->put_manifest(r, ref, "application/vnd.oci.image.manifest.v1+json", ok, {"extra"});
    ASSERT_TRUE(pushed) << pushed.error().detail;
    EXPECT_EQ(pushed->digest, digest_of(ok));
    auto got = *reg_->get_manifest(r, *Reference::parse("extra"));
    EXPECT_EQ(got->body, ok);
    EXPECT_EQ(got->media_type, "application/vnd.oci.image.manifest.v1+json");
    auto wrong = reg_->put_manifest(r, *Reference::parse(digest_of("other").str()), "", ok, {});
    EXPECT_EQ(wrong.error().code, errc::digest_invalid);
}

TEST_F(RegistryTest, CachedTagFollowsMovesAndDeletes) {
    auto r = repo("r");
    auto cfg = push_blob(r, "{}");
    auto manifest = [&](const char* note) {
        return R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
               cfg.str() + R"(","size":2},"layers":[],"annotations":{"n":")" + note + "\"}}";
    };
    auto latest = *Reference::parse("latest");
    ASSERT_TRUE(reg_->put_manifest(r, latest, "", manifest("one"), {}));
    EXPECT_EQ((*reg_->get_manifest(r, latest))->body, manifest("one"));
    EXPECT_TRUE(reg_->cached_manifest(r, latest));
    ASSERT_TRUE(reg_->put_manifest(r, latest, "", manifest("two"), {}));
    EXPECT_FALSE(reg_->cached_manifest(r, latest)) << "a tag move must drop the cached answer";
    EXPECT_EQ((*reg_->get_manifest(r, latest))->body, manifest("two"));
    ASSERT_TRUE(reg_->delete_manifest(r, *Reference::parse(digest_of(manifest("two")).str())));
    EXPECT_EQ(reg_->get_manifest(r, latest).error().code, errc::manifest_unknown);
}

TEST_F(RegistryTest, AnotherNodesTagDeleteShowsWithinTheCacheMaxAge) {
    Options o;
    o.manifest_cache_max_age = std::chrono::milliseconds(200);
    auto other = other_node(o);
    Registry& node_b = other->reg;
    auto r = repo("r");
    auto cfg = push_blob(r, "{}");
    auto body =
        R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
        cfg.str() + R"(","size":2},"layers":[]})";
    auto latest = *Reference::parse("latest");
    ASSERT_TRUE(reg_->put_manifest(r, latest, "", body, {}));
    ASSERT_TRUE(node_b.get_manifest(r, latest));
    EXPECT_TRUE(node_b.cached_manifest(r, latest)) << "node b caches what it read";
    ASSERT_TRUE(reg_->delete_manifest(r, latest));  // on the other node: node b is not told
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    EXPECT_FALSE(node_b.cached_manifest(r, latest))
        << "past the max age the cached answer is not served";
    EXPECT_EQ(node_b.get_manifest(r, latest).error().code, errc::manifest_unknown);
}

TEST_F(RegistryTest, CountsManifestCacheHitsAndMisses) {
    using L = ManifestCache::Lookup;
    auto r = repo("r");
    auto cfg = push_blob(r, "{}");
    auto body = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                cfg.str() + R"(","size":2},"layers":[]})";
    auto latest = *Reference::parse("latest");
    ASSERT_TRUE(reg_->put_manifest(r, latest, "", body, {}));
    const auto& lookups = reg_->manifest_cache_lookups();
    EXPECT_FALSE(reg_->cached_manifest(r, latest));  // a miss here is counted by get_manifest
    ASSERT_TRUE(reg_->get_manifest(r, latest));      // miss: read from the database
    ASSERT_TRUE(reg_->get_manifest(r, latest));      // hit
    EXPECT_TRUE(reg_->cached_manifest(r, latest));   // hit
    EXPECT_EQ(lookups.value(L::miss), 1u);
    EXPECT_EQ(lookups.value(L::hit), 2u);
}

TEST_F(RegistryTest, PaginationLimitIsEnforced) {
    EXPECT_EQ(reg_->catalog("", Options{}.max_page_size + 1).error().code, errc::pagination_invalid);
    EXPECT_EQ(reg_->list_tags(repo("nope"), "", 10).error().code, errc::name_unknown);
}

}  // namespace
