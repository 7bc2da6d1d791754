#pragma once
// The HTTP/1.1 server: accepts connections (plain, or HTTPS only when TLS is configured), reads
// the header first, hands the handler a streaming body, writes the response (files by sendfile,
// or in bounded pieces over TLS), enforces deadlines and limits, writes the access log, reloads
// its certificate on demand, and shuts down gracefully.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"
#include "http/tls.hpp"

namespace dermaga::http {

using Handler = std::function<asio::awaitable<Response>(Request&)>;

/// What the server saw of one request, once its response is written (or failed).
struct RequestRecord {
    Method method = Method::other;
    std::string_view path;       ///< not decoded; valid during the call only
    unsigned status = 0;
    std::uint64_t received = 0;  ///< request body bytes read (by the handler, or drained)
    std::uint64_t sent = 0;      ///< response body bytes written (0 when aborted)
    std::chrono::steady_clock::duration elapsed{};  ///< header read → response written
    bool aborted = false;        ///< the response could not be written completely
};

/// Told about every request; this is how metrics reach the server without http/ knowing them.
class ServerObserver {
public:
    virtual ~ServerObserver() = default;
    /// Called on an I/O thread after each response: must be cheap and must not block.
    virtual void request_done(const RequestRecord& r) noexcept = 0;
};

struct ServerOptions {
    /// The whole header (from the accept for a connection's first request, from its first
    /// byte for later ones), and each read of a body.
    std::chrono::seconds read_timeout{60};
    std::chrono::seconds write_timeout{60};  ///< per write of a response piece
    std::chrono::seconds idle_timeout{120};  ///< keep-alive: until the next request's first byte
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_connections = 10000;
    bool access_log = true;
    /// Slowest average a body may arrive at, in bytes per second after a grace of
    /// `read_timeout` (each `min_body_rate` bytes received earn one more second); 0: no limit.
    std::uint64_t min_body_rate = 4096;
    /// When set, the listener speaks HTTPS only; the handshake has `read_timeout`.
    std::optional<TlsOptions> tls;
    /// Optional; must outlive the server.
    ServerObserver* observer = nullptr;
};
// The server ignores SIGPIPE (once constructed): OpenSSL writes to the socket with write(2), and
// a peer that went away must fail that write, not end the process.

/// Thread-safe after start(); the handler runs on the io_context's threads and may be called
/// concurrently.
class Server {
public:
    /// Throws std::runtime_error with a one-line reason naming the file when `options.tls` is
    /// set and its files cannot be loaded (start-up only).
    Server(asio::io_context& io, ServerOptions options, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens on "host:port" (port 0 picks a free port). Throws on failure
    /// (start-up only).
    void listen(const std::string& host, std::uint16_t port);
    /// The bound port.
    std::uint16_t port() const;
    /// Whether the listener speaks HTTPS.
    bool tls() const;
    /// How many file bodies went out through kernel TLS (SSL_sendfile) so far.
    std::uint64_t kernel_tls_sends() const;
    /// Connections open now (TLS handshakes included). Lock-free; any thread.
    std::int64_t open_connections() const;
    /// Requests whose header was read and whose response is not written yet. Lock-free.
    std::int64_t requests_in_flight() const;
    /// Loads the configured TLS files afresh. On success, connections accepted from now on use
    /// the new certificate and client CA; open connections keep theirs. On failure nothing
    /// changes. Blocking (reads files); thread-safe. Errors: errc::tls_config with a one-line
    /// reason, also when TLS is not configured.
    Result<void> reload_tls();
    /// Stops accepting, closes idle keep-alive connections, and lets in-flight requests finish.
    /// `done` is called (on an io thread) once no connection is left or `grace` has passed.
    void shutdown(std::chrono::seconds grace, std::function<void()> done);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dermaga::http
