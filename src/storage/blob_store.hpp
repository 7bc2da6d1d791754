#pragma once
// BlobStore: where blob bytes live. Content-addressed, immutable once committed, stored once
// whatever the number of repositories that use them. Knows nothing about repositories, HTTP
// or OCI error codes.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace dermaga::storage {

enum class errc { not_found = 1, upload_unknown, io_error };
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// An open committed blob: a descriptor positioned anywhere (use pread/sendfile) and its size.
struct OpenBlob {
    UniqueFd fd;
    std::uint64_t size = 0;
};

/// The append side of an upload in progress. Not thread-safe: one writer per upload.
class UploadWriter {
public:
    virtual ~UploadWriter() = default;
    /// Appends bytes at the end. Errors: errc::io_error.
    virtual Result<void> write(std::span<const char> bytes) = 0;
    /// Bytes in the upload so far (including earlier sessions).
    virtual std::uint64_t size() const = 0;
};

/// Every method blocks (file or network I/O): call through run_blocking. Thread-safe.
class BlobStore {
public:
    virtual ~BlobStore() = default;

    /// Size of a committed blob. Errors: errc::not_found, errc::io_error.
    virtual Result<std::uint64_t> stat(const Digest& digest) = 0;
    /// Opens a committed blob for reading. Errors: errc::not_found, errc::io_error.
    virtual Result<OpenBlob> open(const Digest& digest) = 0;
    /// Deletes a committed blob; deleting a missing blob succeeds.
    virtual Result<void> remove(const Digest& digest) = 0;

    /// Starts an empty upload named `id` (a random token chosen by the caller). Which uploads
    /// exist is the caller's record (the metadata store's sessions): an upload nothing was
    /// written to may have no storage at all, and reads as empty.
    virtual Result<void> create_upload(std::string_view id) = 0;
    /// Opens an upload for appending. Errors: errc::upload_unknown (bad id), errc::io_error.
    virtual Result<std::unique_ptr<UploadWriter>> append_upload(std::string_view id) = 0;
    /// Current size of an upload (0 before its first byte). Errors: errc::upload_unknown (bad id).
    virtual Result<std::uint64_t> upload_size(std::string_view id) = 0;
    /// Opens an upload's bytes for reading (used to re-hash after a restart).
    virtual Result<OpenBlob> read_upload(std::string_view id) = 0;
    /// Makes the upload's bytes the committed blob `digest`, durably (fsync, then an atomic
    /// link into place). The upload itself stays until delete_upload, so a crash before the
    /// caller records the blob leaves the session complete-able. The caller has verified the
    /// digest; if the blob already exists the existing copy wins. Errors: upload_unknown, io_error.
    virtual Result<void> commit_upload(std::string_view id, const Digest& digest) = 0;
    /// Removes an upload; removing a missing upload succeeds.
    virtual Result<void> delete_upload(std::string_view id) = 0;
    /// Ids of uploads whose bytes were last written before `modified_before` (Unix seconds), at
    /// most `limit`: used to find upload files no session refers to any more.
    virtual Result<std::vector<std::string>> stale_uploads(std::int64_t modified_before, std::size_t limit) = 0;

    /// Whether the store can serve reads and writes now. Cheap (no data is written). Errors:
    /// errc::io_error with a short reason that is safe to show to anyone (no paths, hosts or
    /// credentials).
    virtual Result<void> ready() = 0;
};

}  // namespace dermaga::storage

template <>
struct std::is_error_code_enum<dermaga::storage::errc> : std::true_type {};
