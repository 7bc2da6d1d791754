#pragma once
// Internal to the server: the streaming request body, shared by plain and TLS connections.

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "http/message.hpp"

namespace dermaga::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
using namespace asio::experimental::awaitable_operators;

/// The peer went away (or the read was cancelled): nothing to answer.
inline bool is_disconnect(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
           ec == bhttp::error::partial_message || ec == asio::ssl::error::stream_truncated;
}

/// Reads the body of the current request from a plain or TLS stream. A body with a
/// Content-Length is read straight from the stream into the caller's buffer (large reads, no
/// copy); a chunked body goes through Beast's parser.
///
/// Deadlines: each read has `timeout`; and with `min_rate` (bytes per second, 0 for none) the
/// body as a whole has `timeout` from its first read plus one second for every `min_rate` bytes
/// received, so a client trickling bytes cannot hold the connection for long.
template <class Stream>
class ParserBody final : public BodySource {
public:
    ParserBody(Stream& stream, beast::flat_buffer& buf,
               bhttp::request_parser<bhttp::buffer_body>& parser, bool expect_continue,
               std::chrono::seconds timeout, std::uint64_t min_rate)
        : stream_(stream),
          buf_(buf),
          parser_(parser),
          expect_continue_(expect_continue),
          timeout_(timeout),
          min_rate_(min_rate),
          timer_(stream.get_executor()) {
        if (!parser_.chunked() && parser_.content_length()) {
            remaining_ = *parser_.content_length();
        }
    }

    asio::awaitable<Result<std::size_t>> read_some(std::span<char> out) override {
        if (broken_) {
            // After EOF or a timeout the socket may never signal readiness again: never wait on
            // it twice.
            co_return fail(errc::client_closed, "connection already failed");
        }
        if (done()) {
            co_return std::size_t{0};
        }
        if (!started_) {
            started_ = true;
            start_ = clock::now();
        }
        auto r = co_await read_next(out);
        broken_ = !r;
        co_return r;
    }

    std::optional<std::uint64_t> content_length() const override {
        auto cl = parser_.content_length();
        return cl ? std::optional<std::uint64_t>(*cl) : std::nullopt;
    }

    bool done() const { return remaining_ ? *remaining_ == 0 : parser_.is_done(); }
    /// A read failed: the rest of the body will never come.
    bool broken() const { return broken_; }
    /// Body bytes handed out so far.
    std::uint64_t received() const { return received_; }

private:
    using clock = std::chrono::steady_clock;

    /// The deadline of the next read (see the class comment).
    clock::time_point deadline() const {
        auto at = clock::now() + timeout_;
        if (min_rate_ > 0) {
            const auto earned = std::chrono::duration_cast<clock::duration>(
                std::chrono::duration<double>(static_cast<double>(received_) / static_cast<double>(min_rate_)));
            at = std::min(at, start_ + timeout_ + earned);
        }
        return at;
    }

    /// Runs one read under deadline(). The connection stays usable when the deadline passes,
    /// so that the handler's 408 can still be sent: Beast's tcp_stream would close the socket
    /// at its own expiry, so a plain read is raced against a timer instead.
    template <class Read>
    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> timed(Read read) {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            stream_.expires_never();
            timer_.expires_at(deadline());
            auto r = co_await (read() || timer_.async_wait(tuple_awaitable));
            if (r.index() == 1) {
                co_return std::tuple{boost::system::error_code(beast::error::timeout), std::size_t{0}};
            }
            co_return std::get<0>(r);
        } else {
            beast::get_lowest_layer(stream_).expires_at(deadline());  // leaves the socket open
            co_return co_await read();
        }
    }

    asio::awaitable<Result<std::size_t>> read_next(std::span<char> out) {
        if (expect_continue_) {
            expect_continue_ = false;
            static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
            beast::get_lowest_layer(stream_).expires_after(timeout_);
            auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(cont), tuple_awaitable);
            if (ec) {
                co_return fail(errc::client_closed, ec.message());
            }
        }
        if (remaining_) {
            co_return co_await read_direct(out);
        }
        buf_.reserve(64 * 1024);  // Beast sizes each socket read by the buffer's capacity
        // Fill `out` (or reach the end), each socket read under its own deadline.
        auto& body = parser_.get().body();
        std::size_t got = 0;
        while (!parser_.is_done() && got < out.size()) {
            body.data = out.data() + got;
            body.size = out.size() - got;
            auto [ec, n] = co_await timed([&] { return bhttp::async_read_some(stream_, buf_, parser_, tuple_awaitable); });
            if (ec == bhttp::error::need_buffer) {
                ec = {};
            }
            const std::size_t now = out.size() - got - body.size;
            got += now;
            received_ += now;
            if (ec) {
                co_return fail_with(ec);
            }
        }
        co_return got;
    }

    asio::awaitable<Result<std::size_t>> read_direct(std::span<char> out) {
        std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), *remaining_));
        std::size_t got = 0;
        if (buf_.size() > 0) {  // bytes that arrived together with the header
            got = asio::buffer_copy(asio::buffer(out.data(), want), buf_.data());
            buf_.consume(got);
            received_ += got;
        }
        // Fill `out` (up to the body's end): each read takes whatever the socket holds, under
        // its own deadline.
        while (got < want) {
            auto [ec, n] = co_await timed(
                [&] { return stream_.async_read_some(asio::buffer(out.data() + got, want - got), tuple_awaitable); });
            got += n;
            received_ += n;
            if (ec) {
                *remaining_ -= got;
                co_return fail_with(ec == bhttp::error::end_of_stream ? asio::error::eof : ec);
            }
        }
        *remaining_ -= got;
        co_return got;
    }

    static tl::unexpected<Error> fail_with(const boost::system::error_code& ec) {
        if (ec == beast::error::timeout) {
            return fail(errc::timeout, "request body not received in time");
        }
        if (is_disconnect(ec)) {
            return fail(errc::client_closed, ec.message());
        }
        return fail(errc::bad_body, ec.message());
    }

    std::optional<std::uint64_t> remaining_;  ///< set when reading a Content-Length body directly
    bool broken_ = false;
    Stream& stream_;
    beast::flat_buffer& buf_;
    bhttp::request_parser<bhttp::buffer_body>& parser_;
    bool expect_continue_;
    std::chrono::seconds timeout_;
    std::uint64_t min_rate_;
    bool started_ = false;
    clock::time_point start_;
    std::uint64_t received_ = 0;
    asio::steady_timer timer_;  ///< plain connections: the read deadline
};

}  // namespace dermaga::http::detail
