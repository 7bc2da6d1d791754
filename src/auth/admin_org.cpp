// Management operations on organisations, memberships, teams, robots, personal access tokens
// and repository permissions. The rules are in admin.hpp.

#include <algorithm>

#include "auth/admin_detail.hpp"
#include "core/names.hpp"

namespace dermaga::auth {

namespace {

std::string org_object(std::string_view org, std::string_view rest = {}) {
    std::string o = "org:" + std::string(org);
    if (!rest.empty()) {
        o += "/" + std::string(rest);
    }
    return o;
}

Result<void> check_repo(std::string_view repo) {
    if (!RepoName::parse(repo)) {
        return fail(errc::bad_input, "repository: invalid repository name");
    }
    return {};
}

constexpr std::size_t max_text = 1024;

Result<void> check_text(std::string_view field, std::string_view text) {
    if (text.size() > max_text) {
        return fail(errc::bad_input, std::string(field) + ": at most 1024 characters");
    }
    return {};
}

}  // namespace

Result<bool> Admin::org_exists(std::string_view org) {
    DERMAGA_TRY(ns, s_.store.namespace_row(org));
    return ns && ns->kind == "org";
}

// Organisations ------------------------------------------------------------------------------

Result<std::vector<meta::NamespaceRow>> Admin::list_orgs(const Actor& a) {
    return reading(a, "org.list", "org:*", [&]() -> Result<std::vector<meta::NamespaceRow>> {
        DERMAGA_TRY(all, s_.store.orgs());
        if (a.principal.admin) {
            return all;
        }
        std::vector<std::string> mine;
        if (a.principal.kind == Principal::Kind::user) {
            DERMAGA_TRY(orgs, s_.store.orgs_of(a.principal.id));
            mine = std::move(orgs);
        }
        std::erase_if(all, [&](const auto& o) { return std::find(mine.begin(), mine.end(), o.name) == mine.end(); });
        return all;
    });
}

Result<meta::NamespaceRow> Admin::get_org(const Actor& a, std::string_view org) {
    return reading(a, "org.get", org_object(org), [&]() -> Result<meta::NamespaceRow> {
        DERMAGA_CHECK(require_org_reader(a, org));
        DERMAGA_TRY(ns, s_.store.namespace_row(org));
        if (!ns || ns->kind != "org") {
            return fail(errc::not_found, "no such organisation " + std::string(org));
        }
        return std::move(*ns);
    });
}

Result<meta::NamespaceRow> Admin::create_org(const Actor& a, const Input<NewOrg>& input) {
    return mutation(
        a, "org.create", "org:*",
        [&](std::string&, std::string& object) -> Result<meta::NamespaceRow> {
            DERMAGA_CHECK(require_global_admin(a));
            DERMAGA_TRY(in, input.get());
            object = org_object(in.name);
            DERMAGA_CHECK(check_name("name", in.name));
            DERMAGA_CHECK(check_visibility("default_visibility", in.default_visibility));
            DERMAGA_CHECK(check_text("description", in.description));
            meta::NamespaceRow row;
            row.name = in.name;
            row.kind = "org";
            row.default_visibility = in.default_visibility;
            row.description = in.description;
            row.created_at = s_.clock.now_unix();
            return s_.store.create_org(row);
        });
}

Result<meta::NamespaceRow> Admin::update_org(const Actor& a, std::string_view org,
                                             const Input<OrgUpdate>& input) {
    return mutation(a, "org.update", org_object(org), [&]() -> Result<meta::NamespaceRow> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(in, input.get());
        DERMAGA_TRY(ns, s_.store.namespace_row(org));
        if (!ns || ns->kind != "org") {
            return fail(errc::not_found, "no such organisation " + std::string(org));
        }
        if (in.default_visibility) {
            DERMAGA_CHECK(check_visibility("default_visibility", *in.default_visibility));
            ns->default_visibility = *in.default_visibility;
        }
        if (in.description) {
            DERMAGA_CHECK(check_text("description", *in.description));
            ns->description = *in.description;
        }
        DERMAGA_CHECK(s_.store.update_org(*ns));
        return std::move(*ns);
    });
}

