#pragma once
// Registry: the use cases of the distribution API (push, pull, mount, delete, list, referrers)
// over a BlobStore and a MetaStore. Errors carry registry::errc (their OCI meaning).
// Every method blocks (storage and database I/O): call it through run_blocking. Thread-safe.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "core/digest.hpp"
#include "core/names.hpp"
#include "meta/meta_store.hpp"
#include "registry/errors.hpp"
#include "registry/manifest_cache.hpp"
#include "storage/blob_store.hpp"

namespace dermaga::registry {

struct Options {
    std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
    std::size_t max_page_size = 10000;
    std::int64_t upload_expiry_seconds = 24 * 3600;
    /// Bytes of manifests kept in memory for pulls (0 disables the cache). Exact only while
    /// this process is the metadata store's only writer (the embedded SQLite mode).
    std::size_t manifest_cache_bytes = 64 * 1024 * 1024;
    /// With several nodes: how long a cached manifest is served after it was read from the
    /// database, so another node's tag move or delete shows here within this bound.
    /// nullopt: until this process writes (one node).
    std::optional<std::chrono::milliseconds> manifest_cache_max_age;
    /// Blobs up to this size (configs, tiny layers) are kept in the metadata store, committed
    /// with the transaction that records them, instead of as files: no file and directory
    /// fsync per small blob.
    std::uint64_t inline_blob_bytes = 64 * 1024;
    /// A writer's claim on an upload lasts this long without renewal; it is renewed while the
    /// writer writes. A node that dies while writing keeps the upload busy this long at most.
    std::int64_t upload_lease_seconds = 10;
};

/// One writer's hold on an upload, kept in the metadata store so it holds across every node
/// sharing it (a lease in the upload's row). Used by one thread at a time; its methods block.
class UploadClaim {
public:
    UploadClaim(meta::MetaStore& meta, const Clock& clock, std::string id, std::string holder,
                std::int64_t lease);
    /// Renews the lease once less than half of it is left, so that bytes are only written
    /// under a lease with at least half its time to run. Errors: blob_upload_invalid when the
    /// claim was lost (its lease ran out and another writer took the upload), unavailable.
    Result<void> keep();
    /// Gives the claim back (a no-op when it was lost or the upload is gone).
    void release();

private:
    meta::MetaStore& meta_;
    const Clock& clock_;
    std::string id_;
    std::string holder_;
    std::int64_t lease_;
    std::int64_t renew_at_;
};

/// Where a client may fetch a blob's bytes itself for a short while (a presigned URL).
struct BlobRedirect {
    std::string url;
};

/// A blob's bytes: an open blob (file or reader), the bytes themselves for a blob kept in the
/// metadata store, or a redirect when the blob store hands out URLs (S3 with redirects on).
using BlobContent = std::variant<storage::OpenBlob, std::string, BlobRedirect>;

/// An upload being appended to. Only one exists per upload at a time; give it back with
/// Registry::end_append (also on failure) so the running hash is kept.
struct Append {
    std::string id;
    std::unique_ptr<storage::UploadWriter> writer;
    Hasher hasher;
    std::shared_ptr<UploadClaim> claim;  ///< keeps the upload busy (one writer at a time, any node)
    storage::UploadState state;   ///< the storage state the session had when this began
    bool failed = false;          ///< a write failed: what it wrote is not kept
    /// Appends bytes to the upload and its running hash, renewing the claim when due.
    /// Errors: errc::unavailable, errc::blob_upload_invalid (the claim was lost).
    Result<void> write(std::span<const char> bytes);
};

/// One page of a listing (repositories or tags).
using Page = meta::Page;

struct PushedManifest {
    Digest digest;
    std::optional<Digest> subject;
};

class Registry {
public:
    Registry(storage::BlobStore& blobs, meta::MetaStore& meta, const Clock& clock, Options options);

    const Options& options() const noexcept { return options_; }

