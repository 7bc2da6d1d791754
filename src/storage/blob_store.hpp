#pragma once
// BlobStore: where blob bytes live. Content-addressed, immutable once committed, stored once
// whatever the number of repositories that use them. Knows nothing about repositories, HTTP
// or OCI error codes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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

/// Reads a blob that is not a local file (an object in object storage). Thread-compatible:
/// one reader per response.
class BlobReader {
public:
    virtual ~BlobReader() = default;
    /// Reads up to `into.size()` bytes at `offset`; returns how many (0 only at the end).
    /// Blocks (network I/O): call through run_blocking. Errors: errc::io_error.
    virtual Result<std::size_t> read_at(std::uint64_t offset, std::span<char> into) = 0;
};

/// An open committed blob and its size: either a descriptor positioned anywhere (pread,
/// sendfile) or, when `fd` is empty, a `reader` that fetches pieces.
struct OpenBlob {
    UniqueFd fd;
    std::uint64_t size = 0;
    std::unique_ptr<BlobReader> reader;
};

/// Upload ids are `[A-Za-z0-9_-]{1,128}`: safe as a file name or an object key component.
bool valid_upload_id(std::string_view id) noexcept;

/// Reads up to `into.size()` bytes of `blob` at `offset` from whichever it has. Blocks.
/// Errors: errc::io_error.
Result<std::size_t> read_at(OpenBlob& blob, std::uint64_t offset, std::span<char> into);

/// Where an upload stands in storage, as the store last described it: an opaque value that
/// the caller keeps with its upload session (in the metadata store) and hands back on every
/// call, so that any node can continue or finish the upload and nothing lives only in one
/// node's memory. Empty for a new upload. The fs store keeps everything in the upload file
/// and ignores it; the S3 store keeps there its multipart upload id, parts and their ETags.
using UploadState = std::string;

/// The append side of an upload in progress. Not thread-safe: one writer per upload.
class UploadWriter {
public:
    virtual ~UploadWriter() = default;
    /// Appends bytes at the end. Bytes may be buffered until `finish`. Errors: errc::io_error.
    virtual Result<void> write(std::span<const char> bytes) = 0;
    /// Bytes in the upload so far (including earlier sessions and what is buffered).
    virtual std::uint64_t size() const = 0;
    /// Makes what was written durable in storage and returns the upload's new state, for the
    /// caller to persist before it acknowledges the bytes. Call once, after the last write of
    /// a request; if it fails, the upload stands where the state handed in said.
    /// Errors: errc::io_error.
    virtual Result<UploadState> finish() = 0;
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
    /// Deletes many committed blobs (garbage collection), in as few backend calls as the
    /// store allows (S3: DeleteObjects, 1,000 keys a call). Missing blobs count as deleted.
    virtual Result<void> remove_many(std::span<const Digest> digests);
    /// A URL from which a client may fetch the committed blob itself for a short while
    /// (a presigned object-storage URL), or nullopt when the store serves bytes only through
    /// this process. Never checks that the blob exists. Does no I/O.
    virtual std::optional<std::string> redirect_url(const Digest& digest);

    /// Starts an empty upload named `id` (a random token chosen by the caller). Which uploads
    /// exist is the caller's record (the metadata store's sessions): an upload nothing was
    /// written to may have no storage at all, and reads as empty.
    virtual Result<void> create_upload(std::string_view id) = 0;
    /// Opens an upload for appending, as `state` (see UploadState) describes it.
    /// Errors: errc::upload_unknown (bad id or state), errc::io_error.
    virtual Result<std::unique_ptr<UploadWriter>> append_upload(std::string_view id, const UploadState& state) = 0;
    /// Current size of an upload (0 before its first byte). Errors: errc::upload_unknown (bad id).
    virtual Result<std::uint64_t> upload_size(std::string_view id, const UploadState& state) = 0;
    /// Opens an upload's bytes for reading (used to re-hash after a restart). A store that
    /// cannot read back an upload in progress (S3, once it has sent a part) fails with
    /// errc::io_error: the caller must keep its running hash with the session instead.
    virtual Result<OpenBlob> read_upload(std::string_view id, const UploadState& state) = 0;
    /// Makes the upload's bytes the committed blob `digest`, durably (fs: fsync, then an
    /// atomic link into place; S3: complete the multipart upload, then a server-side copy to
    /// the blob's key). The upload itself stays until delete_upload, so a crash before the
    /// caller records the blob leaves the session complete-able. The caller has verified the
    /// digest; if the blob already exists the existing copy wins. Errors: upload_unknown, io_error.
    virtual Result<void> commit_upload(std::string_view id, const UploadState& state, const Digest& digest) = 0;
    /// Removes an upload (S3: aborts its multipart upload); removing a missing upload
    /// succeeds. With an empty state the store finds what it can by `id`.
    virtual Result<void> delete_upload(std::string_view id, const UploadState& state) = 0;
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
