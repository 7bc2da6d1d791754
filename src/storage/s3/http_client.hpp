#pragma once
// A small blocking HTTP/1.1 client for the S3 driver, over libcurl: keep-alive connections
// kept in a pool of handles (one request per handle at a time, any thread), TLS verified
// against the system store or a CA file, and bounded waits everywhere (connect, and a stall
// timeout while bytes should be moving) so that a dead endpoint fails a call in seconds.
// Knows nothing of S3; one attempt per call (retries are the caller's policy).

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace dermaga::storage::s3 {

struct HttpOptions {
    std::string ca_file;  ///< PEM bundle for https endpoints; empty: the system store
    std::chrono::milliseconds connect_timeout{3000};
    /// A transfer that moves no byte for this long fails (a hung peer, a black hole).
    std::chrono::milliseconds stall_timeout{15000};
};

struct HttpRequest {
    std::string method;  ///< GET, HEAD, PUT, POST, DELETE
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string_view body;  ///< sent as is (Content-Length), must outlive the call
    /// When set, a 2xx body goes here instead of HttpResponse::body (at most sink.size()
    /// bytes; more is an error) and HttpResponse::sunk says how many arrived.
    std::span<char> sink;
};

struct HttpResponse {
    long status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-case
    std::string body;
    std::size_t sunk = 0;
    /// The value of header `name` (lower-case), or "".
    std::string_view header(std::string_view name) const;
};

/// Failures of the transport itself (no HTTP status): connection refused or reset, DNS, TLS,
/// timeouts. Callers treat them as transient.
enum class http_errc { transport = 1 };
const std::error_category& http_category() noexcept;
inline std::error_code make_error_code(http_errc e) noexcept { return {static_cast<int>(e), http_category()}; }

class HttpClient {
public:
    explicit HttpClient(HttpOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Sends one request and reads the whole response. Any status is a success here.
    /// Errors: http_errc::transport (with curl's reason).
    Result<HttpResponse> send(const HttpRequest& request);

private:
    struct Handle;
    std::unique_ptr<Handle> take();
    void give_back(std::unique_ptr<Handle> h);

    HttpOptions options_;
    std::mutex mu_;
    std::vector<std::unique_ptr<Handle>> idle_;
};

}  // namespace dermaga::storage::s3

template <>
struct std::is_error_code_enum<dermaga::storage::s3::http_errc> : std::true_type {};
