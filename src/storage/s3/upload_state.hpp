#pragma once
// The S3 store's UploadState: what an upload in progress has in S3. Serialised as a few
// lines of text ("v1", "size N", "mpu ID", "part NUMBER SIZE ETAG"..., "tail N"), small
// enough for a database column even for thousands of parts.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/s3/s3_client.hpp"

namespace dermaga::storage::s3 {

struct S3Upload {
    std::uint64_t size = 0;      ///< bytes in the upload: the parts, then the tail
    std::string multipart_id;    ///< "" until the first part is sent
    std::vector<Part> parts;     ///< in order, numbers 1..n
    std::vector<std::uint64_t> part_sizes;
    std::uint64_t tail = 0;      ///< bytes in the tail object (0: none)

    std::string encode() const;
    /// nullopt for a value this store did not write. "" is a new, empty upload.
    static std::optional<S3Upload> decode(const std::string& state);
};

}  // namespace dermaga::storage::s3
