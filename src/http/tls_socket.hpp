#pragma once
// Internal to the server: a TLS connection that OpenSSL drives on the socket itself (a socket
// BIO on the non-blocking descriptor) rather than through Asio's in-memory BIO pair. That is
// what lets OpenSSL hand the record layer to the kernel (kernel TLS) when the kernel offers it,
// so files can go out with SSL_sendfile; without kernel TLS, records are encrypted in user space
// and coalesced in one output buffer, so a 256 KiB piece of a file costs a few socket writes
// instead of one write and one trip through the event loop per 16 KiB record.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

typedef struct ssl_st SSL;

namespace dermaga::http::detail {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
/// An error, or the byte count of a successful read or write.
using IoResult = std::pair<error_code, std::size_t>;

/// One server-side TLS connection. Meets Asio's AsyncReadStream and AsyncWriteStream, so Beast
/// reads and writes messages on it; like Beast's tcp_stream, `expires_after` sets a deadline
/// for the operations that follow (beast::error::timeout when it passes). At most one read and
/// one write at a time, on the socket's executor. Errors: asio::error::eof after the peer's
/// close_notify, asio::ssl::error::stream_truncated when the peer closed without one, the
/// system error of the socket, or an OpenSSL error in Asio's ssl category.
class TlsSocket {
public:
    using executor_type = asio::any_io_executor;
    using clock = std::chrono::steady_clock;

    /// Takes the socket (made non-blocking here) and a context from make_server_tls_context.
    TlsSocket(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> ctx);
    ~TlsSocket();
    TlsSocket(const TlsSocket&) = delete;
    TlsSocket& operator=(const TlsSocket&) = delete;

    executor_type get_executor() { return socket_.get_executor(); }
    asio::ip::tcp::socket& socket() { return socket_; }
    SSL* native_handle() { return ssl_; }
    /// The deadline for the operations that follow (until changed).
    void expires_after(clock::duration d) { deadline_ = clock::now() + d; }
    void expires_at(clock::time_point t) { deadline_ = t; }
    /// Closes the socket; pending operations end with operation_aborted.
    void close();

    /// The server side of the handshake.
    asio::awaitable<error_code> handshake();
    /// Sends close_notify without waiting for the peer's.
    asio::awaitable<error_code> shutdown();
    /// Reads what has arrived (at least one byte), up to `out.size()`.
    asio::awaitable<IoResult> read_some(asio::mutable_buffer out);
    /// Writes all of `in` (unless an error comes first) and has the socket take every record.
    asio::awaitable<IoResult> write_some(asio::const_buffer in);
    /// Whether the kernel encrypts what is sent (kernel TLS): then send_file may be used.
    bool ktls_send() const;
    /// Sends up to `length` bytes of the file from `offset` by SSL_sendfile (the kernel reads,
    /// encrypts and sends; nothing passes through user space). Requires ktls_send().
    asio::awaitable<IoResult> send_file(int fd, off_t offset, std::size_t length);

    /// AsyncReadStream: reads into the first non-empty buffer.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        asio::mutable_buffer first;
        for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers); ++it) {
            if (asio::mutable_buffer b(*it); b.size() > 0) {
                first = b;
                break;
            }
        }
        return initiate(read_some(first), std::forward<Token>(token));
    }

    /// AsyncWriteStream: a sequence of small buffers (a serialized header, say) is gathered
    /// into one, so that it goes out as one record.
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        asio::const_buffer first;
        auto it = asio::buffer_sequence_begin(buffers);
        const auto end = asio::buffer_sequence_end(buffers);
        for (; it != end && first.size() == 0; ++it) {
            first = asio::const_buffer(*it);
        }
        if (it != end && first.size() < gather_limit) {
            gather_.resize(std::min(asio::buffer_size(buffers), gather_max));
            first = asio::buffer(gather_.data(), asio::buffer_copy(asio::buffer(gather_), buffers));
        }
        return initiate(write_some(first), std::forward<Token>(token));
    }

private:
    static constexpr std::size_t gather_limit = 16 * 1024;  ///< a first buffer this big goes alone
    static constexpr std::size_t gather_max = 64 * 1024;

    template <class Token>
    auto initiate(asio::awaitable<IoResult> op, Token&& token) {
        return asio::async_initiate<Token, void(error_code, std::size_t)>(
            [this](auto handler, asio::awaitable<IoResult> op) {
                asio::co_spawn(get_executor(), std::move(op),
                               [h = std::move(handler)](std::exception_ptr, IoResult r) mutable {
                                   std::move(h)(r.first, r.second);
                               });
            },
            token, std::move(op));
    }

    /// Waits until the socket is ready, or the deadline passes.
    asio::awaitable<error_code> wait(asio::socket_base::wait_type w);
    /// Waits as SSL_get_error asks after `ret`, or returns the error it stands for.
    asio::awaitable<error_code> wait_or_fail(int ret);
    /// Has the socket take what the output buffer holds.
    asio::awaitable<error_code> flush();
    /// Puts an output buffer between OpenSSL and the socket, unless the kernel does TLS.
    void after_handshake();

    asio::ip::tcp::socket socket_;
    std::shared_ptr<asio::ssl::context> ctx_;
    SSL* ssl_ = nullptr;
    asio::steady_timer timer_;
    clock::time_point deadline_ = clock::time_point::max();
    std::vector<char> gather_;
};

}  // namespace dermaga::http::detail
