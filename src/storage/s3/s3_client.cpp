#include "storage/s3/s3_client.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "storage/blob_store.hpp"

namespace dermaga::storage::s3 {

namespace {

bool transient(const Result<HttpResponse>& r) {
    if (!r) {
        return true;  // connection refused, reset, timed out
    }
    return r->status >= 500 || r->status == 429 || (r->status >= 400 && s3_error_code(r->body) == "SlowDown");
}

std::string base64_md5(std::string_view bytes) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_md5(), nullptr);
    unsigned char out[64];
    const int n = EVP_EncodeBlock(out, md, static_cast<int>(len));
    return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string xml_unescape(std::string_view s) {
    static constexpr std::pair<std::string_view, char> entities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#34;", '"'}};
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        bool matched = false;
        if (s[i] == '&') {
            for (const auto& [e, c] : entities) {
                if (s.substr(i, e.size()) == e) {
                    out += c;
                    i += e.size();
                    matched = true;
                    break;
                }
            }
        }
        if (!matched) {
            out += s[i++];
        }
    }
    return out;
}

/// The failure for a final non-2xx answer: the S3 code and request for the log.
tl::unexpected<Error> s3_failure(std::string_view what, const HttpResponse& r) {
    const auto code = s3_error_code(r.body);
    std::string detail = "s3 " + std::string(what) + ": HTTP " + std::to_string(r.status);
    if (!code.empty()) {
        detail += " " + code;
    }
    if (auto id = r.header("x-amz-request-id"); !id.empty()) {
        detail += " (request " + std::string(id) + ")";
    }
    return fail(r.status == 404 ? errc::not_found : errc::io_error, std::move(detail));
}

tl::unexpected<Error> transport_failure(const Error& e) { return fail(errc::io_error, "s3 " + e.detail); }

std::int64_t system_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::vector<std::string> xml_values(std::string_view xml, std::string_view tag) {
    std::vector<std::string> out;
    const std::string open = "<" + std::string(tag) + ">";
    const std::string close = "</" + std::string(tag) + ">";
    for (std::size_t pos = 0;;) {
        auto a = xml.find(open, pos);
        if (a == std::string_view::npos) {
            break;
        }
        a += open.size();
        auto b = xml.find(close, a);
        if (b == std::string_view::npos) {
            break;
        }
        out.push_back(xml_unescape(xml.substr(a, b - a)));
        pos = b + close.size();
    }
    return out;
}

std::string s3_error_code(std::string_view xml) {
    if (xml.find("<Error>") == std::string_view::npos) {
        return {};
    }
    auto codes = xml_values(xml, "Code");
    return codes.empty() ? std::string() : codes.front();
}

S3Client::S3Client(S3Options options)
    : options_(std::move(options)),
      signer_(options_.credentials, options_.region),
      http_(options_.http) {
    auto sep = options_.endpoint.find("://");
    if (sep == std::string::npos) {
        throw std::invalid_argument("storage.s3.endpoint must start with http:// or https://");
    }
    scheme_ = options_.endpoint.substr(0, sep);
    if (scheme_ != "http" && scheme_ != "https") {
        throw std::invalid_argument("storage.s3.endpoint must start with http:// or https://");
    }
    std::string host = options_.endpoint.substr(sep + 3);
    while (!host.empty() && host.back() == '/') {
        host.pop_back();
    }
    if (host.empty() || host.find('/') != std::string::npos) {
        throw std::invalid_argument("storage.s3.endpoint must be scheme://host[:port] without a path");
    }
    if (options_.bucket.empty()) {
        throw std::invalid_argument("storage.s3.bucket is required");
    }
    host_ = options_.path_style ? host : options_.bucket + "." + host;
    if (!options_.now) {
        options_.now = system_now;
    }
    options_.attempts = std::max(1, options_.attempts);
}

std::string S3Client::path_for(std::string_view key) const {
    std::string path = options_.path_style ? "/" + uri_encode(options_.bucket, false) : "";
    if (!key.empty() || path.empty()) {
        path += "/" + uri_encode(key, true);
    }
    return path;
}

