// /api/v1/orgs…: organisations, members, teams and robots.

#include "api/mgmt/mgmt.hpp"

namespace dermaga::api::mgmt {

namespace {

using M = http::Method;

http::Response org_collection(Call& c) {
    if (c.method == M::get) {
        auto r = c.admin.list_orgs(c.actor);
        return r ? json_response(200, views::list(*r, views::org)) : failed(r.error());
    }
    if (c.method != M::post) {
        return method_not_allowed("GET, POST");
    }
    auto r = c.admin.create_org(c.actor, [&]() -> Result<auth::NewOrg> {
        DERMAGA_TRY(j, object_body(c, {"name", "default_visibility", "description"}));
        DERMAGA_TRY(name, req_string(j, "name"));
        DERMAGA_TRY(vis, opt_string(j, "default_visibility"));
        DERMAGA_TRY(desc, opt_string(j, "description"));
        return auth::NewOrg{std::move(name), vis.value_or("private"), desc.value_or("")};
    });
    return r ? json_response(201, views::org(*r)) : failed(r.error());
}

http::Response org_item(Call& c, const std::string& org) {
    if (c.method == M::get) {
        auto r = c.admin.get_org(c.actor, org);
        return r ? json_response(200, views::org(*r)) : failed(r.error());
    }
    if (c.method == M::del) {
        auto r = c.admin.delete_org(c.actor, org);
        return r ? no_content() : failed(r.error());
    }
    if (c.method != M::patch) {
        return method_not_allowed("GET, PATCH, DELETE");
    }
    auto r = c.admin.update_org(c.actor, org, [&]() -> Result<auth::OrgUpdate> {
        DERMAGA_TRY(j, object_body(c, {"default_visibility", "description"}));
        DERMAGA_TRY(vis, opt_string(j, "default_visibility"));
        DERMAGA_TRY(desc, opt_string(j, "description"));
        return auth::OrgUpdate{std::move(vis), std::move(desc)};
    });
    return r ? json_response(200, views::org(*r)) : failed(r.error());
}

http::Response members(Call& c, const std::string& org) {
    const auto& p = c.parts;
    if (p.size() == 3) {
        if (c.method != M::get) {
            return method_not_allowed("GET");
        }
        auto r = c.admin.list_members(c.actor, org);
        return r ? json_response(200, views::list(*r, views::member)) : failed(r.error());
    }
    if (c.method == M::del) {
        auto r = c.admin.remove_member(c.actor, org, p[3]);
        return r ? no_content() : failed(r.error());
    }
    if (c.method != M::put) {
        return method_not_allowed("PUT, DELETE");
    }
    std::string role;
    auto r = c.admin.set_member(c.actor, org, p[3], [&]() -> Result<std::string> {
        DERMAGA_TRY(j, object_body(c, {"role"}));
        DERMAGA_TRY(value, req_string(j, "role"));
        role = value;
        return value;
    });
    return r ? json_response(200, Json{{"user", p[3]}, {"role", role}}) : failed(r.error());
}

http::Response teams(Call& c, const std::string& org) {
    const auto& p = c.parts;
    if (p.size() == 3) {
        if (c.method != M::get) {
            return method_not_allowed("GET");
        }
        auto r = c.admin.list_teams(c.actor, org);
        return r ? json_response(200, views::list(*r, views::team)) : failed(r.error());
    }
    const auto& team = p[3];
    if (p.size() == 6 && p[4] == "members") {
        Result<void> r;
        if (c.method == M::put) {
            r = c.admin.add_team_member(c.actor, org, team, p[5]);
        } else if (c.method == M::del) {
            r = c.admin.remove_team_member(c.actor, org, team, p[5]);
        } else {
            return method_not_allowed("PUT, DELETE");
        }
        return r ? no_content() : failed(r.error());
    }
    if (p.size() != 4) {
        return not_found();
    }
    if (c.method == M::del) {
        auto r = c.admin.delete_team(c.actor, org, team);
        return r ? no_content() : failed(r.error());
    }
    if (c.method != M::put) {
        return method_not_allowed("PUT, DELETE");
    }
    auth::TeamSpec in;
    auto r = c.admin.put_team(c.actor, org, team, [&]() -> Result<auth::TeamSpec> {
        DERMAGA_TRY(j, object_body(c, {"role", "ldap_group"}));
        DERMAGA_TRY(role, opt_string(j, "role"));
        DERMAGA_TRY(group, opt_string(j, "ldap_group"));
        in = auth::TeamSpec{role.value_or("none"), group.value_or("")};
        return in;
    });
    return r ? json_response(200, Json{{"name", team}, {"role", in.role}, {"ldap_group", in.ldap_group}})
             : failed(r.error());
}

http::Response robots(Call& c, const std::string& org) {
    const auto& p = c.parts;
    if (p.size() == 4) {
        if (c.method != M::del) {
            return method_not_allowed("DELETE");
        }
        auto r = c.admin.delete_robot(c.actor, org, p[3]);
        return r ? no_content() : failed(r.error());
    }
    if (c.method == M::get) {
        auto r = c.admin.list_robots(c.actor, org);
        return r ? json_response(200, views::list(*r, views::robot)) : failed(r.error());
    }
    if (c.method != M::post) {
        return method_not_allowed("GET, POST");
    }
    auto r = c.admin.create_robot(c.actor, org, [&]() -> Result<auth::NewRobot> {
        DERMAGA_TRY(j, object_body(c, {"name", "role", "description", "expires_in"}));
        DERMAGA_TRY(name, req_string(j, "name"));
        DERMAGA_TRY(role, req_string(j, "role"));
        DERMAGA_TRY(desc, opt_string(j, "description"));
        DERMAGA_TRY(expires, opt_duration(j, "expires_in"));
        return auth::NewRobot{std::move(name), std::move(role), desc.value_or(""),
                              expires.value_or(0)};
    });
    if (!r) {
        return failed(r.error());
    }
    auto j = views::robot(r->robot);
    j["secret"] = r->secret;  // the only time it is shown
    return json_response(201, j);
}

}  // namespace

std::optional<http::Response> orgs(Call& c) {
    const auto& p = c.parts;
    if (p.empty() || p[0] != "orgs") {
        return std::nullopt;
    }
    if (p.size() == 1) {
        return org_collection(c);
    }
    if (p.size() == 2) {
        return org_item(c, p[1]);
    }
    if (p[2] == "members" && p.size() <= 4) {
        return members(c, p[1]);
    }
    if (p[2] == "teams" && p.size() <= 6) {
        return teams(c, p[1]);
    }
    if (p[2] == "robots" && p.size() <= 4) {
        return robots(c, p[1]);
    }
    return not_found();
}

}  // namespace dermaga::api::mgmt
