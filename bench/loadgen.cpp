// dermaga-loadgen: load generator for the Dermaga vs CNCF Distribution
// side-by-side benchmark (see bench/README.md).
//
// One subcommand per scenario; each prints exactly one flat JSON line on
// stdout (ops/s, MB/s with MB = 10^6 bytes, p50/p99 latency in ms, errors).
// Keep-alive HTTP/1.1 over Boost.Beast with C++20 coroutines; every non-2xx
// response and every transport error is counted in "errors".
//
//   dermaga-loadgen SCENARIO --target 127.0.0.1:5000 [options]
//   dermaga-loadgen free-port
//   dermaga-loadgen wait --target HOST:PORT --path /healthz,/v2/ [--timeout S] [--pid PID]

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/types.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr size_t kWritePiece = 4 * MiB;

[[noreturn]] void die(const std::string& m) {
  std::cerr << "loadgen: " << m << "\n";
  std::exit(2);
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double r3(double x) { return std::isfinite(x) ? std::round(x * 1000.0) / 1000.0 : 0.0; }

// ---------------------------------------------------------------- options

struct Global {
  std::string host = "127.0.0.1";
  std::string port = "5000";
  std::string hostport = "127.0.0.1:5000";
  tcp::endpoint ep;
  std::chrono::milliseconds io_timeout{120000};
  int threads = 1;
  uint64_t seed = 0;
  std::string runid;
  std::string prefix = "bench";
} G;

const std::set<std::string> kBoolFlags = {"verify", "no-verify", "quiet"};

struct Opts {
  std::map<std::string, std::string> kv;
  std::set<std::string> flags;

  bool has(const std::string& k) const { return kv.count(k) || flags.count(k); }
  bool flag(const std::string& k) const { return flags.count(k) > 0; }
  std::string str(const std::string& k, const std::string& def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  double num(const std::string& k, double def) const {
    auto it = kv.find(k);
    if (it == kv.end()) return def;
    try {
      return std::stod(it->second);
    } catch (...) {
      die("bad number for --" + k + ": " + it->second);
    }
  }
  // Sizes: plain bytes or with K/M/G (binary) suffix, e.g. 256M, 2G, 16KiB.
  uint64_t size(const std::string& k, uint64_t def) const {
    auto it = kv.find(k);
    if (it == kv.end()) return def;
    std::string s = it->second;
    size_t pos = 0;
    double v = 0;
    try {
      v = std::stod(s, &pos);
    } catch (...) {
      die("bad size for --" + k + ": " + s);
    }
    std::string suf = s.substr(pos);
    for (auto& c : suf) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    uint64_t mul = 1;
    if (suf.empty() || suf == "B") mul = 1;
    else if (suf == "K" || suf == "KB" || suf == "KIB") mul = KiB;
    else if (suf == "M" || suf == "MB" || suf == "MIB") mul = MiB;
    else if (suf == "G" || suf == "GB" || suf == "GIB") mul = GiB;
    else die("bad size suffix for --" + k + ": " + s);
    return static_cast<uint64_t>(v * static_cast<double>(mul));
  }
};

Opts parse_opts(int argc, char** argv) {
  Opts o;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c") a = "--c";
    if (a.rfind("--", 0) != 0) die("unexpected argument: " + a);
    a = a.substr(2);
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      o.kv[a.substr(0, eq)] = a.substr(eq + 1);
    } else if (kBoolFlags.count(a)) {
      o.flags.insert(a);
    } else if (i + 1 < argc) {
      o.kv[a] = argv[++i];
    } else {
      die("missing value for --" + a);
    }
  }
  return o;
}

// ---------------------------------------------------------------- data

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

void fill_random(uint8_t* p, size_t n, uint64_t seed) {
  SplitMix r{seed};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = r.next();
    std::memcpy(p + i, &v, 8);
  }
  if (i < n) {
    uint64_t v = r.next();
    std::memcpy(p + i, &v, n - i);
  }
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) die("EVP sha256 init failed");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string digest() {  // "sha256:<hex>"
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    static const char* hx = "0123456789abcdef";
    std::string s = "sha256:";
    for (unsigned i = 0; i < len; ++i) {
      s += hx[md[i] >> 4];
      s += hx[md[i] & 15];
    }
    return s;
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string sha256_digest(std::string_view s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.digest();
}

// A request body: byte i is base[(off + i) % baselen], i < len. Lets a large
// blob be a rotation of (or repeat) a pregenerated buffer without copying.
struct BodyRef {
  const uint8_t* base = nullptr;
  uint64_t baselen = 0;
  uint64_t off = 0;
  uint64_t len = 0;

  static BodyRef of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size(), 0, s.size()};
  }
  std::pair<const uint8_t*, size_t> piece(uint64_t pos, uint64_t maxn) const {
    uint64_t p = (off + pos) % baselen;
    uint64_t n = std::min<uint64_t>({maxn, baselen - p, len - pos});
    return {base + p, static_cast<size_t>(n)};
  }
  BodyRef sub(uint64_t start, uint64_t n) const {
    return {base, baselen, baselen ? (off + start) % baselen : 0, n};
  }
  std::string digest() const {
    Sha256 h;
    for (uint64_t pos = 0; pos < len;) {
      auto [p, n] = piece(pos, 16 * MiB);
      h.update(p, n);
      pos += n;
    }
    return h.digest();
  }
};

// ---------------------------------------------------------------- HTTP

enum class Sink { Store, Discard, Hash };