Result<void> Admin::delete_org(const Actor& a, std::string_view org) {
    return mutation(a, "org.delete", org_object(org), [&]() -> Result<void> {
        DERMAGA_CHECK(require_global_admin(a));
        DERMAGA_TRY(found, s_.store.delete_org(org));
        if (!found) {
            return fail(errc::not_found, "no such organisation " + std::string(org));
        }
        return {};
    });
}

// Members and teams ----------------------------------------------------------------------------

Result<std::vector<meta::MemberRow>> Admin::list_members(const Actor& a, std::string_view org) {
    return reading(a, "org.members", org_object(org), [&]() -> Result<std::vector<meta::MemberRow>> {
        DERMAGA_CHECK(require_org_reader(a, org));
        return s_.store.members(org);
    });
}

Result<void> Admin::set_member(const Actor& a, std::string_view org, std::string_view user,
                               const Input<std::string>& input) {
    return mutation(a, "member.set", org_object(org, "member:" + std::string(user)), [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(role, input.get());
        DERMAGA_TRY(r, check_role("role", role));
        return s_.store.set_member(org, user, r);
    });
}

Result<void> Admin::remove_member(const Actor& a, std::string_view org, std::string_view user) {
    return mutation(a, "member.remove", org_object(org, "member:" + std::string(user)), [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(found, s_.store.remove_member(org, user));
        if (!found) {
            return fail(errc::not_found, "user " + std::string(user) + " is not a member of " + std::string(org));
        }
        return {};
    });
}

Result<std::vector<meta::TeamRow>> Admin::list_teams(const Actor& a, std::string_view org) {
    return reading(a, "team.list", org_object(org), [&]() -> Result<std::vector<meta::TeamRow>> {
        DERMAGA_CHECK(require_org_reader(a, org));
        DERMAGA_TRY(exists, org_exists(org));
        if (!exists) {
            return fail(errc::not_found, "no such organisation " + std::string(org));
        }
        return s_.store.teams(org);
    });
}

Result<void> Admin::put_team(const Actor& a, std::string_view org, std::string_view team,
                             const Input<TeamSpec>& input) {
    return mutation(a, "team.put", org_object(org, "team:" + std::string(team)), [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(in, input.get());
        DERMAGA_CHECK(check_name("team", team));
        DERMAGA_TRY(r, check_role("role", in.role));
        DERMAGA_CHECK(check_text("ldap_group", in.ldap_group));
        meta::TeamRow t;
        t.org = std::string(org);
        t.name = std::string(team);
        t.role = r;
        t.ldap_group = in.ldap_group;
        return s_.store.put_team(t);
    });
}

Result<void> Admin::delete_team(const Actor& a, std::string_view org, std::string_view team) {
    return mutation(a, "team.delete", org_object(org, "team:" + std::string(team)), [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(found, s_.store.delete_team(org, team));
        if (!found) {
            return fail(errc::not_found, "no such team " + std::string(team));
        }
        return {};
    });
}

Result<void> Admin::add_team_member(const Actor& a, std::string_view org, std::string_view team,
                                    std::string_view user) {
    const auto object = org_object(org, "team:" + std::string(team) + "/member:" + std::string(user));
    return mutation(a, "team.member.add", object, [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        return s_.store.add_team_member(org, team, user);
    });
}

Result<void> Admin::remove_team_member(const Actor& a, std::string_view org, std::string_view team,
                                       std::string_view user) {
    const auto object = org_object(org, "team:" + std::string(team) + "/member:" + std::string(user));
    return mutation(a, "team.member.remove", object, [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(found, s_.store.remove_team_member(org, team, user));
        if (!found) {
            return fail(errc::not_found, "user " + std::string(user) + " is not in team " + std::string(team));
        }
        return {};
    });
}

// Robots and tokens ------------------------------------------------------------------------------

Result<std::vector<meta::RobotRow>> Admin::list_robots(const Actor& a, std::string_view org) {
    return reading(a, "robot.list", org_object(org), [&]() -> Result<std::vector<meta::RobotRow>> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(robots, s_.store.robots(org));
        for (auto& r : robots) {
            r.secret_hash.clear();
        }
        return robots;
    });
}

