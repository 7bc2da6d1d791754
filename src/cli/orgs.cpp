// dermaga org add|list|delete|member set|member remove|member list,
//         team put|delete|list|add-member|remove-member, robot add|list|delete

#include <memory>

#include "auth/views.hpp"
#include "cli/common.hpp"

namespace dermaga::cli {

namespace {

namespace views = auth::views;

struct OrgArgs {
    std::string org, name, user, role, ldap_group, description, expires_in, visibility = "private";
};

const char* role_text(int r) { return auth::role_name(static_cast<auth::Role>(r)); }

void add_org(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<OrgArgs>& args) {
    auto* g = add_group(cli, "org", "manage organisations and their members", o);
    auto* add = g->add_subcommand("add", "create an organisation");
    add->add_option("NAME", args->org)->required();
    add->add_option("--visibility", args->visibility, "default visibility: public or private");
    add->add_option("--description", args->description);
    on_run(add, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.create_org(a, auth::NewOrg{args->org, args->visibility, args->description}));
        std::printf("organisation %s created\n", args->org.c_str());
        return 0;
    });
    auto* list = g->add_subcommand("list", "list organisations");
    list->add_flag("--json", o.json);
    on_run(list, o, rc, [&o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(orgs, admin.list_orgs(a));
        if (o.json) {
            std::printf("%s\n", views::list(orgs, views::org).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& n : orgs) {
            rows.push_back({n.name, n.default_visibility, n.description, when(n.created_at)});
        }
        print_table({"NAME", "VISIBILITY", "DESCRIPTION", "CREATED"}, rows);
        return 0;
    });
    auto* del = g->add_subcommand("delete", "delete an empty organisation");
    del->add_option("NAME", args->org)->required();
    on_run(del, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.delete_org(a, args->org));
        std::printf("organisation %s deleted\n", args->org.c_str());
        return 0;
    });

    auto* member = g->add_subcommand("member", "organisation membership");
    member->require_subcommand(1);
    auto* set = member->add_subcommand("set", "add a member or change their role");
    set->add_option("ORG", args->org)->required();
    set->add_option("USER", args->user)->required();
    set->add_option("ROLE", args->role, "none, read, write, delete or admin")->required();
    on_run(set, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.set_member(a, args->org, args->user, args->role));
        std::printf("%s is %s of %s\n", args->user.c_str(), args->role.c_str(), args->org.c_str());
        return 0;
    });
    auto* remove = member->add_subcommand("remove", "remove a member");
    remove->add_option("ORG", args->org)->required();
    remove->add_option("USER", args->user)->required();
    on_run(remove, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.remove_member(a, args->org, args->user));
        std::printf("%s removed from %s\n", args->user.c_str(), args->org.c_str());
        return 0;
    });
    auto* mlist = member->add_subcommand("list", "list members");
    mlist->add_option("ORG", args->org)->required();
    mlist->add_flag("--json", o.json);
    on_run(mlist, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(members, admin.list_members(a, args->org));
        if (o.json) {
            std::printf("%s\n", views::list(members, views::member).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& m : members) {
            rows.push_back({m.user, role_text(m.role)});
        }
        print_table({"USER", "ROLE"}, rows);
        return 0;
    });
}

