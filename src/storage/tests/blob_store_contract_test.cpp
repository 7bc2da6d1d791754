// The contract every BlobStore must meet, run against each backend.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <memory>

#include "storage/fs/fs_blob_store.hpp"

using namespace dermaga;
using namespace dermaga::storage;

namespace {

struct Backend {
    const char* name;
    std::function<std::unique_ptr<BlobStore>(const std::filesystem::path&)> make;
};

class BlobStoreContract : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("dermaga-bs-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        store_ = GetParam().make(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string read_all(OpenBlob& b) {
        std::string s(b.size, '\0');
        EXPECT_EQ(::pread(b.fd.get(), s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
        return s;
    }

    static inline int counter_ = 0;
    std::filesystem::path dir_;
    std::unique_ptr<BlobStore> store_;
};

TEST_P(BlobStoreContract, UploadAppendCommitThenRead) {
    ASSERT_TRUE(store_->create_upload("u1"));
    {
        auto w = store_->append_upload("u1");
        ASSERT_TRUE(w);
        ASSERT_TRUE((*w)->write(std::span<const char>("hello ", 6)));
    }
    {
        auto w = store_->append_upload("u1");  // resumes at the end
        ASSERT_TRUE(w);
        EXPECT_EQ((*w)->size(), 6u);
        ASSERT_TRUE((*w)->write(std::span<const char>("world", 5)));
    }
    EXPECT_EQ(*store_->upload_size("u1"), 11u);
    auto d = digest_of("hello world");
    ASSERT_TRUE(store_->commit_upload("u1", d));
    EXPECT_EQ(*store_->stat(d), 11u);
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    EXPECT_EQ(read_all(*b), "hello world");
    EXPECT_EQ(*store_->upload_size("u1"), 11u) << "the upload stays until the caller deletes it";
    ASSERT_TRUE(store_->delete_upload("u1"));
    EXPECT_EQ(*store_->upload_size("u1"), 0u);
    EXPECT_EQ(*store_->stat(d), 11u) << "deleting the upload keeps the committed blob";
}

TEST_P(BlobStoreContract, AnUploadIsEmptyUntilItsFirstByte) {
    ASSERT_TRUE(store_->create_upload("fresh"));
    EXPECT_EQ(*store_->upload_size("fresh"), 0u);
    EXPECT_TRUE(store_->stale_uploads(std::numeric_limits<std::int64_t>::max(), 10)->empty())
        << "an upload with no bytes leaves nothing behind to sweep";
    ASSERT_TRUE((*store_->append_upload("fresh"))->write(std::span<const char>("ab", 2)));
    EXPECT_EQ(*store_->upload_size("fresh"), 2u);
    ASSERT_TRUE(store_->delete_upload("fresh"));
    EXPECT_EQ(*store_->upload_size("fresh"), 0u);
}

TEST_P(BlobStoreContract, CommitOfExistingBlobKeepsOneCopy) {
    auto d = digest_of("x");
    for (const char* id : {"a", "b"}) {
        ASSERT_TRUE(store_->create_upload(id));
        ASSERT_TRUE((*store_->append_upload(id))->write(std::span<const char>("x", 1)));
        ASSERT_TRUE(store_->commit_upload(id, d));
    }
    EXPECT_EQ(*store_->stat(d), 1u);
}

TEST_P(BlobStoreContract, StaleUploadsAreListedByAge) {
    ASSERT_TRUE(store_->create_upload("old"));
    ASSERT_TRUE((*store_->append_upload("old"))->write(std::span<const char>("x", 1)));
    EXPECT_TRUE(store_->stale_uploads(0, 10)->empty());
    auto stale = *store_->stale_uploads(std::numeric_limits<std::int64_t>::max(), 10);
    EXPECT_EQ(stale, std::vector<std::string>{"old"});
}

TEST_P(BlobStoreContract, MissingThingsAreReportedNotInvented) {
    auto d = digest_of("nope");
    EXPECT_EQ(store_->stat(d).error().code, errc::not_found);
    EXPECT_EQ(store_->open(d).error().code, errc::not_found);
    EXPECT_EQ(store_->append_upload("../x").error().code, errc::upload_unknown);
    EXPECT_EQ(store_->upload_size("../../etc").error().code, errc::upload_unknown);
    EXPECT_EQ(store_->commit_upload("never-written", d).error().code, errc::upload_unknown);
    EXPECT_TRUE(store_->remove(d));
    EXPECT_TRUE(store_->delete_upload("missing"));
}

TEST_P(BlobStoreContract, RemoveDeletesBlob) {
    auto d = digest_of("gone");
    ASSERT_TRUE(store_->create_upload("g"));
    ASSERT_TRUE((*store_->append_upload("g"))->write(std::span<const char>("gone", 4)));
    ASSERT_TRUE(store_->commit_upload("g", d));
    ASSERT_TRUE(store_->remove(d));
    EXPECT_FALSE(store_->stat(d));
}

TEST_P(BlobStoreContract, LargeUploadAcrossWritersReadsBackExactly) {
    // Several writers (as PATCHes would open), each crossing write-behind chunk boundaries.
    std::string data(21 * 1024 * 1024 + 7, '\0');
    std::uint32_t x = 2463534242u;
    for (auto& c : data) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        c = static_cast<char>(x);
    }
    ASSERT_TRUE(store_->create_upload("big"));
    const std::size_t cuts[] = {0, 5 * 1024 * 1024 + 3, 13 * 1024 * 1024, data.size()};
    for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
        auto w = store_->append_upload("big");
        ASSERT_TRUE(w);
        ASSERT_EQ((*w)->size(), cuts[i]);
        for (std::size_t off = cuts[i]; off < cuts[i + 1]; off += 1 << 20) {
            const std::size_t n = std::min<std::size_t>(1 << 20, cuts[i + 1] - off);
            ASSERT_TRUE((*w)->write(std::span<const char>(data.data() + off, n)));
        }
    }
    auto d = digest_of(data);
    ASSERT_TRUE(store_->commit_upload("big", d));
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    EXPECT_TRUE(read_all(*b) == data) << "committed bytes differ from what was written";
}

TEST_P(BlobStoreContract, ReadyOnceOpened) {
    auto r = store_->ready();
    EXPECT_TRUE(r) << r.error().detail;
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreContract,
                         ::testing::Values(Backend{"fs", [](const std::filesystem::path& p) {
                             return std::unique_ptr<BlobStore>(std::make_unique<FsBlobStore>(p));
                         }}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
