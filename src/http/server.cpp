#include "http/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/sendfile.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <mutex>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "core/log.hpp"

namespace dermaga::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_drain_bytes = 1 << 20;

Method to_method(bhttp::verb v) {
    switch (v) {
        case bhttp::verb::get: return Method::get;
        case bhttp::verb::head: return Method::head;
        case bhttp::verb::post: return Method::post;
        case bhttp::verb::put: return Method::put;
        case bhttp::verb::patch: return Method::patch;
        case bhttp::verb::delete_: return Method::del;
        case bhttp::verb::options: return Method::options;
        default: return Method::other;
    }
}

std::string make_request_id() {
    static const std::uint64_t prefix = std::random_device{}();
    static std::atomic<std::uint64_t> counter{0};
    return fmt::format("{:08x}{:08x}", static_cast<std::uint32_t>(prefix),
                       static_cast<std::uint32_t>(counter.fetch_add(1, std::memory_order_relaxed)));
}

bool is_disconnect(const boost::system::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
           ec == bhttp::error::partial_message;
}

/// Reads the body of the current request. A body with a Content-Length is read straight from
/// the socket into the caller's buffer (large reads, no copy); a chunked body goes through
/// Beast's parser.
class ParserBody final : public BodySource {
public:
    ParserBody(beast::tcp_stream& stream, beast::flat_buffer& buf,
               bhttp::request_parser<bhttp::buffer_body>& parser, bool expect_continue,
               std::chrono::seconds timeout)
        : stream_(stream), buf_(buf), parser_(parser), expect_continue_(expect_continue), timeout_(timeout) {
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
            stream_.expires_after(timeout_);
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
            stream_.expires_after(timeout_);
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
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), *remaining_));
        std::size_t got = 0;
        if (buf_.size() > 0) {  // bytes that arrived together with the header
            got = asio::buffer_copy(asio::buffer(out.data(), want), buf_.data());
            buf_.consume(got);
        }
        if (got < want) {
            stream_.expires_after(timeout_);
            // Asio's default completion conditions read at most 64 KiB per call; asking for all
            // that is missing lets one recvmsg take whatever the socket holds.
            const std::size_t missing = want - got;
            auto all_missing = [missing](const boost::system::error_code& e, std::size_t done) -> std::size_t {
                return e ? 0 : missing - done;
            };
            auto [ec, n] = co_await asio::async_read(stream_, asio::buffer(out.data() + got, missing), all_missing,
                                                     tuple_awaitable);
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
    beast::tcp_stream& stream_;
    beast::flat_buffer& buf_;
    bhttp::request_parser<bhttp::buffer_body>& parser_;
    bool expect_continue_;
    std::chrono::seconds timeout_;
};

struct Conn {
    explicit Conn(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    std::atomic<bool> idle{true};
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& io_, ServerOptions o, Handler h)
        : io(io_), opt(o), handler(std::move(h)), acceptor(io_) {}

    asio::io_context& io;
    ServerOptions opt;
    Handler handler;
    tcp::acceptor acceptor;
    std::atomic<bool> stopping{false};
    std::mutex mu;
    std::unordered_map<Conn*, std::shared_ptr<Conn>> conns;
    std::function<void()> on_drained;
    std::atomic<bool> drained_called{false};

