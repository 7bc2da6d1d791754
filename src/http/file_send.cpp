#include "http/file_send.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace dermaga::http::detail {

using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

/// Hands FileBody::read_ahead the windows just ahead of the send position, each once.
class ReadAhead {
public:
    explicit ReadAhead(const FileBody& f) : f_(f), next_(f.offset), end_(f.offset + f.length) {}
    void at(std::uint64_t pos) {
        while (f_.read_ahead && next_ < end_ && next_ < pos + 2 * read_ahead_window) {
            const auto len = std::min(read_ahead_window, end_ - next_);
            f_.read_ahead(next_, len);
            next_ += len;
        }
    }

private:
    const FileBody& f_;
    std::uint64_t next_;
    std::uint64_t end_;
};

/// Over TLS a file goes through user space in pieces this big (memory per download).
constexpr std::size_t tls_file_chunk = 256 * 1024;

}  // namespace

asio::awaitable<bool> send_file(tcp::socket& sock, FileBody& file, std::chrono::seconds write_timeout) {
    boost::system::error_code ec;
    sock.native_non_blocking(true, ec);
    if (ec) {
        co_return false;
    }
    off_t off = static_cast<off_t>(file.offset);
    std::uint64_t left = file.length;
    ReadAhead ahead(file);
    asio::steady_timer deadline(sock.get_executor());
    while (left > 0) {
        ahead.at(static_cast<std::uint64_t>(off));
        ssize_t n = ::sendfile(sock.native_handle(), file.fd.get(), &off, std::min<std::uint64_t>(left, 1u << 22));
        if (n > 0) {
            left -= static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) {
            co_return false;  // file shorter than promised
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            co_return false;
        }
        deadline.expires_after(write_timeout);
        auto r = co_await (sock.async_wait(tcp::socket::wait_write, tuple_awaitable) ||
                           deadline.async_wait(tuple_awaitable));
        if (r.index() == 1) {
            co_return false;  // stalled client
        }
        if (std::get<0>(std::get<0>(r))) {
            co_return false;
        }
    }
    co_return true;
}

asio::awaitable<bool> send_file(TlsSocket& stream, FileBody& file, std::chrono::seconds write_timeout,
                                std::atomic<std::uint64_t>& ktls_sends) {
    ReadAhead ahead(file);
    auto off = static_cast<off_t>(file.offset);
    std::uint64_t left = file.length;
    if (stream.ktls_send()) {
        ktls_sends.fetch_add(1, std::memory_order_relaxed);
        while (left > 0) {
            ahead.at(static_cast<std::uint64_t>(off));
            stream.expires_after(write_timeout);
            auto [ec, n] = co_await stream.send_file(file.fd.get(), off, std::min<std::uint64_t>(left, 1u << 22));
            if (ec || n == 0) {
                co_return false;  // stalled or gone, or the file shorter than promised
            }
            off += static_cast<off_t>(n);
            left -= n;
        }
        co_return true;
    }
    const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(file.length, tls_file_chunk));
    auto chunk = std::make_unique_for_overwrite<char[]>(size);
    while (left > 0) {
        ahead.at(static_cast<std::uint64_t>(off));
        ssize_t n = ::pread(file.fd.get(), chunk.get(), std::min<std::uint64_t>(left, size), off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            co_return false;  // read error, or file shorter than promised
        }
        stream.expires_after(write_timeout);
        for (std::size_t done = 0; done < static_cast<std::size_t>(n);) {
            auto [ec, w] = co_await stream.write_some(asio::buffer(chunk.get() + done, static_cast<std::size_t>(n) - done));
            if (ec) {
                co_return false;
            }
            done += w;
        }
        off += n;
        left -= static_cast<std::uint64_t>(n);
    }
    co_return true;
}

}  // namespace dermaga::http::detail
