// /api/v1/repositories/<name>/permissions and /visibility. A repository name may contain
// slashes, so the last path component names the resource.

#include "api/mgmt/mgmt.hpp"

namespace dermaga::api::mgmt {

namespace {

using M = http::Method;

http::Response permissions(Call& c, const std::string& repo) {
    if (c.method == M::get) {
        auto r = c.admin.list_grants(c.actor, repo);
        return r ? json_response(200, views::list(*r, views::grant)) : failed(r.error());
    }
    if (c.method != M::put) {
        return method_not_allowed("GET, PUT");
    }
    auto done = c.admin.set_grant(c.actor, repo, [&]() -> Result<auth::GrantSpec> {
        DERMAGA_TRY(j, object_body(c, {"subject_kind", "subject", "role"}));
        DERMAGA_TRY(kind, req_string(j, "subject_kind"));
        DERMAGA_TRY(subject, req_string(j, "subject"));
        DERMAGA_TRY(role, req_string(j, "role"));
        return auth::GrantSpec{std::move(kind), std::move(subject), std::move(role)};
    });
    return done ? no_content() : failed(done.error());
}

http::Response visibility(Call& c, const std::string& repo) {
    if (c.method == M::put) {
        auto done = c.admin.set_visibility(c.actor, repo, [&]() -> Result<std::string> {
            DERMAGA_TRY(j, object_body(c, {"visibility"}));
            return req_string(j, "visibility");
        });
        if (!done) {
            return failed(done.error());
        }
    } else if (c.method != M::get) {
        return method_not_allowed("GET, PUT");
    }
    auto r = c.admin.get_visibility(c.actor, repo);
    return r ? json_response(200, Json{{"repository", repo}, {"visibility", r->own}, {"effective", r->effective}})
             : failed(r.error());
}

}  // namespace

std::optional<http::Response> repositories(Call& c) {
    const auto& p = c.parts;
    if (p.empty() || p[0] != "repositories") {
        return std::nullopt;
    }
    if (p.size() < 3) {
        return not_found();
    }
    std::string repo;
    for (std::size_t i = 1; i + 1 < p.size(); ++i) {
        repo += (i > 1 ? "/" : "") + p[i];
    }
    if (p.back() == "permissions") {
        return permissions(c, repo);
    }
    if (p.back() == "visibility") {
        return visibility(c, repo);
    }
    return not_found();
}

}  // namespace dermaga::api::mgmt
