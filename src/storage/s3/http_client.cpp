#include "storage/s3/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

namespace dermaga::storage::s3 {

namespace {

struct HttpCategory final : std::error_category {
    const char* name() const noexcept override { return "dermaga.s3.http"; }
    std::string message(int) const override { return "object storage unreachable"; }
};

/// Handles kept idle per client: enough for the blocking pool's concurrent calls to reuse
/// their connections without holding sockets for every thread that ever called.
constexpr std::size_t max_idle_handles = 64;
/// Error bodies are kept only this far (they are small XML documents).
constexpr std::size_t max_error_body = 64 * 1024;

void init_curl_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

/// Where a transfer puts what arrives.
struct Transfer {
    const HttpRequest* req;
    HttpResponse* res;
    bool overflow = false;
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
        t->res->headers.clear();  // a new response (after 100 Continue, or a redirect)
        return size * n;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        auto value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.remove_suffix(1);
        }
        t->res->headers.emplace_back(std::move(name), std::string(value));
    }
    return size * n;
}

/// Also notes the status of each response as its status line arrives: the body must be
/// routed (sink or error body) before curl reports the final status.
std::size_t on_status_line(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
        auto sp = line.find(' ');
        t->res->status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
    }
    return on_header(data, size, n, user);
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t len = size * n;
    // Only a 2xx body goes to the sink (the status line was read by on_status_line).
    if (t->req->sink.data() != nullptr && t->res->status >= 200 && t->res->status < 300) {
        if (t->res->sunk + len > t->req->sink.size()) {
            t->overflow = true;
            return 0;  // aborts the transfer
        }
        std::memcpy(t->req->sink.data() + t->res->sunk, data, len);
        t->res->sunk += len;
        return len;
    }
    if (t->res->body.size() + len > max_error_body && t->req->sink.data() != nullptr) {
        return len;  // drop the rest of an oversized error body
    }
    t->res->body.append(data, len);
    return len;
}

}  // namespace

const std::error_category& http_category() noexcept {
    static const HttpCategory c;
    return c;
}

std::string_view HttpResponse::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

struct HttpClient::Handle {
    CURL* curl = curl_easy_init();
    ~Handle() { curl_easy_cleanup(curl); }
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) { init_curl_once(); }

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Handle> HttpClient::take() {
    {
        std::lock_guard lock(mu_);
        if (!idle_.empty()) {
            auto h = std::move(idle_.back());
            idle_.pop_back();
            return h;
        }
    }
    return std::make_unique<Handle>();
}

void HttpClient::give_back(std::unique_ptr<Handle> h) {
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_handles) {
        idle_.push_back(std::move(h));
    }
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
    auto h = take();
    if (h->curl == nullptr) {
        return fail(http_errc::transport, "curl_easy_init failed");
    }
    CURL* c = h->curl;
    curl_easy_reset(c);  // keeps the handle's live connections
    HttpResponse res;
    Transfer t{&request, &res};
    curl_slist* headers = nullptr;
    for (const auto& [k, v] : request.headers) {
        headers = curl_slist_append(headers, (k + ": " + v).c_str());
    }
    // No "Expect: 100-continue" round trip, and no default Content-Type on bodies.
    headers = curl_slist_append(headers, "Expect:");
    headers = curl_slist_append(headers, "Content-Type:");
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never a proxy from the environment
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     std::max(1L, static_cast<long>(options_.stall_timeout.count() / 1000)));
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (!options_.ca_file.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_status_line);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (request.method == "HEAD") {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    if (request.method == "PUT" || request.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data() != nullptr ? request.body.data() : "");
    }
    const CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        std::string why = t.overflow ? "response larger than expected" : curl_easy_strerror(rc);
        return fail(http_errc::transport, request.method + " " + request.url.substr(0, request.url.find('?')) + ": " + why);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res.status);
    give_back(std::move(h));
    return res;
}

}  // namespace dermaga::storage::s3
