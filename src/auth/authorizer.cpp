#include "auth/authorizer.hpp"

#include <algorithm>
#include <ctime>

namespace dermaga::auth {

std::string_view namespace_of(std::string_view repo) {
    return repo.substr(0, repo.find('/'));
}

Result<bool> Authorizer::is_admin(const Principal& p) {
    if (!p.admin || p.local_operator) {
        return p.admin;
    }
    DERMAGA_TRY(u, store_.user_by_id(p.id));
    return u && u->admin && !u->disabled;
}

Result<unsigned> Authorizer::actions(const Principal& p, std::string_view repo) {
    if (p.admin) {
        DERMAGA_TRY(admin, is_admin(p));
        if (admin) {
            return all_actions & p.scope;
        }
        auto plain = p;  // demoted or disabled since the credential was issued
        plain.admin = false;
        return actions(plain, repo);
    }
    const auto ns = namespace_of(repo);
    DERMAGA_TRY(f, store_.access_facts(p.kind_name(), p.id, ns, repo));
    if (!f.subject_live) {
        return 0u;
    }
    int role = std::max(f.org_role, f.repo_role);
    if (p.kind == Principal::Kind::user && f.ns && f.ns->id == f.subject_ns_id) {
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
    DERMAGA_TRY(admin, is_admin(p));
    if (admin) {
        return store_.readable_repositories("admin", p.id, last, n);
    }
    if (p.kind == Principal::Kind::user) {
        DERMAGA_TRY(u, store_.user_by_id(p.id));
        if (!u || u->disabled) {
            return meta::Page{};
        }
    } else if (p.kind == Principal::Kind::robot) {
        DERMAGA_TRY(r, store_.robot_by_id(p.id));
        if (!r || r->disabled || (r->expires_at != 0 && r->expires_at <= std::time(nullptr))) {
            return meta::Page{};
        }
    }
    return store_.readable_repositories(p.kind_name(), p.id, last, n);
}

Result<Role> Authorizer::org_role(const Principal& p, std::string_view org) {
    if (p.scope & manage) {
        DERMAGA_TRY(admin, is_admin(p));
        if (admin) {
            return Role::admin;
        }
    }
    if (p.kind != Principal::Kind::user) {
        return Role::none;
    }
    DERMAGA_TRY(f, store_.access_facts("user", p.id, org, std::string(org) + "/"));
    if (!f.subject_live || !f.ns || f.ns->kind != "org") {
        return Role::none;
    }
    auto role = static_cast<Role>(std::clamp(f.org_role, 0, 4));
    if (role == Role::admin && !(p.scope & manage)) {
        return Role::del;  // a token without `manage` cannot administer
    }
    return role;
}

}  // namespace dermaga::auth
