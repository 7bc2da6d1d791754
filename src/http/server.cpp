#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <openssl/ssl.h>
#include <csignal>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

#include "core/log.hpp"
#include "http/file_send.hpp"
#include "http/framing.hpp"
#include "http/parser_body.hpp"
#include "http/tls_socket.hpp"

namespace dermaga::http {

namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using detail::is_disconnect;
using detail::ParserBody;
using detail::tuple_awaitable;

namespace {

constexpr std::size_t max_drain_bytes = 1 << 20;
/// Between requests, the first read of the next one takes at most this much.
constexpr std::size_t first_read_bytes = 16 * 1024;

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

using PlainStream = beast::tcp_stream;
using TlsStream = detail::TlsSocket;
template <class Stream>
constexpr bool is_tls = std::is_same_v<Stream, TlsStream>;

/// A connection as shutdown sees it, whatever its stream.
struct ConnBase {
    virtual ~ConnBase() = default;
    /// Cancels pending operations. Call on the connection's executor.
    virtual void cancel() = 0;
    virtual asio::any_io_executor executor() = 0;
    std::atomic<bool> idle{true};
};

template <class Stream>
struct Conn final : ConnBase {
    explicit Conn(tcp::socket s)
        requires(!is_tls<Stream>)
        : stream(std::move(s)) {}
    Conn(tcp::socket s, std::shared_ptr<ssl::context> c)
        requires is_tls<Stream>
        : stream(std::move(s), std::move(c)) {}

    void cancel() override {
        boost::system::error_code ec;
        beast::get_lowest_layer(stream).socket().cancel(ec);  // may already be closed
    }
    asio::any_io_executor executor() override { return stream.get_executor(); }
    tcp::socket& socket() { return beast::get_lowest_layer(stream).socket(); }
    void expires_after(std::chrono::seconds t) { beast::get_lowest_layer(stream).expires_after(t); }

    Stream stream;  ///< TLS: holds the context the connection was made with
    bool broken = false;  ///< a read or write failed: no goodbye (close_notify) is owed or possible
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::io_context& io_, ServerOptions o, Handler h)
        : io(io_), opt(std::move(o)), handler(std::move(h)), acceptor(io_) {}

    asio::io_context& io;
    ServerOptions opt;
    Handler handler;
    tcp::acceptor acceptor;
    std::atomic<bool> stopping{false};
    std::atomic<std::int64_t> open{0};      ///< connections (for Server::open_connections)
    std::atomic<std::int64_t> inflight{0};  ///< requests (for Server::requests_in_flight)
    std::mutex mu;
    std::unordered_map<ConnBase*, std::shared_ptr<ConnBase>> conns;
    std::function<void()> on_drained;
    std::atomic<bool> drained_called{false};
    std::mutex tls_mu;  ///< guards tls_ctx only; never held across co_await
    std::shared_ptr<ssl::context> tls_ctx;
    std::atomic<std::uint64_t> ktls_sends{0};  ///< file bodies sent with SSL_sendfile

