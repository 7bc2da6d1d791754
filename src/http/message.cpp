#include "http/message.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <strings.h>

namespace dermaga::http {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.http"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::client_closed: return "client closed the connection";
            case errc::timeout: return "deadline passed";
            case errc::bad_body: return "malformed request body";
            case errc::body_too_large: return "request body too large";
            case errc::tls_config: return "TLS configuration error";
        }
        return "unknown http error";
    }
};

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

template <class F>
void for_each_param(std::string_view qs, F&& f) {
    while (!qs.empty()) {
        auto amp = qs.find('&');
        auto pair = qs.substr(0, amp);
        qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        auto eq = pair.find('=');
        auto key = pair.substr(0, eq);
        auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        if (!f(percent_decode(key), value)) {
            return;
        }
    }
}
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else if (s[i] == '+') {
            out.push_back(' ');
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

Request::Request(Method method, std::string target,
                 std::vector<std::pair<std::string, std::string>> headers, BodySource& body,
                 std::string request_id, std::string remote, std::string client_cert_cn)
    : method_(method),
      target_(std::move(target)),
      headers_(std::move(headers)),
      body_(body),
      request_id_(std::move(request_id)),
      remote_(std::move(remote)),
      client_cert_cn_(std::move(client_cert_cn)) {
    std::string_view t = target_;
    auto q = t.find('?');
    path_ = t.substr(0, q);
    query_string_ = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::optional<std::string> Request::query(std::string_view name) const {
    std::optional<std::string> found;
    for_each_param(query_string_, [&](const std::string& k, std::string_view v) {
        if (k == name) {
            found = percent_decode(v);
            return false;
        }
        return true;
    });
    return found;
}

std::vector<std::string> Request::query_all(std::string_view name) const {
    std::vector<std::string> out;
    for_each_param(query_string_, [&](const std::string& k, std::string_view v) {
        if (k == name) {
            out.push_back(percent_decode(v));
        }
        return true;
    });
    return out;
}

std::string_view Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers_) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return {};
}

bool Request::has_header(std::string_view name) const {
    for (const auto& [k, v] : headers_) {
        if (iequals(k, name)) {
            return true;
        }
    }
    return false;
}

asio::awaitable<Result<std::string>> Request::read_body(std::size_t limit) {
    std::string out;
    if (auto cl = body_.content_length()) {
        if (*cl > limit) {
            co_return fail(errc::body_too_large, "body exceeds the limit");
        }
        out.reserve(*cl);
    }
    char buf[64 * 1024];
    while (true) {
        auto n = co_await body_.read_some(std::span<char>(buf, sizeof buf));
        if (!n) {
            co_return tl::unexpected(n.error());
        }
        if (*n == 0) {
            break;
        }
        if (out.size() + *n > limit) {
            co_return fail(errc::body_too_large, "body exceeds the limit");
        }
        out.append(buf, *n);
    }
    co_return out;
}

}  // namespace dermaga::http
