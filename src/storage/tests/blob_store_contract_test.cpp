// The contract every BlobStore must meet, run against each backend: fs always; s3 when
// DERMAGA_TEST_S3_ENDPOINT is set (the ctest entry unit_storage_s3 starts a throwaway Ceph
// RGW and sets it, see tests/servers/rgw.sh).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>

#include "storage/fs/fs_blob_store.hpp"
#include "storage/tests/s3_test_env.hpp"

using namespace dermaga;
using namespace dermaga::storage;

namespace {

struct Backend {
    const char* name;
    /// A store over `place` (a directory for fs, a key prefix for s3). Two stores made for the
    /// same place are two nodes sharing the storage.
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
        std::size_t off = 0;
        while (off < s.size()) {
            auto n = read_at(b, off, std::span<char>(s.data() + off, s.size() - off));
            EXPECT_TRUE(n && *n > 0) << "short read at " << off;
            if (!n || *n == 0) {
                break;
            }
            off += *n;
        }
        return s;
    }

    /// One request's worth of appending, as the registry does it: open with the persisted
    /// state, write, finish, persist the new state.
    void append(BlobStore& store, const std::string& id, std::string_view bytes) {
        auto w = store.append_upload(id, states_[id]);
        ASSERT_TRUE(w) << w.error().detail;
        ASSERT_TRUE((*w)->write(std::span<const char>(bytes.data(), bytes.size())));
        auto st = (*w)->finish();
        ASSERT_TRUE(st) << st.error().detail;
        states_[id] = *st;
    }
    void append(const std::string& id, std::string_view bytes) { append(*store_, id, bytes); }
    std::uint64_t size_of(const std::string& id) { return *store_->upload_size(id, states_[id]); }
    Result<void> commit(const std::string& id, const Digest& d) { return store_->commit_upload(id, states_[id], d); }
    Result<void> drop(const std::string& id) {
        auto r = store_->delete_upload(id, states_[id]);
        states_.erase(id);
        return r;
    }

    static inline int counter_ = 0;
    std::filesystem::path dir_;
    std::unique_ptr<BlobStore> store_;
    std::map<std::string, UploadState> states_;
};

std::string random_bytes(std::size_t n, std::uint32_t seed = 2463534242u) {
    std::string data(n, '\0');
    for (auto& c : data) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        c = static_cast<char>(seed);
    }
    return data;
}

TEST_P(BlobStoreContract, UploadAppendCommitThenRead) {
    ASSERT_TRUE(store_->create_upload("u1"));
    append("u1", "hello ");
    {
        auto w = store_->append_upload("u1", states_["u1"]);  // resumes at the end
        ASSERT_TRUE(w);
        EXPECT_EQ((*w)->size(), 6u);
    }
    append("u1", "world");
    EXPECT_EQ(size_of("u1"), 11u);
    auto d = digest_of("hello world");
    ASSERT_TRUE(commit("u1", d));
    EXPECT_EQ(*store_->stat(d), 11u);
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    EXPECT_EQ(read_all(*b), "hello world");
    EXPECT_EQ(size_of("u1"), 11u) << "the upload stays until the caller deletes it";
    ASSERT_TRUE(drop("u1"));
    EXPECT_EQ(size_of("u1"), 0u);
    EXPECT_EQ(*store_->stat(d), 11u) << "deleting the upload keeps the committed blob";
}

TEST_P(BlobStoreContract, AnUploadIsEmptyUntilItsFirstByte) {
    ASSERT_TRUE(store_->create_upload("fresh"));
    EXPECT_EQ(size_of("fresh"), 0u);
    EXPECT_TRUE(store_->stale_uploads(std::numeric_limits<std::int64_t>::max(), 10)->empty())
        << "an upload with no bytes leaves nothing behind to sweep";
    append("fresh", "ab");
    EXPECT_EQ(size_of("fresh"), 2u);
    ASSERT_TRUE(drop("fresh"));
    EXPECT_EQ(size_of("fresh"), 0u);
}

TEST_P(BlobStoreContract, CommitOfExistingBlobKeepsOneCopy) {
    auto d = digest_of("x");
    for (const char* id : {"a", "b"}) {
        ASSERT_TRUE(store_->create_upload(id));
        append(id, "x");
        ASSERT_TRUE(commit(id, d));
    }
    EXPECT_EQ(*store_->stat(d), 1u);
}

TEST_P(BlobStoreContract, MissingThingsAreReportedNotInvented) {
    auto d = digest_of("nope");
    EXPECT_EQ(store_->stat(d).error().code, errc::not_found);
    EXPECT_EQ(store_->open(d).error().code, errc::not_found);
    EXPECT_EQ(store_->append_upload("../x", {}).error().code, errc::upload_unknown);
    EXPECT_EQ(store_->upload_size("../../etc", {}).error().code, errc::upload_unknown);
    EXPECT_EQ(store_->commit_upload("never-written", {}, d).error().code, errc::upload_unknown);
    EXPECT_TRUE(store_->remove(d));
    EXPECT_TRUE(store_->delete_upload("missing", {}));
}

