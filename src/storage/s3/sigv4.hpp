#pragma once
// AWS Signature Version 4 for S3: canonical request, string to sign, signing key, and the
// two ways of carrying the signature (the Authorization header, or a presigned URL's query).
// Pure functions over OpenSSL's SHA-256/HMAC; no I/O, no clock (the caller passes the time).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dermaga::storage::s3 {

struct Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token;  ///< optional (temporary credentials): sent as x-amz-security-token
};

/// A request as far as signing is concerned.
struct SignedRequest {
    std::string method;
    /// The path exactly as sent on the wire, already URI-encoded (see uri_encode_path).
    std::string path;
    /// Query parameters, not encoded; duplicates allowed. A parameter without a value is "".
    std::vector<std::pair<std::string, std::string>> query;
    /// Headers to sign (must include host); names any case, values are trimmed.
    std::vector<std::pair<std::string, std::string>> headers;
    /// Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
    std::string payload_hash;
};

/// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);
/// Hex SHA-256 of an empty body.
inline constexpr std::string_view empty_payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// RFC 3986 percent-encoding as SigV4 wants it (unreserved characters kept, '/' kept when
/// `keep_slash`, everything else as %XX upper-case).
std::string uri_encode(std::string_view s, bool keep_slash);
/// The canonical query string: encoded names and values, sorted by name then value.
std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query);
/// The canonical request (task 1 of the signing process).
std::string canonical_request(const SignedRequest& req);
/// "YYYYMMDDTHHMMSSZ" for a Unix time.
std::string amz_date(std::int64_t unix_seconds);

/// Signs for S3 (`service` "s3") in `region`.
class Signer {
public:
    Signer(Credentials credentials, std::string region, std::string service = "s3");

    /// The Authorization header value for `req`, signed at `when` ("YYYYMMDDTHHMMSSZ", which
    /// must also be the request's x-amz-date header).
    std::string authorization(const SignedRequest& req, std::string_view when) const;
    /// The query string of a presigned URL for `req` (whose headers are just host, and whose
    /// query holds any extra parameters), valid `expires_seconds` from `when`.
    std::string presign_query(SignedRequest req, std::string_view when, std::int64_t expires_seconds) const;

    const Credentials& credentials() const noexcept { return credentials_; }

private:
    std::string scope(std::string_view when) const;
    std::string signature(const std::string& canonical, std::string_view when) const;

    Credentials credentials_;
    std::string region_;
    std::string service_;
};

}  // namespace dermaga::storage::s3