    // Blobs ---------------------------------------------------------------------------
    /// Size of a blob linked to `repo`. Errors: blob_unknown.
    Result<std::uint64_t> blob_size(const RepoName& repo, const Digest& digest);
    /// Opens a blob linked to `repo` (a redirect costs no storage call). The caller must
    /// already be authorised to pull from `repo`. Errors: blob_unknown, unavailable.
    Result<BlobContent> open_blob(const RepoName& repo, const Digest& digest);
    /// Unlinks a blob from `repo` (bytes go at garbage collection). Errors: blob_unknown.
    Result<void> delete_blob(const RepoName& repo, const Digest& digest);

    // Uploads -------------------------------------------------------------------------
    /// Opens an upload session in `repo` owned by `owner`; returns its id.
    Result<std::string> start_upload(const RepoName& repo, std::string owner = {});
    /// An upload session serves only the principal that opened it, in its repository.
    /// Errors: blob_upload_unknown (also for someone else's session: no hint that it exists).
    Result<void> check_upload_owner(const RepoName& repo, std::string_view id, std::string_view owner);
    /// Links `digest` from `from` into `to` when `from` has it. Returns false when it does not
    /// (the caller then opens a normal upload).
    Result<bool> mount_blob(const RepoName& to, const RepoName& from, const Digest& digest);
    /// Mount without a source (automatic content discovery): links `digest` into `to` from the
    /// first repository holding it that `readable` accepts (every one when `readable` is
    /// empty), looking at up to max_mount_candidates of them in name order. Returns false when
    /// none qualifies; the caller then opens a normal upload, which tells nothing of whether
    /// the blob exists elsewhere.
    Result<bool> mount_blob_discovered(const RepoName& to, const Digest& digest,
                                       const std::function<bool(const std::string&)>& readable);
    static constexpr std::size_t max_mount_candidates = 256;
    /// Bytes received so far. Errors: blob_upload_unknown.
    Result<std::uint64_t> upload_size(const RepoName& repo, std::string_view id);
    /// Starts appending. `start`, when given (Content-Range), must equal the current size.
    /// Errors: blob_upload_unknown, range_invalid (out of order), blob_upload_invalid (busy).
    Result<Append> begin_append(const RepoName& repo, std::string_view id, std::optional<std::uint64_t> start);
    /// Returns an Append (successful or not). Unless a write failed, makes what was written
    /// durable in storage and records the upload's new storage state and running hash with
    /// its session, so the next request may go to any node; then the bytes count. Blocks
    /// (storage and database I/O when the state changed). Then gives the claim back (a
    /// database write). Errors: errc::unavailable (the upload then stands where it stood
    /// before this Append).
    Result<void> end_append(Append append);
    /// Verifies the digest and commits the blob. Mismatch discards the upload (digest_invalid).
    /// Errors: blob_upload_unknown, digest_invalid, blob_upload_invalid, unavailable.
    Result<std::uint64_t> complete_upload(const RepoName& repo, std::string_view id, const Digest& digest);
    /// Like appending `body` and then complete_upload, for a small final body already in
    /// memory: when the upload is still empty and `body` fits options().inline_blob_bytes, the
    /// bytes never touch a file. Same errors.
    Result<std::uint64_t> complete_upload_with(const RepoName& repo, std::string_view id, const Digest& digest,
                                               std::string_view body);
    /// Cancels an upload. Errors: blob_upload_unknown.
    Result<void> cancel_upload(const RepoName& repo, std::string_view id);
    /// Deletes up to `limit` upload sessions idle longer than the expiry, with their bytes.
    /// Returns how many went. Safe to run while uploads continue.
    Result<std::size_t> purge_expired_uploads(std::size_t limit);

