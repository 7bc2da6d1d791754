// PUT/GET/HEAD/DELETE /v2/<name>/manifests/<reference>
#include "api/handlers.hpp"
#include "api/oci_errors.hpp"

namespace dermaga::api {

awaitable<http::Response> put_manifest(Context& ctx, http::Request& req, const RepoName& repo, const Reference& ref) {
    const auto limit = ctx.registry.options().max_manifest_bytes;
    auto body = co_await req.read_body(limit);
    if (!body) {
        if (body.error().code == http::errc::body_too_large) {
            auto r = error_response(Error{make_error_code(registry::errc::manifest_too_large),
                                          "manifest exceeds " + std::to_string(limit) + " bytes"});
            r.close = true;  // the rest of the body is not worth reading
            co_return r;
        }
        co_return error_response(body.error());
    }
    std::string content_type(req.header("Content-Type"));
    auto tags = req.query_all("tag");
    auto pushed = co_await ctx.call([&] {
        return ctx.registry.put_manifest(repo, ref, content_type, std::move(*body), tags);
    });
    if (!pushed) {
        co_return error_response(pushed.error());
    }
    http::Response r;
    r.status = 201;
    r.set("Location", "/v2/" + repo.str() + "/manifests/" + pushed->digest.str());
    r.set("Docker-Content-Digest", pushed->digest.str());
    if (pushed->subject) {
        r.set("OCI-Subject", pushed->subject->str());
    }
    co_return r;
}

awaitable<http::Response> get_manifest(Context& ctx, http::Request& req, const RepoName& repo, const Reference& ref) {
    // Hot manifests come from memory on this thread; only a miss goes to the blocking pool.
    auto rec = ctx.registry.cached_manifest(repo, ref);
    if (!rec) {
        auto loaded = co_await ctx.call([&] { return ctx.registry.get_manifest(repo, ref); });
        if (!loaded) {
            co_return error_response(loaded.error());
        }
        rec = std::move(*loaded);
    }
    http::Response r;
    r.set("Content-Type", rec->media_type);
    r.set("Docker-Content-Digest", rec->digest);
    r.set("ETag", "\"" + rec->digest + "\"");
    if (req.method() == http::Method::head) {
        r.content_length = rec->body.size();
        r.body = std::string();
    } else {
        r.body = rec->body;
    }
    co_return r;
}

awaitable<http::Response> delete_manifest(Context& ctx, const RepoName& repo, const Reference& ref) {
    auto done = co_await ctx.call([&] { return ctx.registry.delete_manifest(repo, ref); });
    if (!done) {
        co_return error_response(done.error());
    }
    http::Response r;
    r.status = 202;
    co_return r;
}

}  // namespace dermaga::api
