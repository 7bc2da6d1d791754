#pragma once
// The HTTP/1.1 server: accepts connections, reads the header first, hands the handler a
// streaming body, writes the response (files by sendfile), enforces deadlines and limits,
// writes the access log, and shuts down gracefully.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/message.hpp"

namespace dermaga::http {

using Handler = std::function<asio::awaitable<Response>(Request&)>;

struct ServerOptions {
    std::chrono::seconds read_timeout{60};   ///< per read of header or body piece
    std::chrono::seconds write_timeout{60};  ///< per write of a response piece
    std::chrono::seconds idle_timeout{120};  ///< keep-alive connection with no request
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_connections = 10000;
    bool access_log = true;
};

/// Thread-safe after start(); the handler runs on the io_context's threads and may be called
/// concurrently.
class Server {
public:
    Server(asio::io_context& io, ServerOptions options, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens on "host:port" (port 0 picks a free port). Throws on failure
    /// (start-up only).
    void listen(const std::string& host, std::uint16_t port);
    /// The bound port.
    std::uint16_t port() const;
    /// Stops accepting, closes idle keep-alive connections, and lets in-flight requests finish.
    /// `done` is called (on an io thread) once no connection is left or `grace` has passed.
    void shutdown(std::chrono::seconds grace, std::function<void()> done);

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace dermaga::http
