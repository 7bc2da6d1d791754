// Filesystem-specific behaviour of FsBlobStore that the backend contract does not cover.
#include "storage/fs/fs_blob_store.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace dermaga;
using namespace dermaga::storage;

namespace {

constexpr std::uint64_t tmpfs_magic = 0x01021994;

/// Pages of the first `size` bytes of `fd` that are in the page cache.
std::size_t resident_pages(int fd, std::size_t size) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        ADD_FAILURE() << "mmap failed";
        return 0;
    }
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((size + page - 1) / page);
    EXPECT_EQ(::mincore(map, size, vec.data()), 0);
    ::munmap(map, size);
    std::size_t n = 0;
    for (auto v : vec) {
        n += v & 1;
    }
    return n;
}

// An upload is write-once data: it is written behind and leaves the page cache, so pushing large
// blobs neither evicts what clients pull nor makes each upload fault in fresh memory.
TEST(FsBlobStore, UploadsAreWrittenBehindAndLeaveThePageCache) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("dermaga-fs-" + std::to_string(::getpid()));
    struct statfs sfs {};
    std::filesystem::create_directories(dir);
    ASSERT_EQ(::statfs(dir.c_str(), &sfs), 0);
    if (static_cast<std::uint64_t>(sfs.f_type) == tmpfs_magic) {
        std::filesystem::remove_all(dir);
        GTEST_SKIP() << "tmpfs has no backing store to write behind to";
    }
    {
        FsBlobStore store(dir);
        const std::string piece(1 << 20, 'z');
        std::string all;
        ASSERT_TRUE(store.create_upload("u"));
        for (int patch = 0; patch < 13; ++patch) {  // 65 MiB as 5 MiB PATCHes, a writer each
            auto w = store.append_upload("u", {});
            ASSERT_TRUE(w);
            for (int i = 0; i < 5; ++i) {
                ASSERT_TRUE((*w)->write(std::span<const char>(piece.data(), piece.size())));
                all += piece;
            }
        }
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t pages = all.size() / page;
        auto up = store.read_upload("u", {});
        ASSERT_TRUE(up);
        EXPECT_LE(resident_pages(up->fd.get(), all.size()), (24u << 20) / page)
            << "an upload in progress keeps at most the last three 8 MiB chunks cached";
        auto d = digest_of(all);
        ASSERT_TRUE(store.commit_upload("u", {}, d));
        auto b = store.open(d);
        ASSERT_TRUE(b);
        EXPECT_LT(resident_pages(b->fd.get(), all.size()), pages / 8) << "and none once committed";
        std::string back(all.size(), '\0');
        ASSERT_EQ(::pread(b->fd.get(), back.data(), back.size(), 0),
                  static_cast<ssize_t>(back.size()));
        EXPECT_TRUE(back == all) << "the blob reads back from disk unchanged";
    }
    std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST(FsBlobStore, NotReadyWhenItsDirectoriesAreGone) {
    const auto dir = std::filesystem::temp_directory_path() / ("dermaga-fs-ready-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    FsBlobStore store(dir);
    ASSERT_TRUE(store.ready());
    // A storage mount that vanished looks like this from the process's side.
    std::filesystem::remove_all(dir / "uploads");
    auto r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
    EXPECT_EQ(r.error().detail.rfind("uploads directory unreachable", 0), 0u) << r.error().detail;
    EXPECT_EQ(r.error().detail.find(dir.string()), std::string::npos) << "no paths in the reason";
    std::filesystem::create_directories(dir / "uploads");
    EXPECT_TRUE(store.ready());
    std::filesystem::remove_all(dir);
}

}  // namespace