Result<CreatedRobot> Admin::create_robot(const Actor& a, std::string_view org,
                                         const Input<NewRobot>& input) {
    auto create = [&](std::string&, std::string& object) -> Result<CreatedRobot> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(in, input.get());
        object = org_object(org, "robot:" + in.name);
        DERMAGA_CHECK(check_name("name", in.name));
        DERMAGA_TRY(role, check_role("role", in.role));
        DERMAGA_CHECK(check_text("description", in.description));
        if (in.expires_in < 0 || in.expires_in > max_robot_lifetime ||
            (in.expires_in > 0 && in.expires_in < 60)) {
            return fail(errc::bad_input, "expires_in: must be 0 (never) or 60 seconds to 5 years");
        }
        DERMAGA_TRY(exists, org_exists(org));
        if (!exists) {
            return fail(errc::not_found, "no such organisation " + std::string(org));
        }
        CreatedRobot out;
        out.secret = new_secret(robot_prefix);
        meta::RobotRow r;
        r.org = std::string(org);
        r.name = in.name;
        r.secret_hash = secret_hash(out.secret);
        r.role = role;
        r.description = in.description;
        r.created_at = s_.clock.now_unix();
        r.expires_at = in.expires_in ? r.created_at + in.expires_in : 0;
        DERMAGA_TRY(created, s_.store.create_robot(r));
        created.secret_hash.clear();
        out.robot = std::move(created);
        out.login = std::string(org) + "+" + in.name;
        return out;
    };
    return mutation(a, "robot.create", org_object(org, "robot:*"), create);
}

Result<void> Admin::delete_robot(const Actor& a, std::string_view org, std::string_view name) {
    return mutation(a, "robot.delete", org_object(org, "robot:" + std::string(name)), [&]() -> Result<void> {
        DERMAGA_CHECK(require_org_admin(a, org));
        DERMAGA_TRY(found, s_.store.delete_robot(org, name));
        if (!found) {
            return fail(errc::not_found, "no such robot " + std::string(name));
        }
        return {};
    });
}

Result<std::vector<meta::TokenRow>> Admin::list_tokens(const Actor& a, std::string_view user) {
    auto list = [&]() -> Result<std::vector<meta::TokenRow>> {
        DERMAGA_TRY(u, self_or_admin(a, user, Use::read));
        DERMAGA_TRY(tokens, s_.store.tokens(u.id));
        for (auto& t : tokens) {
            t.secret_hash.clear();
        }
        return tokens;
    };
    return reading(a, "token.list", "user:" + std::string(user), list);
}

Result<CreatedToken> Admin::create_token(const Actor& a, std::string_view user,
                                         const Input<NewToken>& input) {
    const auto prefix = "user:" + std::string(user) + "/token:";
    return mutation(
        a, "token.create", prefix + "*",
        [&](std::string&, std::string& object) -> Result<CreatedToken> {
            DERMAGA_TRY(u, self_or_admin(a, user, Use::change));
            DERMAGA_TRY(in, input.get());
            object = prefix + in.name;
            DERMAGA_CHECK(check_name("name", in.name));
            auto scopes = parse_token_scopes(in.scopes);
            if (!scopes || *scopes == 0) {
                return fail(errc::bad_input, "scopes: one or more of pull, push, delete, manage");
            }
            const auto lifetime = in.expires_in.value_or(default_token_lifetime);
            if (lifetime < 60 || lifetime > max_token_lifetime) {
                return fail(errc::bad_input, "expires_in: must be 60 seconds to one year");
            }
            CreatedToken out;
            out.secret = new_secret(pat_prefix);
            meta::TokenRow t;
            t.user_id = u.id;
            t.user = u.name;
            t.name = in.name;
            t.secret_hash = secret_hash(out.secret);
            t.scopes = token_scopes_text(*scopes);
            t.created_at = s_.clock.now_unix();
            t.expires_at = t.created_at + lifetime;
            DERMAGA_TRY(created, s_.store.create_token(t));
            created.secret_hash.clear();
            out.token = std::move(created);
            return out;
        });
}