struct Resp {
  unsigned status = 0;
  http::response_header<> hdr;
  std::string body;
  uint64_t body_bytes = 0;
  std::string body_digest;  // with Sink::Hash
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

// One keep-alive HTTP/1.1 connection; reconnects lazily after errors or
// "Connection: close".
class Conn {
 public:
  explicit Conn(asio::any_io_executor ex) : stream_(std::move(ex)), rbuf_(1 * MiB) { fb_.reserve(64 * KiB); }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
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
      stream_.expires_after(G.io_timeout);
      co_await stream_.async_connect(G.ep, use_awaitable);
      stream_.socket().set_option(tcp::no_delay(true));
      open_ = true;
    }
    std::string head;
    head.reserve(512);
    head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
    head.append(G.hostport).append("\r\nUser-Agent: dermaga-loadgen/1\r\n");
    for (const auto& [k, v] : hdrs) head.append(k).append(": ").append(v).append("\r\n");
    const uint64_t blen = body ? body->len : 0;
    if (blen > 0 || method == "PUT" || method == "POST" || method == "PATCH")
      head.append("Content-Length: ").append(std::to_string(blen)).append("\r\n");
    head.append("\r\n");

    stream_.expires_after(G.io_timeout);
    if (blen == 0) {
      co_await asio::async_write(stream_, asio::buffer(head), use_awaitable);
    } else {
      auto [p0, n0] = body->piece(0, kWritePiece);
      std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(p0, n0)};
      co_await asio::async_write(stream_, bufs, use_awaitable);
      for (uint64_t pos = n0; pos < blen;) {
        auto [p, n] = body->piece(pos, kWritePiece);
        stream_.expires_after(G.io_timeout);
        co_await asio::async_write(stream_, asio::buffer(p, n), use_awaitable);
        pos += n;
      }
    }

    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    parser.header_limit(64 * 1024);
    if (method == "HEAD") parser.skip(true);
    stream_.expires_after(G.io_timeout);
    co_await http::async_read_header(stream_, fb_, parser, use_awaitable);

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
        stream_.expires_after(G.io_timeout);
        const size_t want = static_cast<size_t>(std::min<uint64_t>(rbuf_.size(), left));
        const size_t n = co_await stream_.async_read_some(asio::buffer(rbuf_.data(), want), use_awaitable);
        consume(rbuf_.data(), n);
        left -= n;
      }
    } else {
      while (!parser.is_done()) {
        parser.get().body().data = rbuf_.data();
        parser.get().body().size = rbuf_.size();
        stream_.expires_after(G.io_timeout);
        auto [ec, n] = co_await http::async_read(stream_, fb_, parser, asio::as_tuple(use_awaitable));
        (void)n;
        if (ec == http::error::need_buffer) ec = {};
        if (ec) throw beast::system_error(ec);
        consume(rbuf_.data(), rbuf_.size() - parser.get().body().size);
      }
    }
    r.status = parser.get().result_int();
    r.hdr = parser.get().base();
    if (hasher) r.body_digest = hasher->digest();
    guard.ok = true;
    if (!parser.get().keep_alive()) close();
    co_return r;
  }

 private:
  beast::tcp_stream stream_;
  beast::flat_buffer fb_;
  std::vector<char> rbuf_;
  bool open_ = false;
};

// Location may be absolute ("http://host:port/v2/...") or relative.
std::string resolve_location(const std::string& loc, std::string_view base_target) {
  if (loc.rfind("http://", 0) == 0 || loc.rfind("https://", 0) == 0) {
    auto p = loc.find('/', loc.find("//") + 2);
    return p == std::string::npos ? "/" : loc.substr(p);
  }
  if (!loc.empty() && loc[0] == '/') return loc;
  std::string_view b = base_target.substr(0, base_target.find('?'));
  return std::string(b.substr(0, b.rfind('/') + 1)) + loc;
}

std::string with_query(std::string url, std::string_view kv) {
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += kv;
  return url;
}

