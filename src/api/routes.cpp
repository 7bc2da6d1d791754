#include "api/routes.hpp"

#include "api/handlers.hpp"
#include "api/oci_errors.hpp"
#include "core/log.hpp"

namespace dermaga::api {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// Strips `suffix` (e.g. "/manifests") from `prefix`; the rest is the repository name.
bool take_name(std::string_view prefix, std::string_view suffix, std::string& name) {
    if (!ends_with(prefix, suffix) || prefix.size() == suffix.size()) {
        return false;
    }
    name = std::string(prefix.substr(0, prefix.size() - suffix.size()));
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

Route parse_route(std::string_view path) {
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
    Route r;
    r.arg = std::string(tail);
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
        r.arg.clear();
    }
    return r;
}

Api::Api(registry::Registry& registry, boost::asio::thread_pool& blocking, ApiOptions options)
    : registry_(registry), blocking_(blocking), options_(options) {}

awaitable<http::Response> Api::handle(http::Request& req) {
    if (req.path() == "/healthz") {
        http::Response r;
        r.set("Content-Type", "text/plain");
        r.body = std::string("ok\n");
        co_return r;
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
        r = co_await dispatch(req);
    } catch (const std::exception& e) {
        // A bug: answer in the OCI envelope with the request id; the detail goes to the log only.
        log::error("handler_exception", {{"error", e.what()}, {"rid", req.request_id()}});
        r = error_response(500, "UNKNOWN", "internal server error", "request id " + req.request_id());
    }
    add_api_version(r);
    co_return r;
}

awaitable<http::Response> Api::dispatch(http::Request& req) {
    using K = Route::Kind;
    using M = http::Method;
    Context ctx{registry_, blocking_, req.request_id()};
    const auto route = parse_route(req.path());
    const auto m = req.method();
    if (route.kind == K::not_found) {
        co_return error_response(404, "NOT_FOUND", "no such endpoint");
    }
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
