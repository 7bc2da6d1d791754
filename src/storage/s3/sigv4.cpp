#include "storage/s3/sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>

namespace dermaga::storage::s3 {

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(n * 2, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    return out;
}

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
         data.size(), out, &len);
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// Trims and collapses runs of spaces to one, as the canonical headers require.
std::string trim_value(std::string_view v) {
    std::string out;
    bool space = false;
    for (char c : v) {
        if (c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) {
            out += ' ';
            space = false;
        }
        out += c;
    }
    return out;
}

/// Sorted (name, value) pairs with lower-case names; values of repeated names joined by ','.
std::vector<std::pair<std::string, std::string>> canonical_headers(const SignedRequest& req) {
    std::vector<std::pair<std::string, std::string>> hs;
    for (const auto& [k, v] : req.headers) {
        hs.emplace_back(lower(k), trim_value(v));
    }
    std::stable_sort(hs.begin(), hs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<std::string, std::string>> merged;
    for (auto& h : hs) {
        if (!merged.empty() && merged.back().first == h.first) {
            merged.back().second += "," + h.second;
        } else {
            merged.push_back(std::move(h));
        }
    }
    return merged;
}

std::string signed_header_names(const SignedRequest& req) {
    std::string out;
    for (const auto& [k, v] : canonical_headers(req)) {
        out += (out.empty() ? "" : ";") + k;
    }
    return out;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &len, EVP_sha256(), nullptr);
    return hex(out, len);
}

std::string uri_encode(std::string_view s, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~' || (c == '/' && keep_slash)) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
    std::vector<std::pair<std::string, std::string>> enc;
    enc.reserve(query.size());
    for (const auto& [k, v] : query) {
        enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
    }
    std::sort(enc.begin(), enc.end());
    std::string out;
    for (const auto& [k, v] : enc) {
        out += (out.empty() ? "" : "&") + k + "=" + v;
    }
    return out;
}

std::string canonical_request(const SignedRequest& req) {
    std::string out = req.method + "\n" + (req.path.empty() ? "/" : req.path) + "\n" + canonical_query(req.query) + "\n";
    for (const auto& [k, v] : canonical_headers(req)) {
        out += k + ":" + v + "\n";
    }
    out += "\n" + signed_header_names(req) + "\n" + req.payload_hash;
    return out;
}

std::string amz_date(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[20];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

Signer::Signer(Credentials credentials, std::string region, std::string service)
    : credentials_(std::move(credentials)), region_(std::move(region)), service_(std::move(service)) {}

std::string Signer::scope(std::string_view when) const {
    return std::string(when.substr(0, 8)) + "/" + region_ + "/" + service_ + "/aws4_request";
}

std::string Signer::signature(const std::string& canonical, std::string_view when) const {
    const std::string to_sign =
        "AWS4-HMAC-SHA256\n" + std::string(when) + "\n" + scope(when) + "\n" + sha256_hex(canonical);
    std::string key = hmac("AWS4" + credentials_.secret_key, when.substr(0, 8));
    key = hmac(key, region_);
    key = hmac(key, service_);
    key = hmac(key, "aws4_request");
    const std::string sig = hmac(key, to_sign);
    return hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
}

std::string Signer::authorization(const SignedRequest& req, std::string_view when) const {
    return "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key + "/" + scope(when) +
           ",SignedHeaders=" + signed_header_names(req) + ",Signature=" + signature(canonical_request(req), when);
}

std::string Signer::presign_query(SignedRequest req, std::string_view when, std::int64_t expires_seconds) const {
    req.query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    req.query.emplace_back("X-Amz-Credential", credentials_.access_key + "/" + scope(when));
    req.query.emplace_back("X-Amz-Date", std::string(when));
    req.query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
    if (!credentials_.session_token.empty()) {
        req.query.emplace_back("X-Amz-Security-Token", credentials_.session_token);
    }
    req.query.emplace_back("X-Amz-SignedHeaders", signed_header_names(req));
    req.payload_hash = "UNSIGNED-PAYLOAD";
    const std::string sig = signature(canonical_request(req), when);
    return canonical_query(req.query) + "&X-Amz-Signature=" + sig;
}

}  // namespace dermaga::storage::s3
