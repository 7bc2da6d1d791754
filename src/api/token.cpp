// The token endpoint of Docker token authentication (distribution's docs/spec/auth/token.md,
// oauth.md): GET with Basic credentials or anonymous, POST with grant_type=password or
// refresh_token. Granted actions are the intersection of what was asked and what is allowed.

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "api/access.hpp"
#include "api/oci_errors.hpp"
#include "api/token.hpp"
#include "core/blocking.hpp"
#include "core/clock.hpp"
#include "core/names.hpp"

namespace dermaga::api {

namespace {

using Json = nlohmann::json;
namespace asio = boost::asio;

constexpr std::size_t max_form = std::size_t{64} * 1024;

/// application/x-www-form-urlencoded → name/value pairs.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!body.empty()) {
        auto amp = body.find('&');
        auto part = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
        auto eq = part.find('=');
        out.emplace_back(http::percent_decode(part.substr(0, eq)),
                         eq == std::string_view::npos ? std::string() : http::percent_decode(part.substr(eq + 1)));
    }
    return out;
}

std::vector<std::string> split_spaces(const std::vector<std::string>& values) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        std::size_t i = 0;
        while (i < v.size()) {
            auto j = v.find(' ', i);
            if (j == std::string::npos) {
                j = v.size();
            }
            if (j > i) {
                out.push_back(v.substr(i, j - i));
            }
            i = j + 1;
        }
    }
    return out;
}

http::Response json_response(const Json& j) {
    http::Response r;
    r.set("Content-Type", "application/json");
    r.set("Cache-Control", "no-store");
    r.body = j.dump();
    return r;
}

/// What `p` gets of the requested scopes. Unknown types and invalid names are left out.
Result<std::vector<auth::AccessEntry>> grant(auth::Services& s, const auth::Principal& p,
                                             const std::vector<std::string>& scopes) {
    std::vector<auth::AccessEntry> out;
    for (const auto& scope : scopes) {
        auto first = scope.find(':');
        auto last = scope.rfind(':');
        if (first == std::string::npos || first == last) {
            return fail(auth::errc::bad_input, "invalid scope: " + scope);
        }
        auto type = scope.substr(0, first);
        auto name = scope.substr(first + 1, last - first - 1);
        const unsigned asked = auth::parse_actions(scope.substr(last + 1));
        if (type == "registry" && name == "catalog") {
            out.push_back({"registry", "catalog", {"*"}});
            continue;
        }
        if (type != "repository" || !RepoName::parse(name)) {
            continue;
        }
        DERMAGA_TRY(allowed, s.authz.actions(p, name));
        auto names = auth::action_names(asked & allowed);
        if (!names.empty()) {
            out.push_back({"repository", name, std::move(names)});
        }
    }
    return out;
}

struct Issued {
    std::string token;
    std::string refresh;
};

Result<Issued> issue(auth::Services& s, const auth::Principal& p, const std::vector<std::string>& scopes,
                     bool offline) {
    DERMAGA_TRY(access, grant(s, p, scopes));
    DERMAGA_TRY(token, s.tokens.issue(p, access));
    Issued out{std::move(token), {}};
    if (offline && auth::refreshable(p)) {
        DERMAGA_TRY(refresh, s.tokens.issue_refresh(p));
        out.refresh = std::move(refresh);
    }
    return out;
}

}  // namespace

asio::awaitable<http::Response> token_endpoint(Gate& gate, http::Request& req, asio::thread_pool& blocking) {
    auto& s = gate.services();
    const auto m = req.method();
    if (m != http::Method::get && m != http::Method::post) {
        auto r = error_response(405, "UNSUPPORTED", "the method is not supported on this endpoint");
        r.set("Allow", "GET, POST");
        co_return r;
    }
    std::vector<std::pair<std::string, std::string>> form;
    if (m == http::Method::post) {
        auto body = co_await req.read_body(max_form);
        if (!body) {
            co_return error_response(body.error());
        }
        form = parse_form(*body);
    }
    auto param = [&](std::string_view name) -> std::optional<std::string> {
        if (m == http::Method::get) {
            return req.query(name);
        }
        for (auto& [k, v] : form) {
            if (k == name) {
                return v;
            }
        }
        return std::nullopt;
    };
    auto params = [&](std::string_view name) {
        if (m == http::Method::get) {
            return req.query_all(name);
        }
        std::vector<std::string> out;
        for (auto& [k, v] : form) {
            if (k == name) {
                out.push_back(v);
            }
        }
        return out;
    };
    if (auto svc = param("service"); svc && *svc != s.options.token.service) {
        co_return error_response(400, "BAD_REQUEST", "unknown service", *svc);
    }
    const auto scopes = split_spaces(params("scope"));
    const std::string address = req.remote();

    // Who is asking.
    Result<auth::Principal> who = auth::Principal{};
    bool offline = false;
    if (m == http::Method::get) {
        offline = param("offline_token") == "true";
        if (auto h = req.header("Authorization"); !h.empty()) {
            auto creds = parse_basic(h);
            if (!creds) {
                co_return gate.challenge(req, {});
            }
            who = co_await run_blocking(blocking, [&] { return s.authn.login(creds->first, creds->second, address); });
        }
    } else {
        const auto grant_type = param("grant_type").value_or("");
        if (grant_type == "password") {
            offline = param("access_type") == "offline";
            auto user = param("username").value_or("");
            auto pass = param("password").value_or("");
            who = co_await run_blocking(blocking, [&] { return s.authn.login(user, pass, address); });
        } else if (grant_type == "refresh_token") {
            auto rt = param("refresh_token").value_or("");
            who = co_await run_blocking(blocking, [&]() -> Result<auth::Principal> {
                DERMAGA_TRY(row, s.tokens.check_refresh(rt));
                return s.authn.refreshed(row);
            });
        } else {
            co_return error_response(400, "BAD_REQUEST", "grant_type must be password or refresh_token");
        }
    }
    if (!who) {
        const auto& e = who.error();
        if (e.code == auth::errc::unauthenticated) {
            if (e.detail == "slow") {
                asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(1));
                co_await t.async_wait(asio::use_awaitable);
            }
            co_return error_response(401, "UNAUTHORIZED", "invalid credentials");
        }
        auto r = error_response(e);
        if (e.code == auth::errc::locked) {
            r.set("Retry-After", e.detail);
        }
        co_return r;
    }
    auto issued = co_await run_blocking(blocking, [&] { return issue(s, *who, scopes, offline); });
    if (!issued) {
        co_return error_response(issued.error());
    }
    const auto now = s.clock.now_unix();
    Json j = {{"token", issued->token},
              {"access_token", issued->token},
              {"expires_in", s.options.token.ttl},
              {"issued_at", format_utc(now, "%Y-%m-%dT%H:%M:%SZ")}};
    if (!issued->refresh.empty()) {
        j["refresh_token"] = issued->refresh;
    } else if (m == http::Method::post && param("grant_type") == "refresh_token") {
        j["refresh_token"] = param("refresh_token").value_or("");
    }
    if (m == http::Method::post) {
        std::string sc;
        for (const auto& x : scopes) {
            sc += (sc.empty() ? "" : " ") + x;
        }
        j["scope"] = sc;
    }
    co_return json_response(j);
}

}  // namespace dermaga::api