    void finish_shutdown() {
        std::function<void()> cb;
        {
            std::lock_guard lock(mu);
            if (drained_called.exchange(true)) {
                return;
            }
            cb = std::move(on_drained);
        }
        if (cb) {
            cb();
        }
    }

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!stopping) {
            auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(io), tuple_awaitable);
            if (ec) {
                if (stopping || ec == asio::error::operation_aborted) {
                    break;
                }
                log::warn("accept_failed", {{"error", ec.message()}});
                asio::steady_timer t(io, std::chrono::milliseconds(50));
                co_await t.async_wait(tuple_awaitable);
                continue;
            }
            auto conn = std::make_shared<Conn>(std::move(sock));
            {
                std::lock_guard lock(mu);
                if (conns.size() >= opt.max_connections) {
                    log::warn("connection_limit", {{"max", static_cast<std::uint64_t>(opt.max_connections)}});
                    continue;  // conn's socket closes as it goes out of scope
                }
                conns.emplace(conn.get(), conn);
            }
            boost::system::error_code ignore;
            conn->stream.socket().set_option(tcp::no_delay(true), ignore);
            auto ex = conn->stream.get_executor();
            asio::co_spawn(ex, session(conn), [self, conn](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                        log::error("connection_crashed", {{"error", x.what()}});
                    }
                }
                bool last = false;
                {
                    std::lock_guard lock(self->mu);
                    self->conns.erase(conn.get());
                    last = self->conns.empty();
                }
                if (last && self->stopping) {
                    self->finish_shutdown();
                }
            });
        }
    }

    asio::awaitable<void> write_raw_and_close(Conn& c, std::string_view text) {
        c.stream.expires_after(opt.write_timeout);
        co_await asio::async_write(c.stream, asio::buffer(text), tuple_awaitable);
        boost::system::error_code ignore;
        c.stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
    }

    asio::awaitable<void> session(std::shared_ptr<Conn> conn) {
        auto& stream = conn->stream;
        beast::flat_buffer buf;
        boost::system::error_code ep_ec;
        auto ep = stream.socket().remote_endpoint(ep_ec);
        const std::string remote = ep_ec ? std::string("?") : ep.address().to_string();
        bool first = true;
        while (!stopping) {
            bhttp::request_parser<bhttp::buffer_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            conn->idle = true;
            stream.expires_after(first ? opt.read_timeout : opt.idle_timeout);
            first = false;
            auto [ec, n] = co_await bhttp::async_read_header(stream, buf, parser, tuple_awaitable);
            conn->idle = false;
            if (ec) {
                if (ec == bhttp::error::header_limit) {
                    co_await write_raw_and_close(*conn,
                        "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n");
                } else if (!is_disconnect(ec) && ec != beast::error::timeout) {
                    // Includes a TLS ClientHello on this plain port: Docker clients fall back to
                    // plain HTTP only when they see an HTTP/1.x 400 here.
                    co_await write_raw_and_close(*conn,
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        "Content-Length: 48\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
                }
                break;
            }
            bool keep = co_await serve_one(*conn, buf, parser, remote);
            if (!keep) {
                break;
            }
        }
        boost::system::error_code ignore;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
        stream.close();
    }

    asio::awaitable<bool> serve_one(Conn& conn, beast::flat_buffer& buf,
                                    bhttp::request_parser<bhttp::buffer_body>& parser,
                                    const std::string& remote) {
        auto start = std::chrono::steady_clock::now();
        auto& msg = parser.get();
        std::vector<std::pair<std::string, std::string>> headers;
        headers.reserve(16);
        for (const auto& f : msg) {
            headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        const bool expect_continue = beast::iequals(msg[bhttp::field::expect], "100-continue");
        ParserBody body(conn.stream, buf, parser, expect_continue, opt.read_timeout);
        const auto method = to_method(msg.method());
        Request req(method, std::string(msg.target()), std::move(headers), body, make_request_id(), remote);

        Response res;
        try {
            res = co_await handler(req);
        } catch (const std::exception& e) {
            // Last resort: handlers answer their own failures, in their own protocol.
            log::error("handler_exception", {{"rid", req.request_id()}, {"error", e.what()}});
            res = Response{};
            res.status = 500;
            res.set("Content-Type", "text/plain");
            res.body = "internal server error, request id " + req.request_id() + "\n";
        }

        bool keep = msg.keep_alive() && !res.close && !stopping;
        if (body.broken()) {
            keep = false;
        } else if (!body.done()) {
            // Drain a small unread body so the connection can be reused; else close it.
            std::size_t drained = 0;
            char sink[16 * 1024];
            while (!body.done() && drained < max_drain_bytes) {
                auto r = co_await body.read_some(std::span<char>(sink, sizeof sink));
                if (!r || *r == 0) {
                    break;
                }
                drained += *r;
            }
            if (!body.done()) {
                keep = false;
            }
        }
        std::uint64_t sent = co_await write_response(conn, method == Method::head, res, keep, req.request_id());
        const bool aborted = sent == std::numeric_limits<std::uint64_t>::max();
        if (opt.access_log && log::enabled(log::Level::info)) {
            auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
            log::info("request", {{"rid", req.request_id()},
                                  {"remote", remote},
                                  {"method", std::string_view(msg.method_string())},
                                  {"path", req.path()},
                                  {"status", static_cast<std::int64_t>(res.status)},
                                  {"bytes", aborted ? std::uint64_t{0} : sent},
                                  {"aborted", aborted},
                                  {"ms", static_cast<double>(us) / 1000.0}});
        }
        co_return keep && !aborted;
    }

    /// Returns the body bytes sent, or max() when the connection failed.
    asio::awaitable<std::uint64_t> write_response(Conn& conn, bool head, Response& res, bool keep,
                                                  const std::string& rid) {
        constexpr auto failed = std::numeric_limits<std::uint64_t>::max();
        bhttp::response<bhttp::empty_body> hdr;
        hdr.version(11);
        hdr.result(res.status);
        for (auto& [k, v] : res.headers) {
            hdr.insert(k, v);
        }
        hdr.set(bhttp::field::server, "dermaga");
        hdr.set("X-Request-Id", rid);
        auto* text = std::get_if<std::string>(&res.body);
        auto* file = std::get_if<FileBody>(&res.body);
        std::uint64_t length = res.content_length ? *res.content_length : text ? text->size() : file->length;
        if (res.status != 204 && res.status != 304 && !(res.status >= 100 && res.status < 200)) {
            hdr.set(bhttp::field::content_length, std::to_string(length));
        }
        hdr.keep_alive(keep);
        auto& stream = conn.stream;
        stream.expires_after(opt.write_timeout);
        if (head || length == 0 || res.status == 204 || res.status == 304) {
            bhttp::response_serializer<bhttp::empty_body> sr(hdr);
            auto [ec, n] = co_await bhttp::async_write_header(stream, sr, tuple_awaitable);
            co_return ec ? failed : 0;
        }
        if (text) {
            bhttp::response<bhttp::string_body> full(std::move(hdr));
            full.body() = std::move(*text);
            auto [ec, n] = co_await bhttp::async_write(stream, full, tuple_awaitable);
            co_return ec ? failed : length;
        }
        bhttp::response_serializer<bhttp::empty_body> sr(hdr);
        auto [ec, n] = co_await bhttp::async_write_header(stream, sr, tuple_awaitable);
        if (ec) {
            co_return failed;
        }
        co_return co_await send_file(conn, *file) ? file->length : failed;
    }

    asio::awaitable<bool> send_file(Conn& conn, FileBody& file) {
        auto& sock = conn.stream.socket();
        boost::system::error_code ec;
        sock.native_non_blocking(true, ec);
        if (ec) {
            co_return false;
        }
        off_t off = static_cast<off_t>(file.offset);
        std::uint64_t left = file.length;
        asio::steady_timer deadline(sock.get_executor());
        while (left > 0) {
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
            deadline.expires_after(opt.write_timeout);
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
};

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, options, std::move(handler))) {}

Server::~Server() = default;

void Server::listen(const std::string& host, std::uint16_t port) {
    auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host);
    tcp::endpoint ep(addr, port);
    auto& a = impl_->acceptor;
    a.open(ep.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    a.bind(ep);
    a.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(impl_->io, impl_->accept_loop(), [](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log::error("accept_loop_crashed", {{"error", x.what()}});
            }
        }
    });
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::shutdown(std::chrono::seconds grace, std::function<void()> done) {
    auto impl = impl_;
    asio::post(impl->io, [impl, grace, done = std::move(done)]() mutable {
        std::vector<std::shared_ptr<Conn>> idle;
        {
            std::lock_guard lock(impl->mu);
            impl->on_drained = std::move(done);
            impl->stopping = true;
            for (auto& [p, c] : impl->conns) {
                if (c->idle) {
                    idle.push_back(c);
                }
            }
        }
        boost::system::error_code ignore;
        impl->acceptor.close(ignore);
        for (auto& c : idle) {
            asio::post(c->stream.get_executor(), [c] {
                boost::system::error_code ec;
                c->stream.socket().cancel(ec);  // may already be closed
            });
        }
        bool empty;
        {
            std::lock_guard lock(impl->mu);
            empty = impl->conns.empty();
        }
        if (empty) {
            impl->finish_shutdown();
            return;
        }
        auto timer = std::make_shared<asio::steady_timer>(impl->io, grace);
        timer->async_wait([impl, timer](boost::system::error_code) { impl->finish_shutdown(); });
    });
}

}  // namespace dermaga::http