HttpRequest S3Client::build(const Call& call, std::int64_t now) const {
    const std::string when = amz_date(now);
    // Bodies of data are not hashed (UNSIGNED-PAYLOAD: hashing every part again would cost a
    // core); the small XML bodies are.
    const bool data = !call.body.empty() && call.method == "PUT";
    SignedRequest sr{call.method, path_for(call.key), call.query,
                     {{"host", host_}, {"x-amz-date", when}}, data ? "UNSIGNED-PAYLOAD" : sha256_hex(call.body)};
    sr.headers.emplace_back("x-amz-content-sha256", sr.payload_hash);
    if (!options_.credentials.session_token.empty()) {
        sr.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
    }
    for (const auto& h : call.headers) {
        sr.headers.push_back(h);
    }
    HttpRequest req;
    req.method = call.method;
    req.url = scheme_ + "://" + host_ + sr.path;
    if (!call.query.empty()) {
        req.url += "?" + canonical_query(call.query);
    }
    req.headers = sr.headers;
    req.headers.emplace_back("Authorization", signer_.authorization(sr, when));
    req.body = call.body;
    req.sink = call.sink;
    return req;
}

Result<HttpResponse> S3Client::send(const Call& call) {
    thread_local std::minstd_rand rng(std::random_device{}());
    Result<HttpResponse> r = fail(errc::io_error, "not sent");
    for (int attempt = 0; attempt < options_.attempts; ++attempt) {
        if (attempt > 0) {
            // Full jitter: a random wait up to base * 2^attempt, capped.
            const auto cap = std::min<std::int64_t>(options_.backoff_max.count(),
                                                    options_.backoff_base.count() << std::min(attempt, 16));
            std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<std::int64_t>(0, cap)(rng)));
        }
        r = http_.send(build(call, options_.now()));
        if (!transient(r)) {
            return r;
        }
    }
    if (!r) {
        return transport_failure(r.error());
    }
    return r;
}

Result<std::optional<ObjectInfo>> S3Client::head(std::string_view key) {
    DERMAGA_TRY(r, send({"HEAD", std::string(key), {}, {}, {}, {}}));
    if (r.status == 404) {
        return std::optional<ObjectInfo>();
    }
    if (r.status != 200) {
        return s3_failure("HEAD", r);
    }
    return std::optional<ObjectInfo>(ObjectInfo{std::stoull(std::string(r.header("content-length")))});
}

Result<std::size_t> S3Client::get_range(std::string_view key, std::uint64_t offset, std::span<char> into) {
    if (into.empty()) {
        return std::size_t{0};
    }
    const std::string range = "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + into.size() - 1);
    DERMAGA_TRY(r, send({"GET", std::string(key), {}, {{"range", range}}, {}, into}));
    if (r.status == 416) {
        return std::size_t{0};  // at or past the end
    }
    if (r.status != 206 && r.status != 200) {
        return s3_failure("GET", r);
    }
    return r.sunk;
}

Result<std::string> S3Client::get(std::string_view key) {
    DERMAGA_TRY(r, send({"GET", std::string(key), {}, {}, {}, {}}));
    if (r.status != 200) {
        return s3_failure("GET", r);
    }
    return std::move(r.body);
}

Result<void> S3Client::put(std::string_view key, std::string_view body) {
    DERMAGA_TRY(r, send({"PUT", std::string(key), {}, {}, body, {}}));
    if (r.status != 200) {
        return s3_failure("PUT", r);
    }
    return {};
}

Result<void> S3Client::remove(std::string_view key) {
    DERMAGA_TRY(r, send({"DELETE", std::string(key), {}, {}, {}, {}}));
    if (r.status != 204 && r.status != 200 && r.status != 404) {
        return s3_failure("DELETE", r);
    }
    return {};
}

Result<void> S3Client::remove_batch(const std::vector<std::string>& keys) {
    if (keys.empty()) {
        return {};
    }
    if (keys.size() > 1000) {
        return fail(errc::io_error, "s3 DeleteObjects takes at most 1000 keys");
    }
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (const auto& k : keys) {
        body += "<Object><Key>" + xml_escape(k) + "</Key></Object>";
    }
    body += "</Delete>";
    DERMAGA_TRY(r, send({"POST", "", {{"delete", ""}}, {{"content-md5", base64_md5(body)}}, body, {}}));
    if (r.status != 200) {
        return s3_failure("DeleteObjects", r);
    }
    // Quiet mode lists only the failures; a key already gone is not one.
    if (auto errors = xml_values(r.body, "Error"); !errors.empty()) {
        return fail(errc::io_error, "s3 DeleteObjects: " + std::to_string(errors.size()) + " keys not deleted, first: " +
                                        errors.front().substr(0, 200));
    }
    return {};
}

Result<void> S3Client::copy(std::string_view from, std::string_view to) {
    const std::string source = "/" + uri_encode(options_.bucket, false) + "/" + uri_encode(from, true);
    DERMAGA_TRY(r, send({"PUT", std::string(to), {}, {{"x-amz-copy-source", source}}, {}, {}}));
    // A copy can fail after the 200 status line: the error is then in the body.
    if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
        return s3_failure("CopyObject", r);
    }
    return {};
}