// Link: <url>; rel="next"  (possibly several comma-separated entries)
std::optional<std::string> next_link(const std::string& link) {
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

// ---------------------------------------------------------------- workers

struct Stats {
  uint64_t ops = 0, failed_ops = 0, requests = 0, errors = 0, bytes = 0, units = 0, units2 = 0;
  std::vector<float> lat;  // ms, measured successful ops
  std::map<std::string, std::vector<float>> kinds;
  void merge(Stats&& o) {
    ops += o.ops;
    failed_ops += o.failed_ops;
    requests += o.requests;
    errors += o.errors;
    bytes += o.bytes;
    units += o.units;
    units2 += o.units2;
    lat.insert(lat.end(), o.lat.begin(), o.lat.end());
    for (auto& [k, v] : o.kinds) kinds[k].insert(kinds[k].end(), v.begin(), v.end());
  }
};

struct Worker {
  int id;
  Conn conn;
  Stats st;
  std::mt19937_64 rng;
  // Per-op outputs, set by the op function, recorded by the phase loop.
  std::string kind;
  uint64_t op_bytes = 0, op_units = 0, op_units2 = 0;
  bool checked = false;
  Worker(int i, asio::any_io_executor ex)
      : id(i), conn(std::move(ex)), rng(G.seed * 1000003ULL + static_cast<uint64_t>(i)) {}
};

std::atomic<int> g_logged{0};
void log_err(const std::string& m) {
  if (g_logged.fetch_add(1) < 20) std::cerr << "loadgen: error: " << m << "\n";
}
void count_error(Worker& w, const std::string& m) {
  w.st.errors++;
  log_err(m);
}

// Issue one request (following same-host redirects for GET/HEAD); returns
// nullopt and counts an error on transport failure or non-2xx status.
awaitable<std::optional<Resp>> call(Worker& w, std::string_view method, const std::string& target,
                                    const Headers& h = {}, const BodyRef* body = nullptr,
                                    Sink sink = Sink::Store) {
  std::string tgt = target;
  for (int hop = 0; hop < 5; ++hop) {
    w.st.requests++;
    std::string err;
    Resp r;
    try {
      r = co_await w.conn.request(method, tgt, h, body, sink);
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (!err.empty()) {
      count_error(w, std::string(method) + " " + tgt + ": " + err);
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(use_awaitable);
      co_return std::nullopt;
    }
    if ((method == "GET" || method == "HEAD") &&
        (r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308)) {
      std::string loc = r.header("Location");
      bool same_host = loc.rfind("/", 0) == 0 || loc.find("//" + G.hostport + "/") != std::string::npos;
      if (!loc.empty() && same_host) {
        tgt = resolve_location(loc, tgt);
        continue;
      }
    }
    if (r.status < 200 || r.status > 299) {
      std::string snippet = r.body.substr(0, 300);
      for (auto& c : snippet)
        if (c == '\n' || c == '\r') c = ' ';
      count_error(w, std::string(method) + " " + tgt.substr(0, 200) + " -> " + std::to_string(r.status) + " " +
                         snippet);
      co_return std::nullopt;
    }
    co_return r;
  }
  count_error(w, std::string(method) + " " + target + ": too many redirects");
  co_return std::nullopt;
}

using OpFn = std::function<awaitable<bool>(Worker&, long)>;

struct PhaseCtl {
  OpFn fn;
  std::atomic<long> next{0};
  long count = 0;
  Clock::time_point start, measure_from, stop_at;
  std::vector<Clock::time_point> finished;
};

awaitable<void> worker_loop(Worker* w, PhaseCtl* c) {
  for (;;) {
    if (Clock::now() >= c->stop_at) break;
    long idx = c->next.fetch_add(1);
    if (idx >= c->count) break;
    w->kind.clear();
    w->op_bytes = w->op_units = w->op_units2 = 0;
    auto t0 = Clock::now();
    bool ok = co_await c->fn(*w, idx);
    auto t1 = Clock::now();
    if (t0 < c->measure_from) continue;
    if (!ok) {
      w->st.failed_ops++;
      continue;
    }
    float ms = static_cast<float>(seconds(t1 - t0) * 1000.0);
    w->st.ops++;
    w->st.lat.push_back(ms);
    w->st.bytes += w->op_bytes;
    w->st.units += w->op_units;
    w->st.units2 += w->op_units2;
    if (!w->kind.empty()) w->st.kinds[w->kind].push_back(ms);
  }
  c->finished[static_cast<size_t>(w->id)] = Clock::now();
}

struct PhaseResult {
  Stats st;
  double elapsed = 0;
};

// Runs `conc` workers, each looping over op indices [0, count) until the
// count is exhausted or `duration_s` (after `warmup_s`) has elapsed.
// duration_s <= 0 means "count only" (still bounded by --max-time).
PhaseResult run_phase(int conc, double duration_s, long count, double warmup_s, OpFn fn) {
  conc = std::max(conc, 1);
  asio::io_context ioc(G.threads);
  PhaseCtl ctl;
  ctl.fn = std::move(fn);
  ctl.count = count;
  ctl.start = Clock::now();
  ctl.measure_from = ctl.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  ctl.stop_at = duration_s > 0 ? ctl.measure_from + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(duration_s))
                               : ctl.start + std::chrono::hours(24);
  ctl.finished.assign(static_cast<size_t>(conc), ctl.start);
  std::vector<std::unique_ptr<Worker>> ws;
  for (int i = 0; i < conc; ++i) ws.push_back(std::make_unique<Worker>(i, ioc.get_executor()));
  for (auto& w : ws)
    asio::co_spawn(ioc, worker_loop(w.get(), &ctl), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_err(std::string("worker crashed: ") + ex.what());
      }
    });
  std::vector<std::thread> th;
  for (int i = 1; i < G.threads; ++i) th.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : th) t.join();
  PhaseResult pr;
  for (auto& w : ws) pr.st.merge(std::move(w->st));
  auto end = *std::max_element(ctl.finished.begin(), ctl.finished.end());
  pr.elapsed = std::max(1e-9, seconds(end - ctl.measure_from));
  return pr;
}

double pct(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  i = std::min(v.size() - 1, i > 0 ? i - 1 : 0);
  return v[i];
}

json report(const std::string& scen, PhaseResult& pr) {
  auto& st = pr.st;
  json j;
  j["scenario"] = scen;
  j["target"] = G.hostport;
  j["ops"] = st.ops;
  j["elapsed_s"] = r3(pr.elapsed);
  j["ops_per_s"] = r3(static_cast<double>(st.ops) / pr.elapsed);
  j["mb_per_s"] = r3(static_cast<double>(st.bytes) / 1e6 / pr.elapsed);
  j["bytes"] = st.bytes;
  j["p50_ms"] = r3(pct(st.lat, 0.50));
  j["p99_ms"] = r3(pct(st.lat, 0.99));
  j["max_ms"] = r3(st.lat.empty() ? 0.0 : st.lat.back());
  j["requests"] = st.requests;
  j["errors"] = st.errors;
  j["failed_ops"] = st.failed_ops;
  for (auto& [k, v] : st.kinds) {
    j["kind_" + k + "_ops"] = v.size();
    j["kind_" + k + "_p50_ms"] = r3(pct(v, 0.50));
    j["kind_" + k + "_p99_ms"] = r3(pct(v, 0.99));
  }
  return j;
}