TEST_P(BlobStoreContract, RemoveDeletesBlob) {
    auto d = digest_of("gone");
    ASSERT_TRUE(store_->create_upload("g"));
    append("g", "gone");
    ASSERT_TRUE(commit("g", d));
    ASSERT_TRUE(store_->remove(d));
    EXPECT_FALSE(store_->stat(d));
}

TEST_P(BlobStoreContract, RemoveManyDeletesEveryBlobAndIgnoresMissingOnes) {
    std::vector<Digest> all;
    for (int i = 0; i < 3; ++i) {
        const std::string body = "blob " + std::to_string(i);
        const std::string id = "m" + std::to_string(i);
        append(id, body);
        ASSERT_TRUE(commit(id, digest_of(body)));
        all.push_back(digest_of(body));
    }
    for (int i = 0; i < 1100; ++i) {  // more than one DeleteObjects batch
        all.push_back(digest_of("never stored " + std::to_string(i)));
    }
    ASSERT_TRUE(store_->remove_many(all));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(store_->stat(all[i]).error().code, errc::not_found) << i;
    }
}

TEST_P(BlobStoreContract, ReadsAtAnyOffset) {
    const auto data = random_bytes(300 * 1024 + 5);
    append("r", data);
    auto d = digest_of(data);
    ASSERT_TRUE(commit("r", d));
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    std::string piece(1000, '\0');
    auto n = read_at(*b, 200 * 1024 + 1, piece);
    ASSERT_TRUE(n);
    ASSERT_EQ(*n, 1000u);
    EXPECT_EQ(piece, data.substr(200 * 1024 + 1, 1000));
    std::string end(100, '\0');
    n = read_at(*b, data.size() - 5, end);
    ASSERT_TRUE(n);
    EXPECT_EQ(*n, 5u) << "a read past the end returns what there is";
    EXPECT_EQ(end.substr(0, 5), data.substr(data.size() - 5));
}

TEST_P(BlobStoreContract, LargeUploadAcrossWritersReadsBackExactly) {
    // Several writers (as PATCHes would open), each crossing write-behind chunks and parts.
    const auto data = random_bytes(21 * 1024 * 1024 + 7);
    ASSERT_TRUE(store_->create_upload("big"));
    const std::size_t cuts[] = {0, 5 * 1024 * 1024 + 3, 13 * 1024 * 1024, data.size()};
    for (std::size_t i = 0; i + 1 < std::size(cuts); ++i) {
        auto w = store_->append_upload("big", states_["big"]);
        ASSERT_TRUE(w);
        ASSERT_EQ((*w)->size(), cuts[i]);
        for (std::size_t off = cuts[i]; off < cuts[i + 1]; off += 1 << 20) {
            const std::size_t n = std::min<std::size_t>(1 << 20, cuts[i + 1] - off);
            ASSERT_TRUE((*w)->write(std::span<const char>(data.data() + off, n)));
        }
        auto st = (*w)->finish();
        ASSERT_TRUE(st) << st.error().detail;
        states_["big"] = *st;
    }
    auto d = digest_of(data);
    ASSERT_TRUE(commit("big", d));
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    EXPECT_TRUE(read_all(*b) == data) << "committed bytes differ from what was written";
}

TEST_P(BlobStoreContract, ReadyOnceOpened) {
    auto r = store_->ready();
    EXPECT_TRUE(r) << r.error().detail;
}

TEST_P(BlobStoreContract, AnotherNodeContinuesAndCommitsAnUploadFromItsState) {
    auto other = GetParam().make(dir_);  // a second node over the same storage
    const auto data = random_bytes(12 * 1024 * 1024 + 11);
    const std::size_t half = 6 * 1024 * 1024 + 1;
    append(*store_, "shared", std::string_view(data).substr(0, half));
    append(*other, "shared", std::string_view(data).substr(half, 3));
    append(*store_, "shared", std::string_view(data).substr(half + 3));
    EXPECT_EQ(*other->upload_size("shared", states_["shared"]), data.size());
    auto d = digest_of(data);
    ASSERT_TRUE(other->commit_upload("shared", states_["shared"], d));
    auto b = store_->open(d);
    ASSERT_TRUE(b);
    EXPECT_TRUE(read_all(*b) == data);
    EXPECT_TRUE(other->delete_upload("shared", states_["shared"]));
}

TEST_P(BlobStoreContract, ASmallUploadCanBeReadBackForRehashing) {
    append("small", "abc");
    append("small", "def");
    auto up = store_->read_upload("small", states_["small"]);
    ASSERT_TRUE(up) << up.error().detail;
    EXPECT_EQ(read_all(*up), "abcdef");
}

std::vector<Backend> backends() {
    std::vector<Backend> out{{"fs", [](const std::filesystem::path& p) {
                                  return std::unique_ptr<BlobStore>(std::make_unique<FsBlobStore>(p));
                              }}};
    if (s3_test::configured()) {
        out.push_back({"s3", [](const std::filesystem::path& p) {
                           return std::unique_ptr<BlobStore>(s3_test::make_store(p.filename().string()));
                       }});
    }
    return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, BlobStoreContract, ::testing::ValuesIn(backends()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
