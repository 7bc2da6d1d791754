// Keep-alive HTTP/1.1 client connection of dermaga-loadgen, plus URL helpers.
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "common.hpp"

namespace loadgen {

// Set by main() for --tls: every connection speaks TLS 1.3 with TLS_AES_128_GCM_SHA256 (the
// same cipher whatever the server prefers), without verifying the server (both sides of a
// benchmark use the same throwaway certificate).
inline std::unique_ptr<asio::ssl::context> g_tls;

inline void enable_tls() {
  g_tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(g_tls->native_handle(), TLS1_3_VERSION);
  SSL_CTX_set_ciphersuites(g_tls->native_handle(), "TLS_AES_128_GCM_SHA256");
  g_tls->set_verify_mode(asio::ssl::verify_none);
}


enum class Sink { Store, Discard, Hash };

struct Resp {
  unsigned status = 0;
  http::response_header<> hdr;
  std::string body;
  uint64_t body_bytes = 0;
  std::string body_digest;  // with Sink::Hash
  bool keep_alive = true;
  std::string header(std::string_view name) const {
    auto it = hdr.find(beast::string_view(name.data(), name.size()));
    return it == hdr.end() ? std::string() : std::string(it->value());
  }
  std::string all(std::string_view name) const {
    std::string out;
    auto range = hdr.equal_range(beast::string_view(name.data(), name.size()));
    for (auto it = range.first; it != range.second; ++it) {
      if (!out.empty()) out += ", ";
      out += std::string(it->value());
    }
    return out;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One keep-alive HTTP/1.1 connection (TLS with --tls); reconnects lazily after errors or
// "Connection: close".
class Conn {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

 public:
  explicit Conn(asio::any_io_executor ex) : ex_(ex), plain_(std::move(ex)), rbuf_(1 * MiB) { fb_.reserve(64 * KiB); }

  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    tls_.reset();
    fb_.consume(fb_.size());
    open_ = false;
  }

  awaitable<Resp> request(std::string_view method, const std::string& target, const Headers& hdrs,
                          const BodyRef* body, Sink sink) {
    struct Guard {
      Conn* c;
      bool ok = false;
      ~Guard() {
        if (!ok) c->close();
      }
    } guard{this};

    if (!open_) {
      if (g_tls) tls_ = std::make_unique<TlsStream>(ex_, *g_tls);
      lowest().expires_after(G.io_timeout);
      co_await lowest().async_connect(G.ep, use_awaitable);
      lowest().socket().set_option(tcp::no_delay(true));
      if (tls_) co_await tls_->async_handshake(asio::ssl::stream_base::client, use_awaitable);
      open_ = true;
    }
    Resp r;  // (not a conditional expression: GCC 12 miscompiles co_await inside one)
    if (tls_) {
      r = co_await exchange(*tls_, method, target, hdrs, body, sink);
    } else {
      r = co_await exchange(plain_, method, target, hdrs, body, sink);
    }
    guard.ok = true;
    if (!r.keep_alive) close();
    co_return r;
  }

 private:
  beast::tcp_stream& lowest() { return tls_ ? tls_->next_layer() : plain_; }

  template <class Stream>
  awaitable<Resp> exchange(Stream& s, std::string_view method, const std::string& target,
                           const Headers& hdrs, const BodyRef* body, Sink sink) {
    std::string head;
    head.reserve(512);
    head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
    head.append(G.hostport).append("\r\nUser-Agent: dermaga-loadgen/1\r\n");
    if (!G.authorization.empty()) head.append("Authorization: ").append(G.authorization).append("\r\n");
    for (const auto& [k, v] : hdrs) head.append(k).append(": ").append(v).append("\r\n");
    const uint64_t blen = body ? body->len : 0;
    if (blen > 0 || method == "PUT" || method == "POST" || method == "PATCH")
      head.append("Content-Length: ").append(std::to_string(blen)).append("\r\n");
    head.append("\r\n");

    lowest().expires_after(G.io_timeout);
    if (blen == 0) {
      co_await asio::async_write(s, asio::buffer(head), use_awaitable);
    } else {
      auto [p0, n0] = body->piece(0, kWritePiece);
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        // Separately: a two-buffer write through Beast's ssl_stream left the body unsent here.
        co_await asio::async_write(s, asio::buffer(head), use_awaitable);
        co_await asio::async_write(s, asio::buffer(p0, n0), use_awaitable);
      } else {
        std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(p0, n0)};
        co_await asio::async_write(s, bufs, use_awaitable);
      }
      for (uint64_t pos = n0; pos < blen;) {
        auto [p, n] = body->piece(pos, kWritePiece);
        lowest().expires_after(G.io_timeout);
        co_await asio::async_write(s, asio::buffer(p, n), use_awaitable);
        pos += n;
      }
    }

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(64 * 1024);
    if (method == "HEAD") parser.skip(true);
    lowest().expires_after(G.io_timeout);
    co_await http::async_read_header(s, fb_, parser, use_awaitable);

