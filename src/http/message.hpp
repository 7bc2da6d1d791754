#pragma once
// HTTP request and response as handlers see them. Knows nothing about OCI.

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "core/unique_fd.hpp"

namespace dermaga::http {

namespace asio = boost::asio;

enum class Method { get, head, post, put, patch, del, options, other };

/// Source of a request body, read in pieces straight from the socket.
class BodySource {
public:
    virtual ~BodySource() = default;
    /// Reads up to out.size() bytes; returns 0 at the end of the body. Errors (client gone,
    /// deadline passed, malformed chunking) come back as a failed Result with an http errc.
    virtual asio::awaitable<Result<std::size_t>> read_some(std::span<char> out) = 0;
    /// The declared Content-Length, if any (absent for chunked transfer encoding).
    virtual std::optional<std::uint64_t> content_length() const = 0;
};

enum class errc { client_closed = 1, timeout, bad_body, body_too_large, tls_config };
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// One parsed request. Valid only for the duration of the handler call.
class Request {
public:
    Request(Method method, std::string target, std::vector<std::pair<std::string, std::string>> headers,
            BodySource& body, std::string request_id, std::string remote, std::string client_cert_cn = {});

    Method method() const noexcept { return method_; }
    /// The raw request target (path plus query string).
    const std::string& target() const noexcept { return target_; }
    /// The path part of the target, not percent-decoded.
    std::string_view path() const noexcept { return path_; }
    /// The first value of a query parameter (percent-decoded), if present.
    std::optional<std::string> query(std::string_view name) const;
    /// Every value of a repeated query parameter, in order.
    std::vector<std::string> query_all(std::string_view name) const;
    /// A header value (case-insensitive name); empty when absent.
    std::string_view header(std::string_view name) const;
    bool has_header(std::string_view name) const;
    BodySource& body() noexcept { return body_; }
    const std::string& request_id() const noexcept { return request_id_; }
    const std::string& remote() const noexcept { return remote_; }
    /// The subject CN of the client certificate verified during the TLS handshake; empty on
    /// plain HTTP, without a certificate, or when the certificate has no CN. Never set from an
    /// unverified certificate.
    const std::string& client_cert_cn() const noexcept { return client_cert_cn_; }

    /// Reads the whole body if it is at most `limit` bytes.
    /// Errors: errc::body_too_large, or the BodySource's errors.
    asio::awaitable<Result<std::string>> read_body(std::size_t limit);

private:
    Method method_;
    std::string target_;
    std::string_view path_;
    std::string_view query_string_;
    std::vector<std::pair<std::string, std::string>> headers_;
    BodySource& body_;
    std::string request_id_;
    std::string remote_;
    std::string client_cert_cn_;
};

/// A body served from an open file: sent with sendfile(2) on plain HTTP, in bounded pread
/// chunks over TLS. Owns the descriptor.
struct FileBody {
    UniqueFd fd;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    /// Optional. Called on the I/O thread as the send advances, with each window of
    /// `read_ahead_window` bytes that is about to be sent (at most two windows ahead), so the
    /// owner can pull it into the page cache elsewhere; a cold file then stalls a worker
    /// instead of the I/O thread. Never called after the response ends.
    std::function<void(std::uint64_t offset, std::uint64_t length)> read_ahead;
};

inline constexpr std::uint64_t read_ahead_window = 8u << 20;

/// A body produced in pieces elsewhere (an object in object storage, fetched on the blocking
/// pool): `next` is awaited on the I/O thread for each piece, in order, until `length` bytes
/// are sent, each piece written under the write deadline. An error, or an empty or too long
/// piece, ends the response early and closes the connection (as a file shorter than promised
/// does). Never called after the response ends.
struct StreamBody {
    std::uint64_t length = 0;
    std::function<asio::awaitable<Result<std::string>>()> next;
};

/// A response. `content_length` overrides the body size (used for HEAD answers).
struct Response {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::variant<std::string, FileBody, StreamBody> body;
    std::optional<std::uint64_t> content_length;
    /// Close the connection after this response.
    bool close = false;

    Response& set(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

/// Percent-decodes a query component ('+' is a space). Invalid escapes are kept verbatim.
std::string percent_decode(std::string_view s);

}  // namespace dermaga::http

template <>
struct std::is_error_code_enum<dermaga::http::errc> : std::true_type {};