    std::shared_ptr<ssl::context> current_tls() {
        std::lock_guard lock(tls_mu);
        return tls_ctx;
    }

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
            if (opt.tls) {
                start(std::make_shared<Conn<TlsStream>>(std::move(sock), current_tls()));
            } else {
                start(std::make_shared<Conn<PlainStream>>(std::move(sock)));
            }
        }
    }

    template <class Stream>
    void start(std::shared_ptr<Conn<Stream>> conn) {
        {
            std::lock_guard lock(mu);
            if (conns.size() >= opt.max_connections) {
                log::warn("connection_limit", {{"max", static_cast<std::uint64_t>(opt.max_connections)}});
                return;  // conn's socket closes as it goes out of scope
            }
            conns.emplace(conn.get(), conn);
        }
        open.fetch_add(1, std::memory_order_relaxed);
        boost::system::error_code ignore;
        conn->socket().set_option(tcp::no_delay(true), ignore);
        asio::co_spawn(conn->executor(), session(conn), [self = shared_from_this(), conn](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log::error("connection_crashed", {{"error", x.what()}});
                }
            }
            bool last = false;
            self->open.fetch_sub(1, std::memory_order_relaxed);
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

    template <class Stream>
    asio::awaitable<void> write_raw(Conn<Stream>& c, std::string_view text) {
        c.expires_after(opt.write_timeout);
        co_await asio::async_write(c.stream, asio::buffer(text), tuple_awaitable);
        if constexpr (!is_tls<Stream>) {
            boost::system::error_code ignore;
            c.socket().shutdown(tcp::socket::shutdown_both, ignore);
        }
    }

    /// Ends a connection. `graceful`: the peer is still there, so TLS says close_notify first.
    template <class Stream>
    asio::awaitable<void> close(Conn<Stream>& c, bool graceful) {
        if constexpr (is_tls<Stream>) {
            if (graceful) {
                c.expires_after(opt.write_timeout);
                co_await c.stream.shutdown();  // our close_notify only, not waiting for the peer's
            }
        }
        boost::system::error_code ignore;
        c.socket().shutdown(tcp::socket::shutdown_send, ignore);
        beast::get_lowest_layer(c.stream).close();
    }

    /// TLS: the handshake, under the same deadline as a request read. Returns the verified
    /// client certificate's CN (may be empty), or nothing when the handshake failed.
    asio::awaitable<std::optional<std::string>> handshake(Conn<TlsStream>& c, const std::string& remote) {
        c.expires_after(opt.read_timeout);
        if (auto ec = co_await c.stream.handshake()) {
            // Scanners, plain-HTTP clients and refused client certificates end here: worth a
            // line, not an alarm.
            log::info("tls_handshake_failed", {{"remote", remote}, {"error", ec.message()}});
            co_return std::nullopt;
        }
        co_return verified_peer_cn(c.stream.native_handle());
    }

    template <class Stream>
    asio::awaitable<void> session(std::shared_ptr<Conn<Stream>> conn) {
        beast::flat_buffer buf;
        boost::system::error_code ep_ec;
        auto ep = conn->socket().remote_endpoint(ep_ec);
        const std::string remote = ep_ec ? std::string("?") : ep.address().to_string();
        std::string peer_cn;
        if constexpr (is_tls<Stream>) {
            auto cn = co_await handshake(*conn, remote);
            if (!cn) {
                co_await close(*conn, false);
                co_return;
            }
            peer_cn = std::move(*cn);
        }
        bool graceful = true;
        bool first = true;
        while (!stopping) {
            bhttp::request_parser<bhttp::buffer_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
            parser.body_limit(std::numeric_limits<std::uint64_t>::max());
            conn->idle = true;
            auto ec = co_await read_head(*conn, buf, parser, first);
            first = false;
            conn->idle = false;
            if (ec) {
                if (ec == bhttp::error::header_limit) {
                    co_await write_raw(*conn,
                        "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
                        "Content-Length: 0\r\n\r\n");
                } else if (!is_disconnect(ec) && ec != beast::error::timeout) {
                    // Includes a TLS ClientHello on a plain port: Docker clients fall back to
                    // plain HTTP only when they see an HTTP/1.x 400 here.
                    co_await write_raw(*conn,
                        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        "Content-Length: 48\r\n\r\nClient sent an HTTP request to an HTTPS server.\n");
                } else {
                    graceful = false;
                }
                break;
            }
            if (!co_await framing_sound(*conn, parser.get(), remote)) {
                break;
            }
            if (!co_await serve_one(*conn, buf, parser, remote, peer_cn)) {
                break;
            }
        }
        // After a failed write (say a stalled client), a close_notify would only wait out
        // another write deadline.
        co_await close(*conn, graceful && !conn->broken);
    }

    /// Reads the next request's header. The first request of a connection has `read_timeout`
    /// from the accept; a later one may take `idle_timeout` to begin, and then has
    /// `read_timeout` from its first byte.
    template <class Stream>
    asio::awaitable<boost::system::error_code> read_head(Conn<Stream>& conn, beast::flat_buffer& buf,
                                                         bhttp::request_parser<bhttp::buffer_body>& parser,
                                                         bool first) {
        if (!first && buf.size() == 0) {
            conn.expires_after(opt.idle_timeout);
            auto [ec, n] = co_await conn.stream.async_read_some(buf.prepare(first_read_bytes), tuple_awaitable);
            buf.commit(n);
            if (ec) {
                co_return ec;
            }
        }
        conn.expires_after(opt.read_timeout);
        auto [ec, n] = co_await bhttp::async_read_header(conn.stream, buf, parser, tuple_awaitable);
        co_return ec;
    }

    /// Refuses (and returns false for) a request whose body length cannot be trusted: after it
    /// the stream cannot be parsed as requests, so the connection is closed (request smuggling).
    template <class Stream>
    asio::awaitable<bool> framing_sound(Conn<Stream>& conn, const bhttp::request<bhttp::buffer_body>& msg,
                                        const std::string& remote) {
        std::vector<std::string_view> te;
        for (auto [it, end] = msg.equal_range(bhttp::field::transfer_encoding); it != end; ++it) {
            te.emplace_back(it->value());
        }
        const unsigned status = detail::transfer_encoding_refusal(msg.version(), te);
        if (status == 0) {
            co_return true;
        }
        log::info("request_refused", {{"remote", remote}, {"status", static_cast<std::int64_t>(status)},
                                      {"reason", std::string_view("Transfer-Encoding other than chunked")}});
        co_await write_raw(conn, status == 501
                                     ? "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\n"
                                       "Connection: close\r\nContent-Length: 48\r\n\r\n"
                                       "only the chunked transfer coding is implemented\n"
                                     : "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                                       "Connection: close\r\nContent-Length: 42\r\n\r\n"
                                       "Transfer-Encoding must be exactly chunked\n");
        co_return false;
    }

    template <class Stream>
    asio::awaitable<bool> serve_one(Conn<Stream>& conn, beast::flat_buffer& buf,
                                    bhttp::request_parser<bhttp::buffer_body>& parser,
                                    const std::string& remote, const std::string& peer_cn) {
        auto start = std::chrono::steady_clock::now();
        inflight.fetch_add(1, std::memory_order_relaxed);
        struct Done {
            std::atomic<std::int64_t>& n;
            ~Done() { n.fetch_sub(1, std::memory_order_relaxed); }
        } done{inflight};
        auto& msg = parser.get();
        std::vector<std::pair<std::string, std::string>> headers;
        headers.reserve(16);
        for (const auto& f : msg) {
            headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        const bool expect_continue = beast::iequals(msg[bhttp::field::expect], "100-continue");
        ParserBody<Stream> body(conn.stream, buf, parser, expect_continue, opt.read_timeout, opt.min_body_rate);
        const auto method = to_method(msg.method());
        Request req(method, std::string(msg.target()), std::move(headers), body, make_request_id(), remote, peer_cn);

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
        conn.broken = aborted || body.broken();
        if (opt.observer) {
            opt.observer->request_done(RequestRecord{method, req.path(), res.status, body.received(),
                                                     aborted ? 0 : sent, std::chrono::steady_clock::now() - start,
                                                     aborted});
        }
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
    template <class Stream>
    asio::awaitable<std::uint64_t> write_response(Conn<Stream>& conn, bool head, Response& res, bool keep,
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
        auto* pieces = std::get_if<StreamBody>(&res.body);
        std::uint64_t length = res.content_length ? *res.content_length
                               : text                 ? text->size()
                               : file                 ? file->length
                                                      : pieces->length;
        if (res.status != 204 && res.status != 304 && !(res.status >= 100 && res.status < 200)) {
            hdr.set(bhttp::field::content_length, std::to_string(length));
        }
        hdr.keep_alive(keep);
        auto& stream = conn.stream;
        conn.expires_after(opt.write_timeout);
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
        if (pieces) {
            co_return co_await send_pieces(conn, *pieces) ? pieces->length : failed;
        }
        bool sent;
        if constexpr (is_tls<Stream>) {
            sent = co_await detail::send_file(conn.stream, *file, opt.write_timeout, ktls_sends);
        } else {
            sent = co_await detail::send_file(conn.socket(), *file, opt.write_timeout);
        }
        co_return sent ? file->length : failed;
    }

    /// A StreamBody: each piece as it comes, under the write deadline.
    template <class Stream>
    asio::awaitable<bool> send_pieces(Conn<Stream>& conn, StreamBody& body) {
        std::uint64_t left = body.length;
        while (left > 0) {
            auto piece = co_await body.next();
            if (!piece || piece->empty() || piece->size() > left) {
                co_return false;
            }
            conn.expires_after(opt.write_timeout);
            auto [ec, n] = co_await asio::async_write(conn.stream, asio::buffer(*piece), tuple_awaitable);
            if (ec) {
                co_return false;
            }
            left -= piece->size();
        }
        co_return true;
    }
};

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler))) {
    static const bool sigpipe_ignored = [] {
        struct sigaction old {};
        if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
            ::signal(SIGPIPE, SIG_IGN);
        }
        return true;
    }();
    (void)sigpipe_ignored;
    if (impl_->opt.tls) {
        auto ctx = make_server_tls_context(*impl_->opt.tls);
        if (!ctx) {
            throw std::runtime_error(ctx.error().detail);
        }
        impl_->tls_ctx = std::move(*ctx);
    }
}

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

bool Server::tls() const { return impl_->opt.tls.has_value(); }

std::uint64_t Server::kernel_tls_sends() const { return impl_->ktls_sends.load(std::memory_order_relaxed); }

std::int64_t Server::open_connections() const { return impl_->open.load(std::memory_order_relaxed); }

std::int64_t Server::requests_in_flight() const { return impl_->inflight.load(std::memory_order_relaxed); }

Result<void> Server::reload_tls() {
    if (!impl_->opt.tls) {
        return fail(errc::tls_config, "TLS is not configured");
    }
    DERMAGA_TRY(ctx, make_server_tls_context(*impl_->opt.tls));
    std::lock_guard lock(impl_->tls_mu);
    impl_->tls_ctx = std::move(ctx);  // connections made with the old one keep it
    return {};
}

void Server::shutdown(std::chrono::seconds grace, std::function<void()> done) {
    auto impl = impl_;
    asio::post(impl->io, [impl, grace, done = std::move(done)]() mutable {
        std::vector<std::shared_ptr<ConnBase>> idle;
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
            asio::post(c->executor(), [c] { c->cancel(); });
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
