#pragma once
// A small synchronous HTTP/1.1 client over Boost.Beast for the API suite. Every operation has
// a deadline (a stuck server fails the test instead of hanging it). Not thread-safe: use one
// client per thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dermaga::test {

using Headers = std::vector<std::pair<std::string, std::string>>;

/// A complete response as the client received it.
struct HttpResponse {
    unsigned status = 0;
    Headers headers;
    std::string body;

    /// First value of a header (case-insensitive name); empty when absent.
    std::string header(std::string_view name) const;
    bool has_header(std::string_view name) const;
    /// Every value of a repeated header, in order.
    std::vector<std::string> header_all(std::string_view name) const;
};

/// Whether the body is sent with Content-Length (the default) or chunked transfer encoding.
enum class Framing { content_length, chunked };

/// Whether a connection is reused across requests.
enum class KeepAlive { yes, no };

class HttpClient {
public:
    HttpClient(std::string host, std::uint16_t port, KeepAlive keep_alive = KeepAlive::yes,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Sends one request and reads the whole response. `target` is origin-form (path+query).
    /// Throws std::runtime_error on connection failures and deadlines.
    HttpResponse request(std::string_view method, std::string_view target,
                         const Headers& headers = {}, std::string_view body = {},
                         Framing framing = Framing::content_length);

    HttpResponse get(std::string_view target, const Headers& headers = {}) {
        return request("GET", target, headers);
    }
    HttpResponse head(std::string_view target, const Headers& headers = {}) {
        return request("HEAD", target, headers);
    }
    HttpResponse del(std::string_view target, const Headers& headers = {}) {
        return request("DELETE", target, headers);
    }
    HttpResponse post(std::string_view target, std::string_view body = {},
                      const Headers& headers = {}) {
        return request("POST", target, headers, body);
    }
    HttpResponse put(std::string_view target, std::string_view body = {},
                     const Headers& headers = {}) {
        return request("PUT", target, headers, body);
    }
    HttpResponse patch(std::string_view target, std::string_view body = {},
                       const Headers& headers = {}) {
        return request("PATCH", target, headers, body);
    }

    /// Drops the current connection (the next request opens a new one).
    void close();
    /// Connects from `address` (e.g. "127.0.0.2": any 127/8 address is local) instead of the
    /// one the kernel picks, so that a test can act as another client address.
    void set_local_address(std::string address);

    /// Opens a fresh connection, writes `bytes` verbatim (then, with HalfClose::yes, shuts down
    /// its sending side) and returns everything read until the server closes the connection or
    /// the deadline passes.
    enum class HalfClose { no, yes };
    static std::string raw_exchange(const std::string& host, std::uint16_t port,
                                    std::string_view bytes, HalfClose half_close = HalfClose::no,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dermaga::test
