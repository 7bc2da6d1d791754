#pragma once
// S3-compatible BlobStore (AWS S3, Ceph RGW, MinIO, Garage...). Object layout in the bucket:
//
//   <prefix>blobs/sha256/<hex>          committed blob, named by its digest
//   <prefix>blobs/sha512/<hex>
//   <prefix>uploads/<id>/data           multipart upload target of upload <id>, then its
//                                       completed bytes until the upload is deleted
//   <prefix>uploads/<id>/tail           bytes of upload <id> not yet in a part (< one part)
//
// Uploads stream into S3 multipart uploads in parts of `part_size` bytes; at most one part is
// buffered per writer. Between requests the upload lives entirely in S3 plus its UploadState
// (multipart upload id, part numbers, sizes and ETags, tail size), which the caller keeps in
// the metadata store: any node can continue or commit it. A commit completes the multipart
// upload and copies it server-side to the blob's key (part by part above 5 GiB); a blob
// smaller than one part is copied from its tail object. An existing blob wins.

#include <memory>

#include "storage/blob_store.hpp"
#include "storage/s3/s3_client.hpp"

namespace dermaga::storage::s3 {

struct S3Upload;

struct S3StoreOptions {
    S3Options s3;
    std::string prefix;  ///< key prefix inside the bucket ("" or ending in '/')
    std::uint64_t part_size = 8u << 20;  ///< bytes per multipart part, at least 5 MiB
    /// Pulls answer with a presigned URL valid this long (0: bytes go through the registry).
    std::int64_t redirect_seconds = 0;
    /// Blobs larger than this are copied to their key part by part (UploadPartCopy) at
    /// commit: S3's CopyObject stops at 5 GiB. Lower only in tests.
    std::uint64_t multipart_copy_above = 5ull << 30;
    std::uint64_t copy_part_size = 512ull << 20;
};

class S3BlobStore final : public BlobStore {
public:
    /// Throws std::invalid_argument on a bad configuration (start-up only). Does no I/O.
    explicit S3BlobStore(S3StoreOptions options);

    /// Creates the bucket (tests and first start-up); an existing bucket of ours is fine.
    Result<void> create_bucket() { return client_->create_bucket(); }

    Result<std::uint64_t> stat(const Digest& digest) override;
    Result<OpenBlob> open(const Digest& digest) override;
    Result<void> remove(const Digest& digest) override;
    /// DeleteObjects, 1,000 keys a call.
    Result<void> remove_many(std::span<const Digest> digests) override;
    /// HEAD of the bucket: reachable, and our credentials work.
    Result<void> ready() override;
    std::optional<std::string> redirect_url(const Digest& digest) override;
    Result<void> create_upload(std::string_view id) override;
    Result<std::unique_ptr<UploadWriter>> append_upload(std::string_view id, const UploadState& state) override;
    Result<std::uint64_t> upload_size(std::string_view id, const UploadState& state) override;
    Result<OpenBlob> read_upload(std::string_view id, const UploadState& state) override;
    Result<void> commit_upload(std::string_view id, const UploadState& state, const Digest& digest) override;
    Result<void> delete_upload(std::string_view id, const UploadState& state) override;
    /// Multipart uploads initiated before `modified_before`.
    Result<std::vector<std::string>> stale_uploads(std::int64_t modified_before, std::size_t limit) override;

    std::string blob_key(const Digest& d) const;
    std::string upload_key(std::string_view id, std::string_view what) const;
    S3Client& client() noexcept { return *client_; }
    const S3StoreOptions& options() const noexcept { return options_; }

private:
    /// Sends the tail as the last part and completes the multipart upload of upload `id`.
    /// Errors: not_found when the multipart upload no longer exists.
    Result<void> complete(std::string_view id, const S3Upload& up);
    Result<void> copy_large(std::string_view from, std::string_view to, std::uint64_t size);

    S3StoreOptions options_;
    std::unique_ptr<S3Client> client_;
};

}  // namespace dermaga::storage::s3
