#pragma once
// MetaStore: the source of truth for everything but the bytes of large blobs. Every method is one
// transaction; every method blocks (call through run_blocking) and is thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/result.hpp"

namespace dermaga::meta {

enum class errc {
    not_found = 1,
    reference_missing,  ///< a manifest references a blob/manifest absent from its repository
    conflict,           ///< a concurrent change won; retry
    db_error,
};
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

struct UploadRow {
    std::string id;
    std::string repo;
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    std::string owner;  ///< the principal that opened it ("" when access control is off)
    std::string storage_state;  ///< the blob store's opaque UploadState ("" until it has one)
    std::string hash_state;     ///< the running hash of the bytes so far ("" when not kept)
};

/// A child a manifest references (blob or manifest), checked against the repository.
struct ManifestRef {
    std::string digest;
    enum class Kind { blob, manifest } kind = Kind::blob;
};

struct ManifestPut {
    std::string repo;
    std::string digest;
    std::string media_type;
    std::string body;
    std::string artifact_type;     ///< for referrers filtering
    std::string subject;           ///< digest of the subject, empty when none
    std::string annotations_json;  ///< for referrers responses
    std::vector<ManifestRef> refs;
    std::vector<std::string> tags;  ///< tags to point at this manifest
    std::int64_t now = 0;
};

struct ManifestRecord {
    std::string digest;
    std::string media_type;
    std::string body;
};

struct Referrer {
    std::string digest;
    std::string media_type;
    std::int64_t size = 0;
    std::string artifact_type;
    std::string annotations_json;
};

/// One page of names; `more` says whether a further page exists.
struct Page {
    std::vector<std::string> names;
    bool more = false;
};

/// A blob as a repository sees it: its size, and its bytes when the metadata store keeps them.
struct LinkedBlob {
    std::uint64_t size = 0;
    std::optional<std::string> data;
};

/// How much the store holds (for metrics). Counted on demand: see MetaStore::counts.
struct StoreCounts {
    std::uint64_t repositories = 0;    ///< holding at least one manifest (as the catalog lists them)
    std::uint64_t manifests = 0;       ///< per repository: one digest in two repositories counts twice
    std::uint64_t tags = 0;
    std::uint64_t blobs = 0;           ///< each digest once, however many repositories link it
    std::uint64_t blob_bytes = 0;      ///< sizes of those blobs, each once
    std::uint64_t manifest_bytes = 0;  ///< sizes of the manifests counted above
    std::uint64_t uploads = 0;         ///< upload sessions open
};

class MetaStore {
public:
    virtual ~MetaStore() = default;

    // Blobs ------------------------------------------------------------------------------
    /// Size of a blob if it is linked to `repo`, else nullopt.
    virtual Result<std::optional<std::uint64_t>> linked_blob(std::string_view repo, std::string_view digest) = 0;
    /// Records blob `digest` of `size` bytes and links it to `repo` (creating the repository),
    /// and deletes upload `upload_id` if not empty — all in one transaction. With `data`, the
    /// blob's bytes are kept here instead of in the blob store (unless the blob is already
    /// recorded: the first copy wins).
    virtual Result<void> link_blob(std::string_view repo, std::string_view digest, std::uint64_t size,
                                   std::string_view upload_id, std::int64_t now,
                                   std::optional<std::string_view> data = std::nullopt) = 0;
    /// A blob linked to `repo`, with its bytes when they are kept here (nullopt data: the blob
    /// store has them); nullopt when not linked.
    virtual Result<std::optional<LinkedBlob>> linked_blob_content(std::string_view repo, std::string_view digest) = 0;
    /// Removes the link; returns false when there was none.
    virtual Result<bool> unlink_blob(std::string_view repo, std::string_view digest) = 0;
    /// Repositories `digest` is linked to, in lexical order after `last`, at most `n`.
    virtual Result<Page> blob_repositories(std::string_view digest, std::string_view last,
                                           std::size_t n) = 0;

