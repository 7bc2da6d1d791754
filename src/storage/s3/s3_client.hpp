#pragma once
// The S3 operations the blob store needs, over HttpClient and the SigV4 signer: objects
// (HEAD, ranged GET, PUT, DELETE, server-side copy), multipart uploads (create, upload part,
// upload part by copy, complete, abort, list), DeleteObjects batches, presigned GET URLs.
// Transient failures (connection errors, 5xx, 429, SlowDown) are retried with jittered
// exponential back-off; everything else fails at once. Errors are storage::errc::io_error
// (not_found for a missing object) with the S3 detail for the log, never for clients.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/s3/http_client.hpp"
#include "storage/s3/sigv4.hpp"

namespace dermaga::storage::s3 {

struct S3Options {
    std::string endpoint;  ///< scheme://host[:port], e.g. https://s3.eu-west-1.amazonaws.com
    std::string region = "us-east-1";
    std::string bucket;
    bool path_style = true;  ///< endpoint/bucket/key; false: bucket.host/key (virtual-hosted)
    Credentials credentials;
    HttpOptions http;
    int attempts = 3;  ///< tries per call, transient failures only
    std::chrono::milliseconds backoff_base{100};
    std::chrono::milliseconds backoff_max{2000};
    /// Seconds since the epoch; replaced in tests.
    std::function<std::int64_t()> now;
};

struct ObjectInfo {
    std::uint64_t size = 0;
};

struct Part {
    int number = 0;
    std::string etag;
};

struct MultipartUpload {
    std::string key;
    std::string upload_id;
    std::string initiated;  ///< ISO 8601 as S3 gives it
};

class S3Client {
public:
    /// Throws std::invalid_argument for an unusable endpoint (start-up only).
    explicit S3Client(S3Options options);

    const S3Options& options() const noexcept { return options_; }

    /// Size of an object, or nullopt when it does not exist.
    Result<std::optional<ObjectInfo>> head(std::string_view key);
    /// Reads bytes [offset, offset + into.size()) (fewer at the end of the object).
    /// Errors: not_found, io_error.
    Result<std::size_t> get_range(std::string_view key, std::uint64_t offset, std::span<char> into);
    /// The whole object (small objects only). Errors: not_found, io_error.
    Result<std::string> get(std::string_view key);
    Result<void> put(std::string_view key, std::string_view body);
    /// Deleting a missing object succeeds.
    Result<void> remove(std::string_view key);
    /// Deletes up to 1,000 keys in one DeleteObjects call. Missing keys count as deleted.
    Result<void> remove_batch(const std::vector<std::string>& keys);
    /// Server-side copy of an object up to 5 GiB.
    Result<void> copy(std::string_view from, std::string_view to);

    Result<std::string> create_multipart(std::string_view key);
    /// Returns the part's ETag.
    Result<std::string> upload_part(std::string_view key, std::string_view upload_id, int number, std::string_view body);
    /// Copies bytes [first, last] of `from` into a part. Returns the part's ETag.
    Result<std::string> upload_part_copy(std::string_view key, std::string_view upload_id, int number,
                                         std::string_view from, std::uint64_t first, std::uint64_t last);
    /// Errors: not_found when the upload no longer exists (completed or aborted).
    Result<void> complete_multipart(std::string_view key, std::string_view upload_id, const std::vector<Part>& parts);
    /// Aborting an unknown upload succeeds.
    Result<void> abort_multipart(std::string_view key, std::string_view upload_id);
    /// Multipart uploads in progress under `prefix` (one page of up to 1,000).
    Result<std::vector<MultipartUpload>> list_multipart(std::string_view prefix);

    /// Creates the bucket; an existing bucket of ours is fine.
    Result<void> create_bucket();
    /// A cheap reachability and credentials check (HEAD of the bucket).
    Result<void> head_bucket();
    /// A presigned GET URL for `key`, valid `expires_seconds`.
    std::string presign_get(std::string_view key, std::int64_t expires_seconds) const;

private:
    struct Call {
        std::string method;
        std::string key;  ///< "" for the bucket itself
        std::vector<std::pair<std::string, std::string>> query;
        std::vector<std::pair<std::string, std::string>> headers;
        std::string_view body;
        std::span<char> sink;
    };
    /// Signs and sends `call`, retrying transient failures. Any final status is returned.
    Result<HttpResponse> send(const Call& call);
    HttpRequest build(const Call& call, std::int64_t now) const;
    /// "/bucket/key" or "/key", URI-encoded.
    std::string path_for(std::string_view key) const;
    std::string host_;    ///< Host header value (with the bucket for virtual-hosted)
    std::string scheme_;  ///< http or https

    S3Options options_;
    Signer signer_;
    HttpClient http_;
};

/// The values of every <tag>…</tag> in `xml`, entity-decoded, in document order.
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag);
/// The S3 error code of an error response body (<Code>), or "".
std::string s3_error_code(std::string_view xml);

}  // namespace dermaga::storage::s3
