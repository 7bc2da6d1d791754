#pragma once
// Filesystem BlobStore. Layout under the root directory:
//
//   <root>/
//     blobs/
//       sha256/ab/ab3f…e1        committed blob, named by its digest hex, read-only
//       sha512/0c/0c9a…77
//     uploads/
//       <upload id>              bytes of an upload in progress, appended in order
//
// A commit fsyncs the upload, hard-links it into blobs/ (atomic within one filesystem) and fsyncs
// the directory, so a crash leaves either no blob or the whole blob; the upload name goes only
// once the metadata store has recorded the blob.

#include <filesystem>

#include "storage/blob_store.hpp"

namespace dermaga::storage {

class FsBlobStore final : public BlobStore {
public:
    /// Creates the directory tree if missing. Throws std::runtime_error when it cannot
    /// (start-up only).
    explicit FsBlobStore(std::filesystem::path root);

    Result<std::uint64_t> stat(const Digest& digest) override;
    Result<OpenBlob> open(const Digest& digest) override;
    Result<void> remove(const Digest& digest) override;
    Result<void> create_upload(std::string_view id) override;
    Result<std::unique_ptr<UploadWriter>> append_upload(std::string_view id, const UploadState& state) override;
    Result<std::uint64_t> upload_size(std::string_view id, const UploadState& state) override;
    Result<OpenBlob> read_upload(std::string_view id, const UploadState& state) override;
    Result<void> commit_upload(std::string_view id, const UploadState& state, const Digest& digest) override;
    Result<void> delete_upload(std::string_view id, const UploadState& state) override;
    Result<std::vector<std::string>> stale_uploads(std::int64_t modified_before, std::size_t limit) override;
    /// blobs/ and uploads/ are directories we may write to (a read-only remount or a vanished
    /// mount fails this; root ignores permission bits, so they are not checked for it).
    Result<void> ready() override;

private:
    std::filesystem::path blob_path(const Digest& d) const;
    std::filesystem::path upload_path(std::string_view id) const;
    std::filesystem::path root_;
};

}  // namespace dermaga::storage
