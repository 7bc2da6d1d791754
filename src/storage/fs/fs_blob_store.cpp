#include "storage/fs/fs_blob_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dermaga::storage {

namespace fs = std::filesystem;

namespace {

tl::unexpected<Error> io_fail(std::string_view what, const fs::path& p) {
    return fail(errc::io_error, std::string(what) + " " + p.string() + ": " + std::strerror(errno));
}

bool safe_id(std::string_view id) { return valid_upload_id(id); }

bool fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

/// Opens `p` with `flags` and stats it. A missing file is `missing` (with detail `name`).
Result<OpenBlob> open_sized(const fs::path& p, int flags, errc missing, std::string_view name) {
    UniqueFd fd(::open(p.c_str(), flags | O_CLOEXEC, 0640));
    if (!fd) {
        if (errno == ENOENT) {
            return fail(missing, std::string(name));
        }
        return io_fail("open", p);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return io_fail("fstat", p);
    }
    return OpenBlob{std::move(fd), static_cast<std::uint64_t>(st.st_size)};
}

/// Uploads are written behind in chunks of this size; blobs smaller than one chunk stay in the
/// page cache (configs and small layers are pulled right after a push, and cost little memory).
constexpr std::uint64_t writeback_chunk = 8 << 20;

class FsUploadWriter final : public UploadWriter {
public:
    FsUploadWriter(UniqueFd fd, std::uint64_t size, fs::path path)
        : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

    Result<void> write(std::span<const char> bytes) override {
        const std::uint64_t before = size_;
        DERMAGA_CHECK(write_all(bytes));
        for (auto end = (before / writeback_chunk + 1) * writeback_chunk; end <= size_; end += writeback_chunk) {
            DERMAGA_CHECK(write_behind(end));
        }
        return {};
    }
    std::uint64_t size() const override { return size_; }
    /// Every write went to the file already; the file is all the state there is.
    Result<UploadState> finish() override { return UploadState(); }

private:
    /// Called when the chunk ending at `end` is complete: starts its writeback, waits for the
    /// chunk before it and drops that from the page cache. Chunks are fixed file offsets, so
    /// PATCHes of any size (each with its own writer) are written behind alike. Disk writes
    /// overlap the rest of the upload, the fsync at commit finds little left to do, and an
    /// upload holds at most two chunks of cache however large it is: its pages are recycled
    /// instead of each blob taking fresh memory (on a VM whose free memory goes back to the
    /// host, first-touch pages made writes 4x slower) and evicting the blobs clients pull.
    ///
    /// Waiting on a range consumes its write error (errseq), so commit's fdatasync would no
    /// longer see it while the running hash still matched the bytes as received. On an error
    /// the upload file is therefore removed: the upload is empty again (a resumed PATCH gets
    /// 416 with the true Range, a PUT fails the digest check), and no damaged blob can be
    /// committed.
    Result<void> write_behind(std::uint64_t end) {
        const int fd = fd_.get();
        constexpr auto chunk = static_cast<off_t>(writeback_chunk);
        const auto last = static_cast<off_t>(end) - chunk;
        bool ok = ::sync_file_range(fd, last, chunk, SYNC_FILE_RANGE_WRITE) == 0;
        if (ok && last >= chunk) {
            ok = ::sync_file_range(fd, last - chunk, chunk,
                                   SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0;
            if (ok) {
                ::posix_fadvise(fd, last - chunk, chunk, POSIX_FADV_DONTNEED);
            }
        }
        if (!ok) {
            auto failure = io_fail("writeback", path_);
            ::unlink(path_.c_str());
            return failure;
        }
        return {};
    }

    Result<void> write_all(std::span<const char> bytes) {
        const char* p = bytes.data();
        std::size_t left = bytes.size();
        while (left > 0) {
            ssize_t n = ::write(fd_.get(), p, left);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return io_fail("write", path_);
            }
            p += n;
            left -= static_cast<std::size_t>(n);
            size_ += static_cast<std::uint64_t>(n);
        }
        return {};
    }

    UniqueFd fd_;
    std::uint64_t size_;
    fs::path path_;
};

}  // namespace

FsBlobStore::FsBlobStore(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    for (const char* sub : {"blobs/sha256", "blobs/sha512", "uploads"}) {
        fs::create_directories(root_ / sub, ec);
        if (ec) {
            throw std::runtime_error("cannot create " + (root_ / sub).string() + ": " + ec.message());
        }
    }
}

Result<void> FsBlobStore::ready() {
    for (const char* sub : {"blobs", "uploads"}) {
        const auto p = root_ / sub;
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) {
            return fail(errc::io_error, std::string(sub) + " directory unreachable: " + std::strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) {
            return fail(errc::io_error, std::string(sub) + " is not a directory");
        }
        if (::access(p.c_str(), W_OK | X_OK) != 0) {
            return fail(errc::io_error, std::string(sub) + " directory not writable: " + std::strerror(errno));
        }
    }
    return {};
}

