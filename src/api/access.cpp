#include "api/access.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/oci_errors.hpp"
#include "auth/jwt.hpp"
#include "core/blocking.hpp"
#include "core/log.hpp"

namespace dermaga::api {

namespace asio = boost::asio;

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
            return false;
        }
    }
    return true;
}

/// Host header values we are willing to echo into a realm URL.
bool plausible_host(std::string_view h) {
    if (h.empty() || h.size() > 255) {
        return false;
    }
    for (char c : h) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) {
            return false;
        }
    }
    return true;
}

}  // namespace

http::Response basic_challenge() {
    auto r = error_response(401, "UNAUTHORIZED", "authentication required");
    r.set("WWW-Authenticate", "Basic realm=\"dermaga\"");
    return r;
}

std::string repository_scope(const std::string& repo, unsigned actions) {
    std::string out = "repository:" + repo + ":";
    auto names = auth::action_names(actions);
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += (i ? "," : "") + names[i];
    }
    return out;
}

std::optional<std::pair<std::string, std::string>> parse_basic(std::string_view header) {
    if (!starts_with_ci(header, "basic ")) {
        return std::nullopt;
    }
    auto b64 = header.substr(6);
    while (!b64.empty() && b64.front() == ' ') {
        b64.remove_prefix(1);
    }
    // Standard base64 (with padding) → base64url without padding for the decoder.
    std::string text(b64);
    while (!text.empty() && text.back() == '=') {
        text.pop_back();
    }
    for (char& c : text) {
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    auto raw = auth::base64url_decode(text);
    if (!raw) {
        return std::nullopt;
    }
    auto colon = raw->find(':');
    if (colon == std::string::npos) {
        return std::nullopt;
    }
    return std::pair{raw->substr(0, colon), raw->substr(colon + 1)};
}

std::string Gate::realm(http::Request& req) const {
    if (!services_.options.realm.empty()) {
        return services_.options.realm;
    }
    auto host = req.header("Host");
    return std::string(tls_ ? "https://" : "http://") + std::string(plausible_host(host) ? host : "localhost") +
           "/token";
}

http::Response Gate::challenge(http::Request& req, const std::string& scope, bool insufficient) {
    auto r = error_response(401, "UNAUTHORIZED", "authentication required");
    std::string v = "Bearer realm=\"" + realm(req) + "\",service=\"" + services_.options.token.service + "\"";
    if (!scope.empty()) {
        v += ",scope=\"" + scope + "\"";
    }
    if (insufficient) {
        v += ",error=\"insufficient_scope\"";
    }
    r.set("WWW-Authenticate", v);
    return r;
}

asio::awaitable<Identified> Gate::identify(http::Request& req) {
    Identified out;
    Caller caller;
    auto header = req.header("Authorization");
    const std::string address = req.remote();
    if (header.empty()) {
        auto cn = req.client_cert_cn();
        if (cn.empty() || !services_.options.certificate_users) {
            out.caller = std::move(caller);  // anonymous
            co_return out;
        }
        // Capture by reference only: GCC 12 destroys a by-value coroutine argument built from a
        // lambda temporary twice when the lambda owns a std::string (double free on every
        // certificate login).
        const std::string user(cn);
        auto p = co_await run_blocking(blocking_, [&] { return services_.authn.certificate(user, address); });
        if (!p) {
            out.refusal = error_response(p.error());
            co_return out;
        }
        caller.principal = std::move(*p);
        caller.presented = caller.basic = true;
        out.caller = std::move(caller);
        co_return out;
    }
    caller.presented = true;
    if (starts_with_ci(header, "bearer ")) {
        std::string token(header.substr(7));
        Result<auth::Grant> g = fail(auth::errc::unauthenticated, "");
        if (auto known = services_.tokens.verified(token)) {
            g = std::move(*known);  // no signature check, no hop to the blocking pool
        } else {
            g = co_await run_blocking(blocking_, [&] { return services_.tokens.verify(token); });
        }
        services_.authn.record(auth::AuthMethod::bearer, g ? auth::AuthOutcome::success : auth::AuthOutcome::failure);
        if (!g) {
            out.refusal = challenge(req, {});
            co_return out;
        }
        caller.principal = g->principal;
        caller.grant = std::move(*g);
        out.caller = std::move(caller);
        co_return out;
    }
    auto creds = parse_basic(header);
    if (!creds) {
        out.refusal = challenge(req, {});
        co_return out;
    }
    caller.basic = true;
    auto p = co_await run_blocking(blocking_, [&] { return services_.authn.basic(creds->first, creds->second, address); });
    if (!p) {
        if (p.error().code == auth::errc::locked) {
            auto r = error_response(p.error());
            r.set("Retry-After", p.error().detail);
            out.refusal = std::move(r);
        } else if (p.error().code == auth::errc::unauthenticated) {
            if (p.error().detail == "slow") {
                asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(1));
                co_await t.async_wait(asio::use_awaitable);
            }
            out.refusal = challenge(req, {});
        } else {
            out.refusal = error_response(p.error());
        }
        co_return out;
    }
    caller.principal = std::move(*p);
    out.caller = std::move(caller);
    co_return out;
}

asio::awaitable<Result<std::optional<Caller>>> Gate::current(Caller caller) {
    auto p =
        co_await run_blocking(blocking_, [&] { return services_.authz.current(caller.principal); });
    if (!p) {
        co_return tl::unexpected(p.error());
    }
    if (!*p) {
        co_return std::optional<Caller>();
    }
    caller.principal = std::move(**p);
    co_return std::optional<Caller>(std::move(caller));
}

Result<bool> Gate::may(const Caller& caller, const std::string& repo, unsigned needed) {
    if (caller.grant && (caller.grant->actions_on("repository", repo) & needed) != needed) {
        return false;
    }
    DERMAGA_TRY(actions, services_.authz.actions(caller.principal, repo));
    return (actions & needed) == needed;
}

asio::awaitable<Result<bool>> Gate::allows(const Caller& caller, std::string repo, unsigned needed) {
    co_return co_await run_blocking(blocking_, [&] { return may(caller, repo, needed); });
}

http::Response Gate::refuse(http::Request& req, const Caller& caller, const std::string& repo,
                            unsigned needed, const std::string& also) {
    std::string scope = repo.empty() ? "registry:catalog:*" : repository_scope(repo, needed);
    if (!also.empty()) {
        scope += " " + also;  // several scopes in one challenge are separated by spaces
    }
    audit(req, caller, "access", repo.empty() ? "catalog" : repo, "denied", scope);
    if (caller.basic) {
        return error_response(403, "DENIED", "requested access to the resource is denied", scope);
    }
    return challenge(req, scope, caller.grant.has_value());
}

void Gate::audit(const http::Request& req, const Caller& caller, std::string action, std::string object,
                 std::string outcome, std::string detail) {
    meta::AuditRow row;
    row.actor = caller.principal.name;
    row.actor_kind = caller.principal.kind_name();
    row.address = req.remote();
    row.action = std::move(action);
    row.object = std::move(object);
    row.outcome = std::move(outcome);
    row.detail = std::move(detail);
    services_.audit.record(std::move(row));
}

}  // namespace dermaga::api