Result<std::string> S3Client::create_multipart(std::string_view key) {
    DERMAGA_TRY(r, send({"POST", std::string(key), {{"uploads", ""}}, {}, {}, {}}));
    auto ids = xml_values(r.body, "UploadId");
    if (r.status != 200 || ids.empty()) {
        return s3_failure("CreateMultipartUpload", r);
    }
    return ids.front();
}

Result<std::string> S3Client::upload_part(std::string_view key, std::string_view upload_id, int number,
                                          std::string_view body) {
    DERMAGA_TRY(r, send({"PUT", std::string(key), {{"partNumber", std::to_string(number)}, {"uploadId", std::string(upload_id)}},
                         {}, body, {}}));
    if (r.status != 200 || r.header("etag").empty()) {
        return s3_failure("UploadPart", r);
    }
    return std::string(r.header("etag"));
}

Result<std::string> S3Client::upload_part_copy(std::string_view key, std::string_view upload_id, int number,
                                               std::string_view from, std::uint64_t first, std::uint64_t last) {
    const std::string source = "/" + uri_encode(options_.bucket, false) + "/" + uri_encode(from, true);
    DERMAGA_TRY(r, send({"PUT", std::string(key), {{"partNumber", std::to_string(number)}, {"uploadId", std::string(upload_id)}},
                         {{"x-amz-copy-source", source},
                          {"x-amz-copy-source-range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}},
                         {}, {}}));
    auto etags = xml_values(r.body, "ETag");
    if (r.status != 200 || etags.empty()) {
        return s3_failure("UploadPartCopy", r);
    }
    return etags.front();
}

Result<void> S3Client::complete_multipart(std::string_view key, std::string_view upload_id, const std::vector<Part>& parts) {
    std::string body = "<CompleteMultipartUpload>";
    for (const auto& p : parts) {
        body += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + xml_escape(p.etag) +
                "</ETag></Part>";
    }
    body += "</CompleteMultipartUpload>";
    DERMAGA_TRY(r, send({"POST", std::string(key), {{"uploadId", std::string(upload_id)}}, {}, body, {}}));
    if (r.status != 200 || r.body.find("<Error>") != std::string::npos) {
        return s3_failure("CompleteMultipartUpload", r);
    }
    return {};
}

Result<void> S3Client::abort_multipart(std::string_view key, std::string_view upload_id) {
    DERMAGA_TRY(r, send({"DELETE", std::string(key), {{"uploadId", std::string(upload_id)}}, {}, {}, {}}));
    if (r.status != 204 && r.status != 200 && r.status != 404) {
        return s3_failure("AbortMultipartUpload", r);
    }
    return {};
}

Result<std::vector<MultipartUpload>> S3Client::list_multipart(std::string_view prefix) {
    DERMAGA_TRY(r, send({"GET", "", {{"uploads", ""}, {"prefix", std::string(prefix)}}, {}, {}, {}}));
    if (r.status != 200) {
        return s3_failure("ListMultipartUploads", r);
    }
    std::vector<MultipartUpload> out;
    for (const auto& u : xml_values(r.body, "Upload")) {
        auto key = xml_values(u, "Key");
        auto id = xml_values(u, "UploadId");
        auto at = xml_values(u, "Initiated");
        if (!key.empty() && !id.empty()) {
            out.push_back({key.front(), id.front(), at.empty() ? std::string() : at.front()});
        }
    }
    return out;
}

Result<void> S3Client::create_bucket() {
    DERMAGA_TRY(r, send({"PUT", "", {}, {}, {}, {}}));
    if (r.status == 200 || s3_error_code(r.body) == "BucketAlreadyOwnedByYou") {
        return {};
    }
    return s3_failure("CreateBucket", r);
}

Result<void> S3Client::head_bucket() {
    DERMAGA_TRY(r, send({"HEAD", "", {}, {}, {}, {}}));
    if (r.status != 200) {
        return s3_failure("HeadBucket", r);
    }
    return {};
}

std::string S3Client::presign_get(std::string_view key, std::int64_t expires_seconds) const {
    SignedRequest sr{"GET", path_for(key), {}, {{"host", host_}}, ""};
    return scheme_ + "://" + host_ + sr.path + "?" + signer_.presign_query(sr, amz_date(options_.now()), expires_seconds);
}

}  // namespace dermaga::storage::s3