    Resp r;
    std::optional<Sha256> hasher;
    if (sink == Sink::Hash) hasher.emplace();
    constexpr size_t kStoreLimit = 64 * MiB;
    auto consume = [&](const char* p, size_t got) {
      r.body_bytes += got;
      if (sink == Sink::Store && r.body.size() < kStoreLimit)
        r.body.append(p, std::min(got, kStoreLimit - r.body.size()));
      else if (hasher)
        hasher->update(p, got);
    };
    auto remaining = parser.content_length_remaining();
    if (!parser.is_done() && !parser.chunked() && remaining) {
      // Fast path for Content-Length bodies: leftover bytes from the header
      // read, then large reads straight from the socket (the parser would
      // read in small pieces and copy twice).
      uint64_t left = *remaining;
      if (left > 0 && fb_.size() > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(fb_.size(), left));
        consume(static_cast<const char*>(fb_.data().data()), n);
        fb_.consume(n);
        left -= n;
      }
      while (left > 0) {
        lowest().expires_after(G.io_timeout);
        const size_t want = static_cast<size_t>(std::min<uint64_t>(rbuf_.size(), left));
        const size_t n = co_await s.async_read_some(asio::buffer(rbuf_.data(), want), use_awaitable);
        consume(rbuf_.data(), n);
        left -= n;
      }
    } else {
      while (!parser.is_done()) {
        parser.get().body().data = rbuf_.data();
        parser.get().body().size = rbuf_.size();
        lowest().expires_after(G.io_timeout);
        auto [ec, n] = co_await http::async_read(s, fb_, parser, asio::as_tuple(use_awaitable));
        (void)n;
        if (ec == http::error::need_buffer) ec = {};
        if (ec) throw beast::system_error(ec);
        consume(rbuf_.data(), rbuf_.size() - parser.get().body().size);
      }
    }
    r.status = parser.get().result_int();
    r.hdr = parser.get().base();
    if (hasher) r.body_digest = hasher->digest();
    r.keep_alive = parser.get().keep_alive();
    co_return r;
  }

  asio::any_io_executor ex_;
  beast::tcp_stream plain_;
  std::unique_ptr<TlsStream> tls_;
  beast::flat_buffer fb_;
  std::vector<char> rbuf_;
  bool open_ = false;
};

// Location may be absolute ("http://host:port/v2/...") or relative.
inline std::string resolve_location(const std::string& loc, std::string_view base_target) {
  if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) {
    auto p = loc.find('/', loc.find("//") + 2);
    return p == std::string::npos ? "/" : loc.substr(p);
  }
  if (!loc.empty() && loc[0] == '/') return loc;
  std::string_view b = base_target.substr(0, base_target.find('?'));
  return std::string(b.substr(0, b.rfind('/') + 1)) + loc;
}

inline std::string with_query(std::string url, std::string_view kv) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += kv;
  return url;
}

// Link: <url>; rel="next"  (possibly several comma-separated entries)
inline std::optional<std::string> next_link(const std::string& link) {
  size_t pos = 0;
  while ((pos = link.find('<', pos)) != std::string::npos) {
    auto e = link.find('>', pos);
    if (e == std::string::npos) break;
    std::string url = link.substr(pos + 1, e - pos - 1);
    auto nxt = link.find('<', e);
    std::string params = link.substr(e + 1, nxt == std::string::npos ? std::string::npos : nxt - e - 1);
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos)
      return url;
    pos = e;
  }
  return std::nullopt;
}

}  // namespace loadgen
