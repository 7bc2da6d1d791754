// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
#include <charconv>

#include "api/handlers.hpp"
#include "api/oci_errors.hpp"
#include "core/log.hpp"

namespace dermaga::api {

namespace {

struct PageRequest {
    std::size_t n;
    std::string last;
};

/// Reads n (default: the configured maximum) and last. Errors: pagination_invalid.
Result<PageRequest> page_request(http::Request& req, std::size_t max) {
    PageRequest p{max, req.query("last").value_or("")};
    if (auto n = req.query("n")) {
        std::size_t v = 0;
        auto [ptr, ec] = std::from_chars(n->data(), n->data() + n->size(), v);
        if (n->empty() || ec != std::errc() || ptr != n->data() + n->size()) {
            return fail(registry::errc::pagination_invalid, "n must be a non-negative integer");
        }
        p.n = v;
    }
    return p;
}

/// Writes {"<key>":[...]} plus, when there is more, an RFC 5988 Link to the next page.
http::Response page_response(std::string prefix_json, std::string_view key, const registry::Page& page,
                             const std::string& path, std::size_t n) {
    std::string body = std::move(prefix_json);
    body += '"';
    body += key;
    body += "\":[";
    for (std::size_t i = 0; i < page.names.size(); ++i) {
        if (i) {
            body += ',';
        }
        log::append_json_string(body, page.names[i]);
    }
    body += "]}";
    http::Response r;
    r.set("Content-Type", "application/json");
    if (page.more && !page.names.empty()) {
        r.set("Link", "<" + path + "?n=" + std::to_string(n) + "&last=" + page.names.back() + ">; rel=\"next\"");
    }
    r.body = std::move(body);
    return r;
}

}  // namespace

awaitable<http::Response> list_tags(Context& ctx, http::Request& req, const RepoName& repo) {
    auto pr = page_request(req, ctx.registry.options().max_page_size);
    if (!pr) {
        co_return error_response(pr.error());
    }
    auto page = co_await ctx.call([&] { return ctx.registry.list_tags(repo, pr->last, pr->n); });
    if (!page) {
        co_return error_response(page.error());
    }
    std::string prefix = "{\"name\":";
    log::append_json_string(prefix, repo.str());
    prefix += ',';
    co_return page_response(std::move(prefix), "tags", *page, "/v2/" + repo.str() + "/tags/list", pr->n);
}

awaitable<http::Response> catalog(Context& ctx, http::Request& req) {
    auto pr = page_request(req, ctx.registry.options().max_page_size);
    if (!pr) {
        co_return error_response(pr.error());
    }
    auto page = co_await ctx.call([&]() -> Result<registry::Page> {
        if (!ctx.list_readable) {
            return ctx.registry.catalog(pr->last, pr->n);
        }
        if (pr->n > ctx.registry.options().max_page_size) {
            return fail(registry::errc::pagination_invalid,
                        "n must be at most " + std::to_string(ctx.registry.options().max_page_size));
        }
        return ctx.list_readable(pr->last, pr->n);
    });
    if (!page) {
        co_return error_response(page.error());
    }
    co_return page_response("{", "repositories", *page, "/v2/_catalog", pr->n);
}

awaitable<http::Response> referrers(Context& ctx, http::Request& req, const RepoName& repo, const Digest& digest) {
    const std::string artifact_type = req.query("artifactType").value_or("");
    auto index = co_await ctx.call([&] { return ctx.registry.referrers(repo, digest, artifact_type); });
    if (!index) {
        co_return error_response(index.error());
    }
    http::Response r;
    r.set("Content-Type", "application/vnd.oci.image.index.v1+json");
    if (!artifact_type.empty()) {
        r.set("OCI-Filters-Applied", "artifactType");
    }
    r.body = std::move(*index);
    co_return r;
}

}  // namespace dermaga::api