fs::path FsBlobStore::blob_path(const Digest& d) const {
    auto hex = d.hex();
    const char* alg = d.algorithm() == DigestAlgorithm::sha256 ? "sha256" : "sha512";
    return root_ / "blobs" / alg / std::string(hex.substr(0, 2)) / std::string(hex);
}

fs::path FsBlobStore::upload_path(std::string_view id) const { return root_ / "uploads" / std::string(id); }

Result<std::uint64_t> FsBlobStore::stat(const Digest& digest) {
    struct stat st {};
    auto p = blob_path(digest);
    if (::stat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return fail(errc::not_found, digest.str());
        }
        return io_fail("stat", p);
    }
    return static_cast<std::uint64_t>(st.st_size);
}

Result<OpenBlob> FsBlobStore::open(const Digest& digest) {
    return open_sized(blob_path(digest), O_RDONLY, errc::not_found, digest.str());
}

Result<void> FsBlobStore::remove(const Digest& digest) {
    auto p = blob_path(digest);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        return io_fail("unlink", p);
    }
    return {};
}

Result<void> FsBlobStore::create_upload(std::string_view id) {
    if (!safe_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    // The file appears with the first byte: a small blob completed from memory never has
    // one, and creating then deleting a file per upload churns the filesystem's inodes.
    return {};
}

Result<std::unique_ptr<UploadWriter>> FsBlobStore::append_upload(std::string_view id, const UploadState&) {
    if (!safe_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    auto p = upload_path(id);
    DERMAGA_TRY(f, open_sized(p, O_WRONLY | O_APPEND | O_CREAT, errc::upload_unknown, id));
    return std::unique_ptr<UploadWriter>(std::make_unique<FsUploadWriter>(std::move(f.fd), f.size, p));
}

Result<std::uint64_t> FsBlobStore::upload_size(std::string_view id, const UploadState&) {
    if (!safe_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    struct stat st {};
    auto p = upload_path(id);
    if (::stat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return std::uint64_t{0};  // nothing written yet
        }
        return io_fail("stat", p);
    }
    return static_cast<std::uint64_t>(st.st_size);
}

Result<OpenBlob> FsBlobStore::read_upload(std::string_view id, const UploadState&) {
    if (!safe_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    return open_sized(upload_path(id), O_RDONLY, errc::upload_unknown, id);
}

Result<void> FsBlobStore::commit_upload(std::string_view id, const UploadState&, const Digest& digest) {
    if (!safe_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    auto src = upload_path(id);
    auto dst = blob_path(digest);
    {
        UniqueFd fd(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            if (errno == ENOENT) {
                return fail(errc::upload_unknown, std::string(id));
            }
            return io_fail("open", src);
        }
        if (::access(dst.c_str(), F_OK) == 0) {
            return {};  // dedup: the committed copy wins; ours is identical by digest
        }
        if (::fdatasync(fd.get()) != 0) {
            return io_fail("fsync", src);
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > writeback_chunk) {
            ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);  // the tail goes the way of the rest
        }
        ::fchmod(fd.get(), 0440);
    }
    std::error_code ec;
    const bool new_shard = fs::create_directories(dst.parent_path(), ec);
    if (ec) {
        return fail(errc::io_error, "mkdir " + dst.parent_path().string() + ": " + ec.message());
    }
    // A new shard directory's own entry must be durable too, or a power loss could drop it
    // with every blob linked into it.
    if (new_shard && !fsync_dir(dst.parent_path().parent_path())) {
        return io_fail("fsync dir", dst.parent_path().parent_path());
    }
    if (::link(src.c_str(), dst.c_str()) != 0 && errno != EEXIST) {
        return io_fail("link", src);
    }
    if (!fsync_dir(dst.parent_path())) {
        return io_fail("fsync dir", dst.parent_path());
    }
    return {};
}

Result<std::vector<std::string>> FsBlobStore::stale_uploads(std::int64_t modified_before, std::size_t limit) {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::directory_iterator it(root_ / "uploads", ec), end; !ec && it != end && out.size() < limit;
         it.increment(ec)) {
        struct stat st {};
        if (::stat(it->path().c_str(), &st) == 0 && st.st_mtime < modified_before) {
            out.push_back(it->path().filename().string());
        }
    }
    if (ec) {
        return fail(errc::io_error, "list uploads: " + ec.message());
    }
    return out;
}

Result<void> FsBlobStore::delete_upload(std::string_view id, const UploadState&) {
    if (!safe_id(id)) {
        return {};
    }
    auto p = upload_path(id);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) {
        return io_fail("unlink", p);
    }
    return {};
}

}  // namespace dermaga::storage
