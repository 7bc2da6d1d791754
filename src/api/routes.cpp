#include "api/routes.hpp"

#include "api/access.hpp"
#include "api/handlers.hpp"
#include "api/mgmt/endpoint.hpp"
#include "api/token.hpp"
#include "api/oci_errors.hpp"
#include "core/log.hpp"

namespace dermaga::api {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// Strips `suffix` (e.g. "/manifests") from `prefix`; the rest is the repository name.
bool take_name(std::string_view prefix, std::string_view suffix, std::string_view& name) {
    if (!ends_with(prefix, suffix) || prefix.size() == suffix.size()) {
        return false;
    }
    name = prefix.substr(0, prefix.size() - suffix.size());
    return true;
}

/// 405 with the Allow header RFC 9110 requires.
http::Response method_not_allowed(const char* allow) {
    auto r = error_response(405, "UNSUPPORTED", "the method is not supported on this endpoint");
    r.set("Allow", allow);
    return r;
}

/// Decrements a counter when the request ends.
struct InflightGuard {
    std::atomic<std::size_t>& n;
    ~InflightGuard() { n.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace

RouteView classify_route(std::string_view path) {
    using K = Route::Kind;
    if (path == "/v2" || path == "/v2/") {
        return {K::base, {}, {}};
    }
    if (path == "/v2/_catalog") {
        return {K::catalog, {}, {}};
    }
    if (path.substr(0, 4) != "/v2/") {
        return {};
    }
    std::string_view rest = path.substr(4);
    auto slash = rest.rfind('/');
    if (slash == std::string_view::npos) {
        return {};
    }
    std::string_view prefix = rest.substr(0, slash);
    std::string_view tail = rest.substr(slash + 1);
    RouteView r;
    r.arg = tail;
    if (tail.empty() && take_name(prefix, "/blobs/uploads", r.name)) {
        r.kind = K::upload_start;
    } else if (tail == "uploads" && take_name(prefix, "/blobs", r.name)) {
        r.kind = K::upload_start;
    } else if (take_name(prefix, "/blobs/uploads", r.name)) {
        r.kind = K::upload;
    } else if (take_name(prefix, "/blobs", r.name)) {
        r.kind = K::blob;
    } else if (take_name(prefix, "/manifests", r.name)) {
        r.kind = K::manifest;
    } else if (take_name(prefix, "/referrers", r.name)) {
        r.kind = K::referrers;
    } else if (tail == "list" && take_name(prefix, "/tags", r.name)) {
        r.kind = K::tags;
    } else {
        return {};
    }
    if (r.kind == K::upload_start) {
        r.arg = {};
    }
    return r;
}

Route parse_route(std::string_view path) {
    auto v = classify_route(path);
    return {v.kind, std::string(v.name), std::string(v.arg)};
}

Api::Api(registry::Registry& registry, boost::asio::thread_pool& blocking, ApiOptions options, Gate* gate)
    : registry_(registry), gate_(gate), blocking_(blocking), options_(options) {}

awaitable<http::Response> Api::handle(http::Request& req) {
    if (req.path() == "/healthz") {
        co_return healthz();
    }
    if (req.path() == "/readyz") {
        co_return co_await readyz(options_.probes, blocking_);
    }
    if (req.path() == "/metrics") {
        co_return co_await metrics_endpoint(req);
    }
    if (inflight_.fetch_add(1, std::memory_order_relaxed) >= options_.max_inflight) {
        inflight_.fetch_sub(1, std::memory_order_relaxed);
        auto r = error_response(Error{make_error_code(registry::errc::too_many_requests), {}});
        r.set("Retry-After", "1");
        add_api_version(r);
        co_return r;
    }
    InflightGuard guard{inflight_};
    http::Response r;
    try {
        if (req.path() == "/token" && gate_) {
            r = co_await token_endpoint(*gate_, req, blocking_);
        } else if (is_mgmt_path(req.path())) {
            co_return co_await mgmt_endpoint(gate_, req, blocking_);
        } else {
            r = co_await dispatch(req);
        }
    } catch (const std::exception& e) {
        // A bug: answer in the OCI envelope with the request id; the detail goes to the log only.
        log::error("handler_exception", {{"error", e.what()}, {"rid", req.request_id()}});
        r = error_response(500, "UNKNOWN", "internal server error", "request id " + req.request_id());
    }
    add_api_version(r);
    co_return r;
}

namespace {

/// The actions a /v2 route needs. Overwriting a tag is a push like any other.
unsigned needed_actions(Route::Kind k, http::Method m) {
    using K = Route::Kind;
    using M = http::Method;
    switch (k) {
        case K::tags:
        case K::referrers: return auth::pull;
        case K::manifest:
        case K::blob:
            if (m == M::put) return auth::pull | auth::push;
            if (m == M::del) return auth::del;
            return auth::pull;
        case K::upload_start:
        case K::upload: return auth::pull | auth::push;
        default: return 0;
    }
}

/// "repository:<from>:pull" for a cross-repository mount (POST …/uploads/?mount=&from=), else
/// empty: the mount needs it, so the challenge names it as Distribution does.
std::string mount_source_scope(const Route& route, const http::Request& req) {
    if (route.kind != Route::Kind::upload_start || req.method() != http::Method::post ||
        !req.query("mount")) {
        return {};
    }
    auto from = req.query("from");
    if (!from) {
        return {};
    }
    auto source = RepoName::parse(*from);
    return source ? repository_scope(source->str(), auth::pull) : std::string();
}

/// The audit action of a successful mutating request; empty for reads.
std::string mutation(const Route& route, const http::Request& req, const http::Response& r) {
    using K = Route::Kind;
    using M = http::Method;
    if (r.status / 100 != 2) {
        return {};
    }
    const auto m = req.method();
    switch (route.kind) {
        case K::manifest:
            if (m == M::put) return "manifest.push";
            if (m == M::del) return route.arg.find(':') != std::string::npos ? "manifest.delete" : "tag.delete";
            return {};
        case K::blob: return m == M::del ? "blob.delete" : "";
        case K::upload_start:
            if (r.status != 201) return {};
            return req.query("mount") ? "blob.mount" : "blob.push";
        case K::upload:
            if (m == M::put) return "blob.push";
            if (m == M::del) return "upload.cancel";
            return {};
        default: return {};
    }
}

}  // namespace

awaitable<http::Response> Api::dispatch(http::Request& req) {
    using K = Route::Kind;
    Context ctx{registry_, blocking_, req.request_id()};
    const auto route = parse_route(req.path());
    if (route.kind == K::not_found) {
        co_return error_response(404, "NOT_FOUND", "no such endpoint");
    }
    if (!gate_) {
        co_return co_await dispatch_v2(req, ctx, route);
    }
    auto id = co_await gate_->identify(req);
    if (id.refusal) {
        co_return std::move(*id.refusal);
    }
    if (id.caller->grant && (route.kind == K::base || route.kind == K::catalog)) {
        // No repository, so no role check to notice that the token's account or credential is
        // gone: ask directly (repository routes ask in Gate::allows).
        auto now = co_await gate_->current(std::move(*id.caller));
        if (!now) {
            co_return error_response(now.error());
        }
        if (!*now) {
            co_return gate_->challenge(req, {});
        }
        id.caller = std::move(*now);
    }
    const Caller& caller = *id.caller;
    auto& authz = gate_->services().authz;
    ctx.owner = std::string(caller.principal.kind_name()) + ":" + std::to_string(caller.principal.id);
    if (route.kind == K::base) {
        if (!caller.presented) {
            co_return gate_->challenge(req, {});
        }
        co_return co_await dispatch_v2(req, ctx, route);
    }
    if (route.kind == K::catalog) {
        if (!caller.presented) {
            co_return gate_->challenge(req, "registry:catalog:*");
        }
        if (caller.grant && caller.grant->actions_on("registry", "catalog") == 0) {
            co_return gate_->challenge(req, "registry:catalog:*", true);
        }
        // The catalog scope lets the caller list; what is listed is what they may read now.
        ctx.list_readable = [&](std::string_view last, std::size_t n) {
            return authz.readable(caller.principal, last, n);
        };
        co_return co_await dispatch_v2(req, ctx, route);
    }
    auto repo = RepoName::parse(route.name);
    if (!repo) {
        co_return error_response(repo.error());
    }
    const unsigned needed = needed_actions(route.kind, req.method());
    auto allowed = co_await gate_->allows(caller, repo->str(), needed);
    if (!allowed) {
        co_return error_response(allowed.error());
    }
    if (!*allowed) {
        co_return gate_->refuse(req, caller, repo->str(), needed, mount_source_scope(route, req));
    }
    ctx.can_read = [&](const std::string& other) {
        auto may = gate_->may(caller, other, auth::pull);
        return may && *may;
    };
    if (route.kind == K::upload) {
        auto owned = co_await ctx.call([&] { return registry_.check_upload_owner(*repo, route.arg, ctx.owner); });
        if (!owned) {
            co_return error_response(owned.error());
        }
    }
    auto r = co_await dispatch_v2(req, ctx, route);
    if (auto action = mutation(route, req, r); !action.empty()) {
        auto what = req.query("digest").value_or(route.arg);
        gate_->audit(req, caller, std::move(action), repo->str() + (what.empty() ? "" : "@" + what), "allowed");
    }
    co_return r;
}

awaitable<http::Response> Api::metrics_endpoint(http::Request& req) {
    const auto& probes = options_.probes;
    if (!gate_ || probes.metrics_public || !probes.metrics) {
        co_return co_await metrics_page(probes, req, blocking_);
    }
    auto id = co_await gate_->identify(req);
    if (id.refusal) {
        co_return std::move(*id.refusal);
    }
    if (!id.caller->presented) {
        co_return basic_challenge();
    }
    // A credential's admin claim may be stale: ask the store, as the management API does.
    auto caller = co_await gate_->current(std::move(*id.caller));
    if (!caller) {
        co_return error_response(caller.error());
    }
    if (!*caller) {
        co_return basic_challenge();
    }
    if (!(*caller)->principal.admin) {
        co_return error_response(403, "DENIED", "metrics are for administrators (or set metrics.public)");
    }
    co_return co_await metrics_page(probes, req, blocking_);
}

awaitable<http::Response> Api::dispatch_v2(http::Request& req, Context& ctx, const Route& route) {
    using K = Route::Kind;
    using M = http::Method;
    const auto m = req.method();
    if (route.kind == K::base) {
        if (m != M::get && m != M::head) {
            co_return method_not_allowed("GET, HEAD");
        }
        http::Response r;
        r.set("Content-Type", "application/json");
        r.body = std::string("{}");
        co_return r;
    }
    if (route.kind == K::catalog) {
        if (m != M::get) {
            co_return method_not_allowed("GET");
        }
        co_return co_await catalog(ctx, req);
    }
    auto repo = RepoName::parse(route.name);
    if (!repo) {
        co_return error_response(repo.error());
    }
    switch (route.kind) {
        case K::tags:
            if (m != M::get) {
                co_return method_not_allowed("GET");
            }
            co_return co_await list_tags(ctx, req, *repo);
        case K::manifest: {
            auto ref = Reference::parse(route.arg);
            if (!ref) {
                // A tag that cannot exist names no manifest: reads and deletes answer as for any
                // unknown manifest (as Distribution and the OCI conformance suite expect); only a
                // PUT, which would create it, is told the tag is invalid.
                if (m != M::put && ref.error().code == core::errc::reference_invalid) {
                    co_return error_response(
                        Error{make_error_code(registry::errc::manifest_unknown), route.arg});
                }
                co_return error_response(ref.error());
            }
            if (m == M::get || m == M::head) {
                co_return co_await get_manifest(ctx, req, *repo, *ref);
            }
            if (m == M::put) {
                co_return co_await put_manifest(ctx, req, *repo, *ref);
            }
            if (m == M::del) {
                co_return co_await delete_manifest(ctx, *repo, *ref);
            }
            co_return method_not_allowed("GET, HEAD, PUT, DELETE");
        }
        case K::blob:
        case K::referrers: {
            auto digest = Digest::parse(route.arg);
            if (!digest) {
                co_return error_response(digest.error());
            }
            if (route.kind == K::referrers) {
                if (m != M::get) {
                    co_return method_not_allowed("GET");
                }
                co_return co_await referrers(ctx, req, *repo, *digest);
            }
            if (m == M::get || m == M::head) {
                co_return co_await get_blob(ctx, req, *repo, *digest);
            }
            if (m == M::del) {
                co_return co_await delete_blob(ctx, *repo, *digest);
            }
            co_return method_not_allowed("GET, HEAD, DELETE");
        }
        case K::upload_start:
            if (m != M::post) {
                co_return method_not_allowed("POST");
            }
            co_return co_await start_upload(ctx, req, *repo);
        case K::upload:
            switch (m) {
                case M::patch: co_return co_await patch_upload(ctx, req, *repo, route.arg);
                case M::put: co_return co_await put_upload(ctx, req, *repo, route.arg);
                case M::get: co_return co_await get_upload(ctx, *repo, route.arg);
                case M::del: co_return co_await delete_upload(ctx, *repo, route.arg);
                default: co_return method_not_allowed("GET, PATCH, PUT, DELETE");
            }
        default: break;
    }
    co_return error_response(404, "NOT_FOUND", "no such endpoint");
}

}  // namespace dermaga::api
