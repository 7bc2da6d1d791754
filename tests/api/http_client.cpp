#include "http_client.hpp"

#include <strings.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>

namespace dermaga::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

/// Runs the io_context until every pending operation has completed (each is bounded by the
/// stream's deadline).
void drive(asio::io_context& io) {
    io.restart();
    io.run();
}

tcp::endpoint endpoint_of(const std::string& host, std::uint16_t port) {
    return tcp::endpoint(asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host), port);
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return {};
}

bool HttpResponse::has_header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> HttpResponse::header_all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            out.push_back(v);
        }
    }
    return out;
}

struct HttpClient::Impl {
    std::string host;
    std::uint16_t port;
    KeepAlive keep_alive;
    std::chrono::milliseconds timeout;
    std::string local_address;
    asio::io_context io;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    void connect() {
        stream.reset();
        buffer.clear();
        stream.emplace(io);
        stream->expires_after(timeout);
        boost::system::error_code result;
        if (!local_address.empty()) {
            stream->socket().open(tcp::v4());
            stream->socket().bind(tcp::endpoint(asio::ip::make_address(local_address), 0));
        }
        stream->async_connect(endpoint_of(host, port),
                              [&](boost::system::error_code ec) { result = ec; });
        drive(io);
        if (result) {
            stream.reset();
            throw std::runtime_error("connect to " + host + ":" + std::to_string(port) + ": " +
                                     result.message());
        }
        boost::system::error_code ignore;
        stream->socket().set_option(tcp::no_delay(true), ignore);
    }

    /// One attempt on the current connection. `fresh_failure` is set when the connection turned
    /// out to be dead before any response byte arrived (safe to retry on a new connection).
    std::optional<HttpResponse> attempt(std::string_view method, std::string_view target,
                                        const Headers& headers, std::string_view body,
                                        Framing framing, bool& fresh_failure, std::string& error) {
        bhttp::request<bhttp::string_body> req;
        req.version(11);
        req.method_string(method);
        req.target(target);
        req.set(bhttp::field::host, host + ":" + std::to_string(port));
        req.set(bhttp::field::user_agent, "dermaga-api-test");
        for (const auto& [k, v] : headers) {
            req.insert(k, v);
        }
        req.body() = std::string(body);
        if (framing == Framing::chunked) {
            req.chunked(true);
        } else {
            req.prepare_payload();
        }
        req.keep_alive(keep_alive == KeepAlive::yes);

        // Write and read at once: the server may answer (and stop reading) before the whole
        // body is sent, e.g. when it rejects an oversized manifest.
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(std::uint64_t{1} << 30);
        parser.header_limit(1 << 20);
        if (iequals(method, "HEAD")) {
            parser.skip(true);
        }
        boost::system::error_code wec;
        boost::system::error_code rec;
        bool write_done = false;
        bool write_cancelled = false;
        std::size_t got = 0;
        stream->expires_after(timeout);
        bhttp::async_write(*stream, req, [&](boost::system::error_code ec, std::size_t) {
            wec = ec;
            write_done = true;
        });
        bhttp::async_read(*stream, buffer, parser,
                          [&](boost::system::error_code ec, std::size_t n) {
                              rec = ec;
                              got = n;
                              if (!write_done) {
                                  write_cancelled = true;
                                  boost::system::error_code ignore;
                                  stream->socket().cancel(ignore);
                              }
                          });
        drive(io);
        if (rec) {
            fresh_failure =
                got == 0 && !parser.got_some() &&
                (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
                 rec == asio::error::connection_reset || rec == asio::error::broken_pipe);
            error = std::string(method) + " " + std::string(target) + ": read: " + rec.message() +
                    (wec ? " (write: " + wec.message() + ")" : "");
            stream.reset();
            return std::nullopt;
        }
        auto& msg = parser.get();
        HttpResponse out;
        out.status = msg.result_int();
        for (const auto& f : msg) {
            out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        }
        out.body = std::move(msg.body());
        if (!msg.keep_alive() || keep_alive == KeepAlive::no || wec || write_cancelled) {
            boost::system::error_code ignore;
            stream->socket().shutdown(tcp::socket::shutdown_both, ignore);
            stream.reset();
        }
        return out;
    }
};

HttpClient::HttpClient(std::string host, std::uint16_t port, KeepAlive keep_alive,
                       std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
    impl_->keep_alive = keep_alive;
    impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

void HttpClient::close() {
    impl_->stream.reset();
    impl_->buffer.clear();
}

void HttpClient::set_local_address(std::string address) {
    close();
    impl_->local_address = std::move(address);
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target,
                                 const Headers& headers, std::string_view body, Framing framing) {
    for (int tries = 0; tries < 2; ++tries) {
        const bool reused = impl_->stream.has_value();
        if (!reused) {
            impl_->connect();
        }
        bool fresh_failure = false;
        std::string error;
        auto r = impl_->attempt(method, target, headers, body, framing, fresh_failure, error);
        if (r) {
            return std::move(*r);
        }
        // A kept-alive connection the server had already closed: retry once on a new one.
        if (!(reused && fresh_failure)) {
            throw std::runtime_error(error);
        }
    }
    throw std::runtime_error("unreachable");
}

std::string HttpClient::raw_exchange(const std::string& host, std::uint16_t port,
                                     std::string_view bytes, HalfClose half_close,
                                     std::chrono::milliseconds timeout) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    boost::system::error_code ec;
    stream.expires_after(timeout);
    stream.async_connect(endpoint_of(host, port), [&](boost::system::error_code e) { ec = e; });
    drive(io);
    if (ec) {
        throw std::runtime_error("connect: " + ec.message());
    }
    // Write and read at once: the server may answer and close before reading everything.
    std::string out;
    stream.expires_after(timeout);
    asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                      [&](boost::system::error_code e, std::size_t) {
                          if (!e && half_close == HalfClose::yes) {
                              boost::system::error_code ignore;
                              stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
                          }
                      });
    asio::async_read(stream, asio::dynamic_buffer(out),
                     [&](boost::system::error_code, std::size_t) {});
    drive(io);
    return out;
}

}  // namespace dermaga::test
