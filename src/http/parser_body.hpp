#pragma once
// Internal to the server: the streaming request body, shared by plain and TLS connections.

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
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
template <class Stream>
class ParserBody final : public BodySource {
public:
    ParserBody(Stream& stream, beast::flat_buffer& buf,
               bhttp::request_parser<bhttp::buffer_body>& parser, bool expect_continue,
               std::chrono::seconds timeout)
        : stream_(stream),
          buf_(buf),
          parser_(parser),
          expect_continue_(expect_continue),
          timeout_(timeout) {
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

private:
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
        while (!parser_.is_done()) {
            auto& body = parser_.get().body();
            body.data = out.data();
            body.size = out.size();
            beast::get_lowest_layer(stream_).expires_after(timeout_);
            auto [ec, n] = co_await bhttp::async_read(stream_, buf_, parser_, tuple_awaitable);
            if (ec == bhttp::error::need_buffer) {
                ec = {};
            }
            std::size_t got = out.size() - parser_.get().body().size;
            if (ec) {
                if (ec == beast::error::timeout) {
                    co_return fail(errc::timeout, "request body read timed out");
                }
                if (is_disconnect(ec)) {
                    co_return fail(errc::client_closed, ec.message());
                }
                co_return fail(errc::bad_body, ec.message());
            }
            if (got > 0) {
                co_return got;
            }
        }
        co_return std::size_t{0};
    }

    asio::awaitable<Result<std::size_t>> read_direct(std::span<char> out) {
        std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), *remaining_));
        std::size_t got = 0;
        if (buf_.size() > 0) {  // bytes that arrived together with the header
            got = asio::buffer_copy(asio::buffer(out.data(), want), buf_.data());
            buf_.consume(got);
        }
        if (got < want) {
            beast::get_lowest_layer(stream_).expires_after(timeout_);
            // Asio's default completion conditions read at most 64 KiB per call; asking for all
            // that is missing lets one recvmsg take whatever the socket holds.
            const std::size_t missing = want - got;
            auto all_missing = [missing](const boost::system::error_code& e,
                                         std::size_t done) -> std::size_t {
                return e ? 0 : missing - done;
            };
            auto [ec, n] = co_await asio::async_read(
                stream_, asio::buffer(out.data() + got, missing), all_missing, tuple_awaitable);
            got += n;
            if (ec) {
                *remaining_ -= got;
                if (ec == beast::error::timeout) {
                    co_return fail(errc::timeout, "request body read timed out");
                }
                co_return fail(errc::client_closed, ec.message());
            }
        }
        *remaining_ -= got;
        co_return got;
    }

    std::optional<std::uint64_t> remaining_;  ///< set when reading a Content-Length body directly
    bool broken_ = false;
    Stream& stream_;
    beast::flat_buffer& buf_;
    bhttp::request_parser<bhttp::buffer_body>& parser_;
    bool expect_continue_;
    std::chrono::seconds timeout_;
};

}  // namespace dermaga::http::detail