    // Manifests -----------------------------------------------------------------------
    /// Validates and stores a manifest under `reference` plus `extra_tags`.
    /// Errors: manifest_invalid, manifest_too_large, manifest_blob_unknown, digest_invalid,
    /// tag_invalid, unsupported.
    Result<PushedManifest> put_manifest(const RepoName& repo, const Reference& reference,
                                        std::string_view content_type, std::string body,
                                        const std::vector<std::string>& extra_tags);
    /// Errors: manifest_unknown.
    Result<ManifestCache::Entry> get_manifest(const RepoName& repo, const Reference& reference);
    /// The manifest if it is in the memory cache; never blocks (call it on any thread).
    ManifestCache::Entry cached_manifest(const RepoName& repo, const Reference& reference) const {
        auto hit = cache_.get(repo.str(), reference.str());
        if (hit) {
            cache_.lookups.inc(ManifestCache::Lookup::hit);
        }
        return hit;
    }
    /// Manifest cache hits and misses (see ManifestCache::lookups).
    const metrics::Counter& manifest_cache_lookups() const noexcept { return cache_.lookups; }
    /// By digest: deletes the manifest (and its tags). By tag: deletes the tag only.
    /// Errors: manifest_unknown.
    Result<void> delete_manifest(const RepoName& repo, const Reference& reference);

    // Listings ------------------------------------------------------------------------
    /// Errors: name_unknown, pagination_invalid.
    Result<Page> list_tags(const RepoName& repo, std::string_view last, std::size_t n);
    /// Errors: pagination_invalid.
    Result<Page> catalog(std::string_view last, std::size_t n);
    /// The referrers of `digest` in `repo` as an OCI image index (JSON text).
    Result<std::string> referrers(const RepoName& repo, const Digest& digest, std::string_view artifact_type);

private:
    Result<meta::UploadRow> find_upload(const RepoName& repo, std::string_view id);
    /// The running hash of `row`'s `size` bytes: from memory, from the session's saved hash,
    /// or by reading the upload back from storage.
    Result<Hasher> running_hash(const meta::UploadRow& row, std::uint64_t size, DigestAlgorithm alg);
    void forget_upload(std::string_view id);
    /// Forgets upload `row` with its session and bytes (a digest mismatch).
    void discard_upload(const meta::UploadRow& row);
    /// An upload claimed for completion: the claim, the bytes it has so far, its session.
    struct Completing {
        std::shared_ptr<UploadClaim> claim;
        std::uint64_t size;
        meta::UploadRow row;
    };
    Result<Completing> begin_completion(const RepoName& repo, std::string_view id);
    /// Finishes `hasher`; on a mismatch discards upload `row` (errc::digest_invalid).
    Result<void> check_digest(const meta::UploadRow& row, Hasher& hasher, const Digest& expected);
    /// Claims upload `id` for this writer on every node (errc::blob_upload_invalid when
    /// another holds it, blob_upload_unknown when it is gone). Give it back with release().
    Result<std::shared_ptr<UploadClaim>> claim_upload(std::string_view id);
    /// end_append's bookkeeping before the claim goes: storage state and running hash.
    Result<void> record_append(Append& append);
    /// complete_upload once claimed.
    Result<std::uint64_t> complete_claimed(const RepoName& repo, const Digest& digest,
                                           const Completing& up);
    /// Records verified blob bytes held in memory in the metadata store, ending upload `id`.
    Result<std::uint64_t> link_inline(const RepoName& repo, const meta::UploadRow& row, const Digest& digest,
                                      std::string_view bytes);

    storage::BlobStore& blobs_;
    meta::MetaStore& meta_;
    const Clock& clock_;
    Options options_;
    ManifestCache cache_;

    std::mutex mu_;  // guards the map below; never held across I/O
    /// Running sha256 per upload, valid only for the size it has hashed: another node may
    /// have appended since, and then the saved or re-read state is used.
    std::unordered_map<std::string, Hasher> hashes_;
};

/// Maps a lower layer's failure to errc::unavailable (logging the detail) unless it is
/// already a registry error.
Error unavailable(const Error& e);

}  // namespace dermaga::registry