void add_setup(json& j, const PhaseResult& setup, uint64_t& total_errors) {
  j["setup_s"] = r3(j.value("setup_s", 0.0) + setup.elapsed);
  j["setup_errors"] = j.value("setup_errors", uint64_t{0}) + setup.st.errors;
  total_errors += setup.st.errors;
}

int emit(const json& j) {
  std::cout << j.dump() << std::endl;
  uint64_t errs = j.value("errors", uint64_t{0}) + j.value("setup_errors", uint64_t{0});
  return errs ? 1 : 0;
}

// ---------------------------------------------------------------- registry ops

awaitable<bool> push_blob(Worker& w, const std::string& repo, const BodyRef& body, const std::string& digest) {
  const std::string start = "/v2/" + repo + "/blobs/uploads/";
  auto r = co_await call(w, "POST", start);
  if (!r) co_return false;
  std::string loc = r->header("Location");
  if (loc.empty()) {
    count_error(w, "POST " + start + ": no Location header");
    co_return false;
  }
  const Headers h{{"Content-Type", "application/octet-stream"}};
  auto r2 = co_await call(w, "PUT", with_query(resolve_location(loc, start), "digest=" + digest), h, &body);
  co_return r2.has_value();
}

// Cross-repository mount; falls back to a monolithic upload when the
// registry answers 202 (mount not performed).
awaitable<bool> mount_or_push(Worker& w, const std::string& repo, const std::string& from, const BodyRef& body,
                              const std::string& digest) {
  const std::string start = "/v2/" + repo + "/blobs/uploads/?mount=" + digest + "&from=" + from;
  auto r = co_await call(w, "POST", start);
  if (!r) co_return false;
  if (r->status == 201) co_return true;
  std::string loc = r->header("Location");
  if (loc.empty()) {
    count_error(w, "POST " + start + ": no Location header");
    co_return false;
  }
  const Headers h{{"Content-Type", "application/octet-stream"}};
  auto r2 = co_await call(w, "PUT", with_query(resolve_location(loc, start), "digest=" + digest), h, &body);
  co_return r2.has_value();
}

awaitable<bool> put_manifest(Worker& w, const std::string& repo, const std::string& ref, const std::string& manifest) {
  const Headers h{{"Content-Type", kOciManifest}};
  BodyRef b = BodyRef::of(manifest);
  auto r = co_await call(w, "PUT", "/v2/" + repo + "/manifests/" + ref, h, &b);
  co_return r.has_value();
}

struct Image {
  std::string layer, layer_digest, config, config_digest, manifest, manifest_digest;
};

std::string manifest_json(const std::string& cfg_digest, size_t cfg_size, const std::string& layer_digest,
                          size_t layer_size) {
  return std::string(R"({"schemaVersion":2,"mediaType":")") + kOciManifest + R"(","config":{"mediaType":")" +
         kOciConfig + R"(","digest":")" + cfg_digest + R"(","size":)" + std::to_string(cfg_size) +
         R"(},"layers":[{"mediaType":")" + kOciLayer + R"(","digest":")" + layer_digest + R"(","size":)" +
         std::to_string(layer_size) + "}]}";
}

Image make_image(uint64_t seed, uint64_t idx, size_t layer_size) {
  Image im;
  im.layer.resize(layer_size);
  fill_random(reinterpret_cast<uint8_t*>(im.layer.data()), layer_size, seed ^ ((idx + 1) * 0xD1B54A32D192ED03ULL));
  im.layer_digest = sha256_digest(im.layer);
  im.config = R"({"architecture":"amd64","os":"linux","config":{"Labels":{"dermaga.bench":")" +
              std::to_string(seed) + "-" + std::to_string(idx) +
              R"("}},"rootfs":{"type":"layers","diff_ids":[")" + im.layer_digest + R"("]}})";
  im.config_digest = sha256_digest(im.config);
  im.manifest = manifest_json(im.config_digest, im.config.size(), im.layer_digest, layer_size);
  im.manifest_digest = sha256_digest(im.manifest);
  return im;
}

awaitable<bool> push_image(Worker& w, const std::string& repo, const Image& im, const std::string& tag) {
  BodyRef layer = BodyRef::of(im.layer), cfg = BodyRef::of(im.config);
  if (!co_await push_blob(w, repo, layer, im.layer_digest)) co_return false;
  if (!co_await push_blob(w, repo, cfg, im.config_digest)) co_return false;
  co_return co_await put_manifest(w, repo, tag, im.manifest);
}

std::string repo_name(const Opts& o, const std::string& what) {
  return o.str("repo", G.prefix + "/" + what + "-" + G.runid);
}

