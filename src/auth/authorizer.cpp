#include "auth/authorizer.hpp"

#include <algorithm>

#include "auth/errors.hpp"

namespace dermaga::auth {

std::string_view namespace_of(std::string_view repo) {
    return repo.substr(0, repo.find('/'));
}

meta::Subject subject_of(const Principal& p) {
    return meta::Subject{p.kind_name(), p.id, p.token_id};
}

Result<std::optional<Principal>> Authorizer::current(const Principal& p) {
    if (p.local_operator || p.anonymous()) {
        return std::optional<Principal>(p);
    }
    DERMAGA_TRY(s, lifted(store_.subject_state(subject_of(p), clock_.now_unix())));
    if (!s.live) {
        return std::optional<Principal>();
    }
    auto out = p;
    out.admin = s.admin;
    return std::optional<Principal>(std::move(out));
}

Result<unsigned> Authorizer::actions(const Principal& p, std::string_view repo) {
    if (p.local_operator) {
        return all_actions & p.scope;
    }
    const auto ns = namespace_of(repo);
    DERMAGA_TRY(f, lifted(store_.access_facts(subject_of(p), clock_.now_unix(), ns, repo)));
    if (!f.subject.live) {
        return 0u;
    }
    if (f.subject.admin) {
        return all_actions & p.scope;
    }
    int role = std::max(f.org_role, f.repo_role);
    if (p.kind == Principal::Kind::user && f.ns && f.ns->id == f.subject.ns_id) {
        role = static_cast<int>(Role::admin);
    }
    unsigned out = actions_of(static_cast<Role>(std::clamp(role, 0, 4)));
    const std::string& visibility = !f.repo_visibility.empty() ? f.repo_visibility
                                    : f.ns                    ? f.ns->default_visibility
                                                              : std::string("private");
    if (visibility == "public") {
        out |= pull;
    }
    return out & p.scope;
}

Result<meta::Page> Authorizer::readable(const Principal& p, std::string_view last, std::size_t n) {
    if (!(p.scope & pull)) {
        return meta::Page{};
    }
    std::string_view kind = p.kind_name();
    if (p.local_operator) {
        kind = "admin";
    } else {
        DERMAGA_TRY(s, lifted(store_.subject_state(subject_of(p), clock_.now_unix())));
        if (!s.live) {
            return meta::Page{};
        }
        kind = s.admin ? "admin" : kind;
    }
    return lifted(store_.readable_repositories(kind, p.id, last, n));
}

Result<Role> Authorizer::org_role(const Principal& p, std::string_view org) {
    const bool manages = (p.scope & manage) != 0;
    if (p.local_operator) {
        return manages ? Role::admin : Role::del;
    }
    if (p.kind != Principal::Kind::user) {
        return Role::none;
    }
    DERMAGA_TRY(f, lifted(store_.access_facts(subject_of(p), clock_.now_unix(), org,
                                              std::string(org) + "/")));
    if (!f.subject.live) {
        return Role::none;
    }
    auto role = f.subject.admin ? Role::admin : static_cast<Role>(std::clamp(f.org_role, 0, 4));
    if (!f.subject.admin && (!f.ns || f.ns->kind != "org")) {
        return Role::none;
    }
    if (role == Role::admin && !manages) {
        return Role::del;  // a token without `manage` cannot administer
    }
    return role;
}

}  // namespace dermaga::auth