    // Uploads ----------------------------------------------------------------------------
    virtual Result<void> create_upload(const UploadRow& row) = 0;
    virtual Result<std::optional<UploadRow>> get_upload(std::string_view id) = 0;
    /// Records where upload `id` stands after a request appended to it (its storage state and
    /// running hash) and touches it. Updating a missing upload succeeds and changes nothing.
    virtual Result<void> set_upload_state(std::string_view id, std::string_view storage_state,
                                          std::string_view hash_state, std::int64_t now) = 0;
    /// Claims upload `id` for one writer across every node: succeeds when nobody holds it or
    /// the holder's lease ended before `now`. Sets the holder, the lease end `until` and
    /// updated_at = `now`. False when someone else holds it or the upload does not exist.
    virtual Result<bool> claim_upload(std::string_view id, std::string_view holder,
                                      std::int64_t now, std::int64_t until) = 0;
    /// Extends `holder`'s claim to `until` (and updated_at to `now`). False when `holder` no
    /// longer holds it (its lease ran out and someone else claimed it, or the upload went).
    virtual Result<bool> renew_upload_claim(std::string_view id, std::string_view holder,
                                            std::int64_t now, std::int64_t until) = 0;
    /// Gives `holder`'s claim back; nothing happens when `holder` does not hold it.
    virtual Result<void> release_upload_claim(std::string_view id, std::string_view holder) = 0;
    /// Frees every upload's claim. Only for a process that knows it is the database's one
    /// writer (the embedded SQLite mode at start-up): every claim left is then a dead one's.
    virtual Result<void> release_all_upload_claims() = 0;
    virtual Result<void> delete_upload(std::string_view id) = 0;
    /// Ids of uploads idle since before `updated_before`, at most `limit`.
    virtual Result<std::vector<std::string>> expired_uploads(std::int64_t updated_before, std::size_t limit) = 0;

    // Manifests and tags -----------------------------------------------------------------
    /// Stores a manifest, its references and tags in one transaction. Errors:
    /// errc::reference_missing (detail = the missing digest).
    virtual Result<void> put_manifest(const ManifestPut& m) = 0;
    virtual Result<std::optional<ManifestRecord>> manifest_by_digest(std::string_view repo, std::string_view digest) = 0;
    virtual Result<std::optional<ManifestRecord>> manifest_by_tag(std::string_view repo, std::string_view tag) = 0;
    /// Deletes a manifest and every tag pointing at it; false when absent.
    virtual Result<bool> delete_manifest(std::string_view repo, std::string_view digest) = 0;
    /// Deletes a tag only; false when absent.
    virtual Result<bool> delete_tag(std::string_view repo, std::string_view tag) = 0;
    /// Tags of `repo` in lexical order after `last`, at most `n`. nullopt: no such repository.
    virtual Result<std::optional<Page>> list_tags(std::string_view repo, std::string_view last, std::size_t n) = 0;
    /// Repositories holding at least one manifest, lexical order after `last`, at most `n`.
    virtual Result<Page> list_repositories(std::string_view last, std::size_t n) = 0;
    /// Manifests in `repo` whose subject is `digest`, optionally filtered by artifact type.
    virtual Result<std::vector<Referrer>> referrers(std::string_view repo, std::string_view digest,
                                                    std::string_view artifact_type) = 0;
    virtual Result<bool> repository_exists(std::string_view repo) = 0;

    // Operations -------------------------------------------------------------------------
    /// Whether the store can serve: the database answers and its schema is at the version
    /// this binary expects (migrations done). Cheap (one small read). Errors: errc::db_error
    /// with a short reason that is safe to show to anyone (no paths, hosts or credentials).
    virtual Result<void> ready() = 0;
    /// What the store holds, in one consistent read. May scan whole tables: call it from a
    /// background refresh every so often, never per request or per scrape.
    virtual Result<StoreCounts> counts() = 0;
};

}  // namespace dermaga::meta

template <>
struct std::is_error_code_enum<dermaga::meta::errc> : std::true_type {};