std::string pad(long v, int width) {
  std::string s = std::to_string(v);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

// ---------------------------------------------------------------- scenarios

struct LargeSet {
  std::string repo;
  uint64_t size = 0;
  std::vector<std::string> digests;
};

// Pushes `n` distinct blobs of `size` bytes (rotations / repeats of one
// random buffer of at most --buffer bytes) with POST + monolithic PUT.
PhaseResult push_large(const Opts& o, const std::string& repo, uint64_t size, int n, int conc, LargeSet& out,
                       double& prep_s) {
  const uint64_t buflen = std::max<uint64_t>(1, std::min<uint64_t>(size, o.size("buffer", 256 * MiB)));
  auto t0 = Clock::now();
  std::vector<uint8_t> buf(buflen);
  fill_random(buf.data(), buflen, G.seed);
  std::vector<BodyRef> blobs;
  out = LargeSet{repo, size, {}};
  for (int k = 0; k < n; ++k) {
    BodyRef b{buf.data(), buflen, (static_cast<uint64_t>(k) * (buflen / std::max(n, 1)) + 7 * k) % buflen, size};
    blobs.push_back(b);
    out.digests.push_back(b.digest());
  }
  prep_s = seconds(Clock::now() - t0);
  return run_phase(conc, 0, n, 0, [&](Worker& w, long i) -> awaitable<bool> {
    w.op_bytes = size;
    co_return co_await push_blob(w, repo, blobs[static_cast<size_t>(i)], out.digests[static_cast<size_t>(i)]);
  });
}

void write_state(const std::string& path, const LargeSet& s) {
  json j;
  j["repo"] = s.repo;
  j["size"] = s.size;
  j["digests"] = s.digests;
  std::ofstream f(path);
  f << j.dump() << "\n";
}

int scen_blob_push(const Opts& o, const std::string& name, uint64_t def_size, int def_blobs) {
  const uint64_t size = o.size("size", def_size);
  const int n = static_cast<int>(o.num("blobs", def_blobs));
  LargeSet set;
  double prep = 0;
  auto pr = push_large(o, repo_name(o, name), size, n, static_cast<int>(o.num("c", 1)), set, prep);
  json j = report(name, pr);
  j["blob_size"] = size;
  j["blobs"] = n;
  j["prep_s"] = r3(prep);
  if (o.has("state") && pr.st.errors == 0) write_state(o.str("state", ""), set);
  return emit(j);
}

int scen_blob_pull(const Opts& o) {
  const bool verify = o.flag("verify") && !o.flag("no-verify");
  LargeSet set;
  std::optional<PhaseResult> setup;
  double prep = 0;
  if (o.has("state")) {
    std::ifstream f(o.str("state", ""));
    if (f) {
      try {
        json s = json::parse(f);
        set.repo = s.at("repo").get<std::string>();
        set.size = s.at("size").get<uint64_t>();
        set.digests = s.at("digests").get<std::vector<std::string>>();
      } catch (const std::exception& e) {
        std::cerr << "loadgen: ignoring bad state file: " << e.what() << "\n";
        set = {};
      }
    }
  }
  if (set.digests.empty())
    setup = push_large(o, repo_name(o, "large"), o.size("size", 256 * MiB), static_cast<int>(o.num("blobs", 4)),
                       1, set, prep);
  const long n = static_cast<long>(set.digests.size());
  const long rounds = static_cast<long>(o.num("rounds", 2));
  std::atomic<uint64_t> mismatches{0};
  auto pr = run_phase(static_cast<int>(o.num("c", 1)), 0, n * rounds, 0, [&](Worker& w, long i) -> awaitable<bool> {
    const std::string& d = set.digests[static_cast<size_t>(i % n)];
    auto r = co_await call(w, "GET", "/v2/" + set.repo + "/blobs/" + d, {}, nullptr, verify ? Sink::Hash : Sink::Discard);
    if (!r) co_return false;
    w.op_bytes = r->body_bytes;
    if (r->body_bytes != set.size) {
      mismatches++;
      count_error(w, "GET blob " + d + ": got " + std::to_string(r->body_bytes) + " bytes, want " +
                         std::to_string(set.size));
      co_return false;
    }
    if (verify && r->body_digest != d) {
      mismatches++;
      count_error(w, "GET blob " + d + ": digest mismatch " + r->body_digest);
      co_return false;
    }
    co_return true;
  });
  json j = report(verify ? "blob-pull-large-verify" : "blob-pull-large", pr);
  j["verify"] = verify;
  j["blob_size"] = set.size;
  j["mismatches"] = mismatches.load();
  uint64_t dummy = 0;
  if (setup) add_setup(j, *setup, dummy);
  return emit(j);
}

int scen_chunked_push(const Opts& o) {
  const uint64_t size = o.size("size", 256 * MiB);
  const uint64_t chunk = std::max<uint64_t>(1, o.size("chunk", 5 * MiB));
  const long nblobs = static_cast<long>(o.num("blobs", 1));
  const std::string repo = repo_name(o, "chunked");
  const uint64_t buflen = std::max<uint64_t>(1, size);
  std::vector<uint8_t> buf(buflen);
  fill_random(buf.data(), buflen, G.seed ^ 0xC4u);
  std::vector<BodyRef> blobs;
  std::vector<std::string> digests;
  for (long k = 0; k < nblobs; ++k) {
    blobs.push_back(BodyRef{buf.data(), buflen, static_cast<uint64_t>(k) * 4099 % buflen, size});
    digests.push_back(blobs.back().digest());
  }
  auto pr = run_phase(static_cast<int>(o.num("c", 1)), 0, nblobs, 0, [&](Worker& w, long i) -> awaitable<bool> {
    const BodyRef& blob = blobs[static_cast<size_t>(i)];
    const std::string start = "/v2/" + repo + "/blobs/uploads/";
    auto r = co_await call(w, "POST", start);
    if (!r) co_return false;
    std::string loc = r->header("Location");
    if (loc.empty()) {
      count_error(w, "POST: no Location");
      co_return false;
    }
    std::string url = resolve_location(loc, start);
    for (uint64_t pos = 0; pos < size;) {
      const uint64_t n = std::min(chunk, size - pos);
      BodyRef part = blob.sub(pos, n);
      const Headers h{{"Content-Type", "application/octet-stream"},
                      {"Content-Range", std::to_string(pos) + "-" + std::to_string(pos + n - 1)}};
      auto t0 = Clock::now();
      auto pr2 = co_await call(w, "PATCH", url, h, &part);
      if (!pr2) co_return false;
      w.st.kinds["patch"].push_back(static_cast<float>(seconds(Clock::now() - t0) * 1000.0));
      std::string nloc = pr2->header("Location");
      if (nloc.empty()) {
        count_error(w, "PATCH: no Location");
        co_return false;
      }
      url = resolve_location(nloc, url);
      pos += n;
      w.op_units++;
    }
    auto fin = co_await call(w, "PUT", with_query(url, "digest=" + digests[static_cast<size_t>(i)]));
    if (!fin) co_return false;
    w.op_bytes = size;
    co_return true;
  });
  json j = report("chunked-push", pr);
  j["blob_size"] = size;
  j["chunk_size"] = chunk;
  j["chunks"] = pr.st.units;
  return emit(j);
}

int scen_small_image_push(const Opts& o) {
  const std::string repo = repo_name(o, "small");
  const size_t layer = o.size("layer", 16 * KiB);
  auto pr = run_phase(static_cast<int>(o.num("c", 8)), o.num("duration", 5), static_cast<long>(o.num("count", 1e6)),
                      o.num("warmup", 1), [&](Worker& w, long i) -> awaitable<bool> {
                        Image im = make_image(G.seed, static_cast<uint64_t>(i), layer);
                        w.op_bytes = im.layer.size() + im.config.size() + im.manifest.size();
                        co_return co_await push_image(w, repo, im, "t" + std::to_string(i));
                      });
  json j = report("small-image-push", pr);
  j["images_per_s"] = j["ops_per_s"];
  return emit(j);
}

// Pushes n images (tags t0..t<n-1>) as untimed setup.
PhaseResult setup_images(const std::string& repo, int n, size_t layer, uint64_t seed, std::vector<Image>& out) {
  out.clear();
  for (int i = 0; i < n; ++i) out.push_back(make_image(seed, static_cast<uint64_t>(i), layer));
  return run_phase(std::min(n, 8), 0, n, 0, [&](Worker& w, long i) -> awaitable<bool> {
    co_return co_await push_image(w, repo, out[static_cast<size_t>(i)], "t" + std::to_string(i));
  });
}

int scen_manifest_get(const Opts& o) {
  const std::string repo = repo_name(o, "manifest");
  std::vector<Image> imgs;
  auto setup = setup_images(repo, std::max(1, static_cast<int>(o.num("images", 8))), o.size("layer", 16 * KiB),
                            G.seed, imgs);
  const Headers accept{{"Accept", kOciManifest}};
  static const char* kinds[] = {"get-tag", "get-digest", "head-tag", "head-digest"};
  auto pr = run_phase(static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
                      o.num("warmup", 1), [&](Worker& w, long) -> awaitable<bool> {
                        const int k = static_cast<int>(w.rng() % 4);
                        const size_t ii = static_cast<size_t>(w.rng() % imgs.size());
                        const Image& im = imgs[ii];
                        w.kind = kinds[k];
                        const std::string ref = (k % 2 == 0) ? "t" + std::to_string(ii) : im.manifest_digest;
                        const std::string url = "/v2/" + repo + "/manifests/" + ref;
                        auto r = co_await call(w, k < 2 ? "GET" : "HEAD", url, accept);
                        if (!r) co_return false;
                        if (k < 2 && r->body != im.manifest) {
                          count_error(w, "GET " + url + ": manifest body mismatch");
                          co_return false;
                        }
                        w.op_bytes = r->body_bytes;
                        co_return true;
                      });
  json j = report("manifest-get", pr);
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  return emit(j);
}

int scen_tag_list(const Opts& o) {
  const std::string repo = repo_name(o, "tags");
  const long ntags = std::max(1L, static_cast<long>(o.num("tags", 500)));
  std::vector<Image> imgs;
  auto setup = setup_images(repo, 1, 1 * KiB, G.seed, imgs);
  const Image im = imgs.at(0);
  auto setup2 = run_phase(16, 0, ntags, 0, [&](Worker& w, long i) -> awaitable<bool> {
    co_return co_await put_manifest(w, repo, "v" + pad(i, 5), im.manifest);
  });
  std::atomic<long> tags_seen{-1};
  const uint64_t expected = static_cast<uint64_t>(ntags) + 1;  // v00000.. plus t0
  auto pr = run_phase(static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
                      o.num("warmup", 1), [&](Worker& w, long) -> awaitable<bool> {
                        std::string url = "/v2/" + repo + "/tags/list";
                        const bool check = !w.checked;
                        uint64_t seen = 0;
                        for (int page = 0; page < 1000; ++page) {
                          auto r = co_await call(w, "GET", url);
                          if (!r) co_return false;
                          w.op_bytes += r->body_bytes;
                          w.op_units++;
                          if (check) {
                            try {
                              auto jj = nlohmann::json::parse(r->body);
                              if (jj.contains("tags") && jj["tags"].is_array()) seen += jj["tags"].size();
                            } catch (const std::exception& e) {
                              count_error(w, "tags/list: bad JSON: " + std::string(e.what()));
                              co_return false;
                            }
                          }
                          auto next = next_link(r->all("Link"));
                          if (!next) break;
                          url = resolve_location(*next, url);
                        }
                        if (check) {
                          w.checked = true;
                          tags_seen = static_cast<long>(seen);
                          if (seen != expected) {
                            count_error(w, "tags/list: saw " + std::to_string(seen) + " tags, want " +
                                               std::to_string(expected));
                            co_return false;
                          }
                        }
                        co_return true;
                      });
  json j = report("tag-list", pr);
  j["tags_seen"] = tags_seen.load();
  j["pages_per_op"] = r3(pr.st.ops ? static_cast<double>(pr.st.units) / static_cast<double>(pr.st.ops) : 0.0);
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  add_setup(j, setup2, dummy);
  return emit(j);
}

int scen_catalog_walk(const Opts& o) {
  const long nrepos = std::max(1L, static_cast<long>(o.num("repos", 5000)));
  const int page = std::max(1, static_cast<int>(o.num("page", 100)));
  const std::string base = o.str("repo", G.prefix + "/cat-" + G.runid);
  const std::string seed_repo = base + "/seed";
  // Tiny image shared by every repository (blobs are mounted, not re-uploaded).
  Image im = make_image(G.seed, 0, 64);
  auto setup1 = run_phase(1, 0, 1, 0, [&](Worker& w, long) -> awaitable<bool> {
    co_return co_await push_image(w, seed_repo, im, "latest");
  });
  auto setup2 = run_phase(static_cast<int>(o.num("setup-c", 16)), o.num("setup-timeout", 240), nrepos, 0,
                          [&](Worker& w, long i) -> awaitable<bool> {
                            const std::string repo = base + "/r" + pad(i, 5);
                            BodyRef cfg = BodyRef::of(im.config), layer = BodyRef::of(im.layer);
                            if (!co_await mount_or_push(w, repo, seed_repo, cfg, im.config_digest)) co_return false;
                            if (!co_await mount_or_push(w, repo, seed_repo, layer, im.layer_digest)) co_return false;
                            co_return co_await put_manifest(w, repo, "latest", im.manifest);
                          });
  const std::string first = "/v2/_catalog?n=" + std::to_string(page);
  auto pr = run_phase(static_cast<int>(o.num("c", 2)), o.num("duration", 10), static_cast<long>(o.num("walks", 1e6)),
                      o.num("warmup", 0), [&](Worker& w, long) -> awaitable<bool> {
                        std::string url = first;
                        for (int p = 0; p < 100000; ++p) {
                          auto r = co_await call(w, "GET", url);
                          if (!r) co_return false;
                          w.op_units++;
                          w.op_bytes += r->body_bytes;
                          try {
                            auto jj = nlohmann::json::parse(r->body);
                            if (jj.contains("repositories") && jj["repositories"].is_array())
                              w.op_units2 += jj["repositories"].size();
                          } catch (const std::exception& e) {
                            count_error(w, "_catalog: bad JSON: " + std::string(e.what()));
                            co_return false;
                          }
                          auto next = next_link(r->all("Link"));
                          if (!next) break;
                          url = resolve_location(*next, url);
                        }
                        if (w.op_units2 < static_cast<uint64_t>(nrepos)) {
                          count_error(w, "_catalog walk saw " + std::to_string(w.op_units2) + " repositories, want >= " +
                                             std::to_string(nrepos));
                          co_return false;
                        }
                        co_return true;
                      });
  json j = report("catalog-walk", pr);
  j["walks_per_s"] = j["ops_per_s"];
  j["pages_per_s"] = r3(static_cast<double>(pr.st.units) / pr.elapsed);
  j["repos_per_walk"] = pr.st.ops ? pr.st.units2 / pr.st.ops : 0;
  j["repos_created"] = setup2.st.ops;
  j["setup_repos_per_s"] = r3(static_cast<double>(setup2.st.ops) / setup2.elapsed);
  uint64_t dummy = 0;
  add_setup(j, setup1, dummy);
  add_setup(j, setup2, dummy);
  return emit(j);
}

int scen_mixed(const Opts& o) {
  const std::string repo = repo_name(o, "mixed");
  const size_t layer = o.size("layer", 16 * KiB);
  const int pull_pct = static_cast<int>(o.num("pull-pct", 80));
  std::vector<Image> imgs;
  auto setup = setup_images(repo, std::max(1, static_cast<int>(o.num("images", 16))), layer, G.seed, imgs);
  const Headers accept{{"Accept", kOciManifest}};
  auto pr = run_phase(
      static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
      o.num("warmup", 1), [&](Worker& w, long i) -> awaitable<bool> {
        if (static_cast<int>(w.rng() % 100) < pull_pct) {
          w.kind = "pull";
          const Image& im = imgs[static_cast<size_t>(w.rng() % imgs.size())];
          auto m = co_await call(w, "GET", "/v2/" + repo + "/manifests/" + im.manifest_digest, accept);
          if (!m) co_return false;
          if (m->body != im.manifest) {
            count_error(w, "mixed: manifest body mismatch");
            co_return false;
          }
          auto b = co_await call(w, "GET", "/v2/" + repo + "/blobs/" + im.layer_digest, {}, nullptr, Sink::Discard);
          if (!b) co_return false;
          if (b->body_bytes != im.layer.size()) {
            count_error(w, "mixed: blob size mismatch");
            co_return false;
          }
          w.op_bytes = m->body_bytes + b->body_bytes;
          co_return true;
        }
        w.kind = "push";
        Image im = make_image(G.seed, 1000000000ULL + static_cast<uint64_t>(i), layer);
        w.op_bytes = im.layer.size() + im.config.size() + im.manifest.size();
        co_return co_await push_image(w, repo, im, "m" + std::to_string(i));
      });
  json j = report("mixed", pr);
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  return emit(j);
}

// ---------------------------------------------------------------- utilities

int cmd_free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::cout << a.local_endpoint().port() << std::endl;
  return 0;
}

