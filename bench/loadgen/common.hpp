// Shared basics of dermaga-loadgen: options, deterministic data, digests, request bodies.
#pragma once

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

namespace loadgen {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kOciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr size_t kWritePiece = 4 * MiB;

[[noreturn]] inline void die(const std::string& m) {
  std::cerr << "loadgen: " << m << "\n";
  std::exit(2);
}

inline double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double r3(double x) { return std::isfinite(x) ? std::round(x * 1000.0) / 1000.0 : 0.0; }

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
  std::string authorization;  // sent as "Authorization:" on every request when not empty
};

inline Global G;  // set once by main() before any scenario runs

inline const std::set<std::string> kBoolFlags = {"verify", "no-verify", "quiet", "tls"};

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

inline Opts parse_opts(int argc, char** argv) {
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

inline void fill_random(uint8_t* p, size_t n, uint64_t seed) {
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

inline std::string sha256_digest(std::string_view s) {
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

}  // namespace loadgen