void add_team(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<OrgArgs>& args) {
    auto* g = add_group(cli, "team", "manage teams of an organisation", o);
    auto* put = g->add_subcommand("put", "create or update a team");
    put->add_option("ORG", args->org)->required();
    put->add_option("TEAM", args->name)->required();
    put->add_option("--role", args->role, "organisation-wide role of the team (default none)");
    put->add_option("--ldap-group", args->ldap_group, "LDAP group DN whose members join the team");
    on_run(put, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        const std::string role = args->role.empty() ? "none" : args->role;
        DERMAGA_CHECK(admin.put_team(a, args->org, args->name, auth::TeamSpec{role, args->ldap_group}));
        std::printf("team %s/%s saved (role %s)\n", args->org.c_str(), args->name.c_str(), role.c_str());
        return 0;
    });
    auto* del = g->add_subcommand("delete", "delete a team");
    del->add_option("ORG", args->org)->required();
    del->add_option("TEAM", args->name)->required();
    on_run(del, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.delete_team(a, args->org, args->name));
        std::printf("team %s/%s deleted\n", args->org.c_str(), args->name.c_str());
        return 0;
    });
    auto* list = g->add_subcommand("list", "list teams");
    list->add_option("ORG", args->org)->required();
    list->add_flag("--json", o.json);
    on_run(list, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(teams, admin.list_teams(a, args->org));
        if (o.json) {
            std::printf("%s\n", views::list(teams, views::team).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& t : teams) {
            std::string members;
            for (const auto& m : t.members) {
                members += (members.empty() ? "" : ",") + m;
            }
            rows.push_back({t.name, role_text(t.role), t.ldap_group, members});
        }
        print_table({"TEAM", "ROLE", "LDAP GROUP", "MEMBERS"}, rows);
        return 0;
    });
    for (auto [verb, adding] : {std::pair{"add-member", true}, {"remove-member", false}}) {
        auto* cmd = g->add_subcommand(verb, adding ? "add a user to a team" : "remove a user from a team");
        cmd->add_option("ORG", args->org)->required();
        cmd->add_option("TEAM", args->name)->required();
        cmd->add_option("USER", args->user)->required();
        on_run(cmd, o, rc, [args, adding = adding](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
            if (adding) {
                DERMAGA_CHECK(admin.add_team_member(a, args->org, args->name, args->user));
            } else {
                DERMAGA_CHECK(admin.remove_team_member(a, args->org, args->name, args->user));
            }
            std::printf("%s %s team %s/%s\n", args->user.c_str(), adding ? "added to" : "removed from",
                        args->org.c_str(), args->name.c_str());
            return 0;
        });
    }
}

void add_robot(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<OrgArgs>& args) {
    auto* g = add_group(cli, "robot", "manage robot accounts of an organisation", o);
    auto* add = g->add_subcommand("add", "create a robot; prints its secret once");
    add->add_option("ORG", args->org)->required();
    add->add_option("NAME", args->name)->required();
    add->add_option("--role", args->role, "role in the organisation")->required();
    add->add_option("--expires-in", args->expires_in, "lifetime such as 30d (default: never)");
    add->add_option("--description", args->description);
    on_run(add, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        std::int64_t expires = 0;
        if (!args->expires_in.empty()) {
            auto d = auth::parse_duration(args->expires_in);
            if (!d) {
                return fail(auth::errc::bad_input, "--expires-in: a duration such as 30d, 12h or 3600");
            }
            expires = *d;
        }
        DERMAGA_TRY(r, admin.create_robot(a, args->org,
                                          auth::NewRobot{args->name, args->role, args->description, expires}));
        std::fprintf(stderr, "robot %s created; its secret is shown only now:\n", r.login.c_str());
        std::printf("%s\n", r.secret.c_str());
        return 0;
    });
    auto* list = g->add_subcommand("list", "list robots");
    list->add_option("ORG", args->org)->required();
    list->add_flag("--json", o.json);
    on_run(list, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(robots, admin.list_robots(a, args->org));
        if (o.json) {
            std::printf("%s\n", views::list(robots, views::robot).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& r : robots) {
            rows.push_back({r.org + "+" + r.name, role_text(r.role), when(r.expires_at), r.description});
        }
        print_table({"LOGIN", "ROLE", "EXPIRES", "DESCRIPTION"}, rows);
        return 0;
    });
    auto* del = g->add_subcommand("delete", "delete a robot");
    del->add_option("ORG", args->org)->required();
    del->add_option("NAME", args->name)->required();
    on_run(del, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.delete_robot(a, args->org, args->name));
        std::printf("robot %s+%s deleted\n", args->org.c_str(), args->name.c_str());
        return 0;
    });
}

}  // namespace

void add_org_commands(CLI::App& cli, Common& o, int& rc) {
    auto args = std::make_shared<OrgArgs>();
    add_org(cli, o, rc, args);
    add_team(cli, o, rc, args);
    add_robot(cli, o, rc, args);
}

}  // namespace dermaga::cli