// Polls the comma-separated paths until one answers 2xx.
int cmd_wait(const Opts& o) {
  std::vector<std::string> paths;
  std::stringstream ss(o.str("path", "/v2/"));
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) paths.push_back(p);
  const double timeout = o.num("timeout", 30);
  const long pid = static_cast<long>(o.num("pid", 0));
  G.io_timeout = std::chrono::milliseconds(2000);
  auto t0 = Clock::now();
  for (int attempt = 0; attempt < 100000 && seconds(Clock::now() - t0) < timeout; ++attempt) {
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) {
      std::cerr << "loadgen: wait: process " << pid << " exited\n";
      return 1;
    }
    for (const auto& p : paths) {
      asio::io_context ioc;
      unsigned status = 0;
      asio::co_spawn(
          ioc,
          [](std::string path) -> awaitable<unsigned> {
            Conn c(co_await asio::this_coro::executor);
            auto r = co_await c.request("GET", path, {}, nullptr, Sink::Discard);
            co_return r.status;
          }(p),
          [&](std::exception_ptr e, unsigned st) {
            if (!e) status = st;
          });
      ioc.run();
      if (status >= 200 && status < 300) return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "loadgen: wait: " << G.hostport << " not ready after " << timeout << " s\n";
  return 1;
}

void usage() {
  std::cerr << R"(usage: dermaga-loadgen COMMAND [--target HOST:PORT] [options]

scenarios (each prints one JSON line):
  blob-push-large    --size 256M --blobs 4 [-c 1] [--state FILE]
  blob-push-huge     --size 2G --blobs 1 [--buffer 256M]
  blob-pull-large    [--verify] --rounds 2 [--state FILE from blob-push-large]
  chunked-push       --size 256M --chunk 5M
  small-image-push   -c 8 --duration 5 [--count N] [--layer 16K]
  manifest-get       -c 16 --duration 5 [--images 8]
  tag-list           -c 16 --duration 5 --tags 500
  catalog-walk       -c 2 --duration 10 --repos 5000 [--page 100] [--setup-c 16]
  mixed              -c 16 --duration 5 [--pull-pct 80] [--images 16]
utilities:
  free-port          print a free TCP port on 127.0.0.1
  wait               --path /healthz,/v2/ [--timeout 30] [--pid PID]
common: --target 127.0.0.1:5000 --threads 1 --seed N --prefix bench --repo NAME
        --warmup S --timeout S (per I/O op) --max-time S (hard cap, default 600)
)";
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    usage();
    return 2;
  }
  const std::string cmd = argv[1];
  const Opts o = parse_opts(argc - 2, argv + 2);
  if (cmd == "free-port") return cmd_free_port();

  const std::string target = o.str("target", "127.0.0.1:5000");
  auto colon = target.rfind(':');
  if (colon == std::string::npos) die("--target must be HOST:PORT");
  G.host = target.substr(0, colon);
  G.port = target.substr(colon + 1);
  G.hostport = target;
  {
    asio::io_context ioc;
    tcp::resolver res(ioc);
    beast::error_code ec;
    auto eps = res.resolve(G.host, G.port, ec);
    if (ec || eps.empty()) die("cannot resolve " + target + ": " + ec.message());
    G.ep = *eps.begin();
  }
  G.threads = std::max(1, static_cast<int>(o.num("threads", 1)));
  G.io_timeout = std::chrono::milliseconds(static_cast<long>(o.num("timeout", 120) * 1000));
  G.prefix = o.str("prefix", "bench");
  std::random_device rd;
  G.seed = o.has("seed") ? static_cast<uint64_t>(o.num("seed", 0))
                         : ((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                            static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  {
    std::ostringstream id;
    id << std::hex << (SplitMix{G.seed}.next() & 0xffffff);
    G.runid = id.str();
  }
  if (cmd == "wait") return cmd_wait(o);

  const double max_time = o.num("max-time", 600);
  std::thread([max_time, cmd] {
    std::this_thread::sleep_for(std::chrono::duration<double>(max_time));
    std::cerr << "loadgen: " << cmd << ": --max-time " << max_time << " s exceeded, aborting\n";
    std::cout << json{{"scenario", cmd}, {"target", G.hostport}, {"aborted", true}, {"errors", 1}}.dump()
              << std::endl;
    std::_Exit(3);
  }).detach();

  if (cmd == "blob-push-large") return scen_blob_push(o, cmd, 256 * MiB, 4);
  if (cmd == "blob-push-huge") return scen_blob_push(o, cmd, 2 * GiB, 1);
  if (cmd == "blob-pull-large") return scen_blob_pull(o);
  if (cmd == "chunked-push") return scen_chunked_push(o);
  if (cmd == "small-image-push") return scen_small_image_push(o);
  if (cmd == "manifest-get") return scen_manifest_get(o);
  if (cmd == "tag-list") return scen_tag_list(o);
  if (cmd == "catalog-walk") return scen_catalog_walk(o);
  if (cmd == "mixed") return scen_mixed(o);
  usage();
  return 2;
}
