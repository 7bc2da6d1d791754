#include "http/tls_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <stdexcept>

namespace dermaga::http::detail {

using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// Records are gathered up to this much before a socket write (a 256 KiB piece of a file and
/// its 16 record headers fit).
constexpr long output_buffer_bytes = 272 * 1024;
/// OpenSSL reads ahead up to this much per socket read (uploads: several records a read).
constexpr std::size_t read_buffer_bytes = 64 * 1024;

/// The error SSL_get_error's `e` stands for. `saved_errno`: errno right after the call.
error_code error_of(int e, int saved_errno) {
    switch (e) {
        case SSL_ERROR_ZERO_RETURN: return asio::error::eof;
        case SSL_ERROR_SYSCALL:
            if (ERR_peek_error() == 0) {
                return saved_errno != 0 ? error_code(saved_errno, boost::system::system_category())
                                        : error_code(asio::ssl::error::stream_truncated);
            }
            break;
        default: break;
    }
    const unsigned long err = ERR_get_error();
    ERR_clear_error();
    if (ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return asio::ssl::error::stream_truncated;
    }
    return {static_cast<int>(err), asio::error::get_ssl_category()};
}

}  // namespace

TlsSocket::TlsSocket(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> ctx)
    : socket_(std::move(socket)), ctx_(std::move(ctx)), timer_(socket_.get_executor()) {
    ssl_ = SSL_new(ctx_->native_handle());
    if (!ssl_) {
        throw std::runtime_error("SSL_new failed");
    }
    error_code ec;
    socket_.native_non_blocking(true, ec);  // OpenSSL reads and writes the descriptor itself
    BIO* bio = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
    if (!bio) {
        SSL_free(ssl_);
        throw std::runtime_error("BIO_new_socket failed");
    }
    SSL_set_bio(ssl_, bio, bio);
    SSL_set_accept_state(ssl_);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_read_ahead(ssl_, 1);
    SSL_set_default_read_buffer_len(ssl_, read_buffer_bytes);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

void TlsSocket::close() {
    error_code ignore;
    socket_.close(ignore);
    timer_.cancel();
}

bool TlsSocket::ktls_send() const { return BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0; }

asio::awaitable<error_code> TlsSocket::wait(asio::socket_base::wait_type w) {
    if (deadline_ == clock::time_point::max()) {
        auto [ec] = co_await socket_.async_wait(w, tuple_awaitable);
        co_return ec;
    }
    if (clock::now() >= deadline_) {
        co_return boost::beast::error::timeout;
    }
    timer_.expires_at(deadline_);
    auto r = co_await (socket_.async_wait(w, tuple_awaitable) || timer_.async_wait(tuple_awaitable));
    if (r.index() == 1) {
        co_return boost::beast::error::timeout;
    }
    co_return std::get<0>(std::get<0>(r));
}

asio::awaitable<error_code> TlsSocket::wait_or_fail(int ret) {
    const int saved_errno = errno;
    const int e = SSL_get_error(ssl_, ret);
    if (e == SSL_ERROR_WANT_READ) {
        co_return co_await wait(asio::socket_base::wait_read);
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        co_return co_await wait(asio::socket_base::wait_write);
    }
    co_return error_of(e, saved_errno);
}

asio::awaitable<error_code> TlsSocket::handshake() {
    while (true) {
        ERR_clear_error();
        errno = 0;
        const int r = SSL_do_handshake(ssl_);
        if (r == 1) {
            after_handshake();
            co_return error_code{};
        }
        if (auto ec = co_await wait_or_fail(r)) {
            co_return ec;
        }
    }
}

void TlsSocket::after_handshake() {
    BIO* sock = SSL_get_wbio(ssl_);
    if (BIO_get_ktls_send(sock)) {
        return;  // the kernel makes the records: OpenSSL must write to the socket itself
    }
    BIO* buffered = BIO_new(BIO_f_buffer());
    if (!buffered || BIO_set_write_buffer_size(buffered, output_buffer_bytes) != 1) {
        BIO_free(buffered);
        return;  // unbuffered still works, one write per record
    }
    BIO_up_ref(sock);  // one reference for the chain, one SSL keeps as its rbio
    BIO_push(buffered, sock);
    SSL_set_bio(ssl_, sock, buffered);
}

asio::awaitable<error_code> TlsSocket::flush() {
    BIO* out = SSL_get_wbio(ssl_);
    while (true) {
        errno = 0;
        if (BIO_flush(out) > 0) {
            co_return error_code{};
        }
        if (!BIO_should_retry(out)) {
            co_return errno != 0 ? error_code(errno, boost::system::system_category())
                                 : error_code(asio::error::broken_pipe);
        }
        if (auto ec = co_await wait(asio::socket_base::wait_write)) {
            co_return ec;
        }
    }
}

asio::awaitable<error_code> TlsSocket::shutdown() {
    // Only our close_notify: a client that keeps its end open must not hold the close up.
    SSL_set_shutdown(ssl_, SSL_RECEIVED_SHUTDOWN);
    while (true) {
        ERR_clear_error();
        errno = 0;
        const int r = SSL_shutdown(ssl_);
        if (r >= 0) {
            co_return co_await flush();
        }
        if (auto ec = co_await wait_or_fail(r)) {
            co_return ec;
        }
    }
}

asio::awaitable<IoResult> TlsSocket::read_some(asio::mutable_buffer out) {
    auto* p = static_cast<char*>(out.data());
    std::size_t got = 0;
    while (got < out.size()) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_, p + got, out.size() - got, &n);
        if (r == 1) {
            got += n;  // one record at most: take what else has arrived, if anything
            continue;
        }
        if (got > 0) {
            break;  // nothing more yet (or a failure, which the next read reports)
        }
        if (auto ec = co_await wait_or_fail(r)) {
            co_return IoResult{ec, got};
        }
    }
    co_return IoResult{error_code{}, got};
}

asio::awaitable<IoResult> TlsSocket::write_some(asio::const_buffer in) {
    // With partial writes on, each SSL_write_ex makes one record: go on until all of `in` is
    // taken, so the records gather in the output buffer, then flush once.
    const auto* p = static_cast<const char*>(in.data());
    std::size_t taken = 0;
    while (taken < in.size()) {
        ERR_clear_error();
        errno = 0;
        std::size_t n = 0;
        const int r = SSL_write_ex(ssl_, p + taken, in.size() - taken, &n);
        if (r == 1) {
            taken += n;
            continue;
        }
        // A record OpenSSL could not hand on yet must be retried with the same bytes before
        // anything else is done with the connection: wait here rather than return.
        if (auto ec = co_await wait_or_fail(r)) {
            co_return IoResult{ec, taken};
        }
    }
    co_return IoResult{co_await flush(), taken};
}

asio::awaitable<IoResult> TlsSocket::send_file(int fd, off_t offset, std::size_t length) {
    while (true) {
        ERR_clear_error();
        errno = 0;
        const ossl_ssize_t n = SSL_sendfile(ssl_, fd, offset, length, 0);
        if (n >= 0) {
            co_return IoResult{error_code{}, static_cast<std::size_t>(n)};
        }
        if (auto ec = co_await wait_or_fail(static_cast<int>(n))) {
            co_return IoResult{ec, 0};
        }
    }
}

}  // namespace dermaga::http::detail