Result<void> Admin::revoke_token(const Actor& a, std::string_view user, std::string_view name) {
    const auto object = "user:" + std::string(user) + "/token:" + std::string(name);
    return mutation(a, "token.revoke", object, [&]() -> Result<void> {
        DERMAGA_TRY(u, self_or_admin(a, user, Use::change));
        DERMAGA_TRY(found, s_.store.revoke_token(u.id, name));
        if (!found) {
            return fail(errc::not_found, "no live token named " + std::string(name));
        }
        return {};
    });
}

// Repositories ---------------------------------------------------------------------------------

Result<std::vector<meta::GrantRow>> Admin::list_grants(const Actor& a, std::string_view repo) {
    auto list = [&]() -> Result<std::vector<meta::GrantRow>> {
        DERMAGA_CHECK(require_repo_manager(a, repo));
        DERMAGA_CHECK(check_repo(repo));
        return s_.store.grants(repo);
    };
    return reading(a, "repo.grants", "repo:" + std::string(repo), list);
}

Result<void> Admin::set_grant(const Actor& a, std::string_view repo,
                              const Input<GrantSpec>& input) {
    const auto object = "repo:" + std::string(repo);
    return mutation(
        a, "repo.grant", object, [&](std::string& action, std::string&) -> Result<void> {
            DERMAGA_CHECK(require_repo_manager(a, repo));
            DERMAGA_TRY(in, input.get());
            const std::string_view kind = in.subject_kind;
            if (in.role == "none") {
                action = "repo.revoke";
            }
            DERMAGA_CHECK(check_repo(repo));
            DERMAGA_TRY(r, check_role("role", in.role));
            if (kind != "user" && kind != "team" && kind != "robot") {
                return fail(errc::bad_input, "subject_kind: must be user, team or robot");
            }
            std::string name(in.subject);
            const char sep = kind == "team" ? '/' : '+';
            if (kind != "user" && name.find(sep) == std::string::npos) {
                name = std::string(namespace_of(repo)) + sep + name;  // "ci" → "acme+ci"
            }
            if (name.empty() || name.size() > 200) {
                return fail(errc::bad_input, "subject: required");
            }
            if (r == 0) {
                DERMAGA_TRY(found, s_.store.remove_grant(repo, kind, name));
                if (!found) {
                    return fail(errc::not_found, "no grant to " + std::string(kind) + " " + name);
                }
                return {};
            }
            return s_.store.set_grant(
                meta::GrantRow{std::string(repo), std::string(kind), name, r});
        });
}

Result<Visibility> Admin::get_visibility(const Actor& a, std::string_view repo) {
    return reading(a, "repo.visibility", "repo:" + std::string(repo), [&]() -> Result<Visibility> {
        DERMAGA_CHECK(require_repo_manager(a, repo));
        DERMAGA_CHECK(check_repo(repo));
        DERMAGA_TRY(f, s_.store.access_facts(meta::Subject{}, s_.clock.now_unix(),
                                             namespace_of(repo), repo));
        Visibility v;
        v.own = f.repo_visibility.empty() ? "inherit" : f.repo_visibility;
        v.effective = !f.repo_visibility.empty() ? f.repo_visibility : f.ns ? f.ns->default_visibility : "private";
        return v;
    });
}

Result<void> Admin::set_visibility(const Actor& a, std::string_view repo,
                                   const Input<std::string>& input) {
    return mutation(a, "repo.visibility", "repo:" + std::string(repo), [&]() -> Result<void> {
        DERMAGA_CHECK(require_repo_manager(a, repo));
        DERMAGA_TRY(visibility, input.get());
        DERMAGA_CHECK(check_repo(repo));
        if (visibility != "inherit") {
            DERMAGA_CHECK(check_visibility("visibility", visibility));
        }
        return s_.store.set_visibility(repo, visibility == "inherit" ? std::string_view() : visibility);
    });
}

}  // namespace dermaga::auth
