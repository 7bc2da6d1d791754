// dermaga repo grant|revoke|permissions|visibility, token add|list|revoke, audit, keys rotate

#include <memory>

#include "auth/views.hpp"
#include "cli/common.hpp"

namespace dermaga::cli {

namespace {

namespace views = auth::views;

struct AccessArgs {
    std::string repo, user, team, robot, role, value, name, scopes, expires_in;
    std::string actor, action, object, outcome, since, until;
    std::int64_t before = 0;
    std::size_t limit = 100;
    bool jsonl = false;
};

/// The grant subject from --user/--team/--robot (exactly one).
Result<std::pair<std::string, std::string>> subject_of(const AccessArgs& a) {
    const int given = !a.user.empty() + !a.team.empty() + !a.robot.empty();
    if (given != 1) {
        return fail(auth::errc::bad_input, "give exactly one of --user, --team, --robot");
    }
    if (!a.user.empty()) {
        return std::pair{std::string("user"), a.user};
    }
    if (!a.team.empty()) {
        return std::pair{std::string("team"), a.team};
    }
    return std::pair{std::string("robot"), a.robot};
}

void subject_options(CLI::App* cmd, AccessArgs& a) {
    cmd->add_option("--user", a.user, "a user");
    cmd->add_option("--team", a.team, "a team of the repository's organisation");
    cmd->add_option("--robot", a.robot, "a robot of the repository's organisation");
}

void add_repo(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<AccessArgs>& args) {
    auto* g = add_group(cli, "repo", "repository permissions and visibility", o);
    auto* grant = g->add_subcommand("grant", "grant a role on a repository");
    grant->add_option("REPO", args->repo)->required();
    subject_options(grant, *args);
    grant->add_option("ROLE", args->role, "read, write, delete or admin")->required();
    on_run(grant, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(s, subject_of(*args));
        DERMAGA_CHECK(
            admin.set_grant(a, args->repo, auth::GrantSpec{s.first, s.second, args->role}));
        std::printf("%s %s has %s on %s\n", s.first.c_str(), s.second.c_str(), args->role.c_str(), args->repo.c_str());
        return 0;
    });
    auto* revoke = g->add_subcommand("revoke", "remove a grant");
    revoke->add_option("REPO", args->repo)->required();
    subject_options(revoke, *args);
    on_run(revoke, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(s, subject_of(*args));
        DERMAGA_CHECK(admin.set_grant(a, args->repo, auth::GrantSpec{s.first, s.second, "none"}));
        std::printf("grant to %s %s on %s removed\n", s.first.c_str(), s.second.c_str(), args->repo.c_str());
        return 0;
    });
    auto* perms = g->add_subcommand("permissions", "list a repository's grants");
    perms->add_option("REPO", args->repo)->required();
    perms->add_flag("--json", o.json);
    on_run(perms, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(grants, admin.list_grants(a, args->repo));
        if (o.json) {
            std::printf("%s\n", views::list(grants, views::grant).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& gr : grants) {
            rows.push_back({gr.subject_kind, gr.subject, auth::role_name(static_cast<auth::Role>(gr.role))});
        }
        print_table({"KIND", "SUBJECT", "ROLE"}, rows);
        return 0;
    });
    auto* vis = g->add_subcommand("visibility", "set (or show) a repository's visibility");
    vis->add_option("REPO", args->repo)->required();
    vis->add_option("VISIBILITY", args->value, "public, private or inherit");
    on_run(vis, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        if (!args->value.empty()) {
            DERMAGA_CHECK(admin.set_visibility(a, args->repo, args->value));
        }
        DERMAGA_TRY(v, admin.get_visibility(a, args->repo));
        std::printf("%s: %s (effective: %s)\n", args->repo.c_str(), v.own.c_str(), v.effective.c_str());
        return 0;
    });
}

void add_token(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<AccessArgs>& args) {
    auto* g = add_group(cli, "token", "personal access tokens", o);
    auto* add = g->add_subcommand("add", "create a token; prints its secret once");
    add->add_option("USER", args->user)->required();
    add->add_option("NAME", args->name)->required();
    add->add_option("--scopes", args->scopes, "space-separated: pull push delete manage")->required();
    add->add_option("--expires-in", args->expires_in, "lifetime such as 90d (default 90d, at most 1 year)");
    on_run(add, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        auth::NewToken t{args->name, args->scopes, std::nullopt};
        if (!args->expires_in.empty()) {
            t.expires_in = auth::parse_duration(args->expires_in);
            if (!t.expires_in) {
                return fail(auth::errc::bad_input, "--expires-in: a duration such as 90d, 12h or 3600");
            }
        }
        DERMAGA_TRY(r, admin.create_token(a, args->user, t));
        std::fprintf(stderr, "token %s of %s created (expires %s); its secret is shown only now:\n",
                     r.token.name.c_str(), args->user.c_str(), when(r.token.expires_at).c_str());
        std::printf("%s\n", r.secret.c_str());
        return 0;
    });
    auto* list = g->add_subcommand("list", "list a user's tokens");
    list->add_option("USER", args->user)->required();
    list->add_flag("--json", o.json);
    on_run(list, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(tokens, admin.list_tokens(a, args->user));
        if (o.json) {
            std::printf("%s\n", views::list(tokens, views::token).dump(2).c_str());
            return 0;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& t : tokens) {
            rows.push_back({t.name, t.scopes, when(t.expires_at), when(t.last_used), t.revoked ? "yes" : "no"});
        }
        print_table({"NAME", "SCOPES", "EXPIRES", "LAST USED", "REVOKED"}, rows);
        return 0;
    });
    auto* revoke = g->add_subcommand("revoke", "revoke a token");
    revoke->add_option("USER", args->user)->required();
    revoke->add_option("NAME", args->name)->required();
    on_run(revoke, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_CHECK(admin.revoke_token(a, args->user, args->name));
        std::printf("token %s of %s revoked\n", args->name.c_str(), args->user.c_str());
        return 0;
    });
}

Result<std::int64_t> time_flag(const std::string& flag, const std::string& v) {
    if (v.empty()) {
        return 0;
    }
    auto t = auth::parse_time_ms(v);
    if (!t) {
        return fail(auth::errc::bad_input, flag + ": RFC 3339 (UTC) or Unix seconds");
    }
    return *t;
}

void add_audit(CLI::App& cli, Common& o, int& rc, const std::shared_ptr<AccessArgs>& args) {
    auto* audit = cli.add_subcommand("audit", "query the audit trail (newest first)");
    add_store_options(audit, o);
    audit->add_option("--actor", args->actor);
    audit->add_option("--action", args->action, "e.g. user.create, login, manifest.push");
    audit->add_option("--object", args->object, "object prefix, e.g. org:acme or acme/app");
    audit->add_option("--outcome", args->outcome, "allowed, denied, failed, …");
    audit->add_option("--since", args->since, "RFC 3339 or Unix seconds");
    audit->add_option("--until", args->until, "RFC 3339 or Unix seconds");
    audit->add_option("--before", args->before, "entries older than this id (paging)");
    audit->add_option("--limit", args->limit, "at most this many entries (1-1000)");
    audit->add_flag("--json", o.json, "a JSON array");
    audit->add_flag("--jsonl", args->jsonl, "JSON lines, one entry per line");
    on_run(audit, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        meta::AuditQuery q;
        q.actor = args->actor;
        q.action = args->action;
        q.object_prefix = args->object;
        q.outcome = args->outcome;
        DERMAGA_TRY(since, time_flag("--since", args->since));
        DERMAGA_TRY(until, time_flag("--until", args->until));
        q.since = since;
        q.until = until;
        q.before_id = args->before;
        q.limit = args->limit;
        DERMAGA_TRY(rows, admin.audit(a, q));
        if (args->jsonl) {
            for (const auto& r : rows) {
                std::printf("%s\n", views::audit(r).dump().c_str());
            }
        } else if (o.json) {
            std::printf("%s\n", views::list(rows, views::audit).dump(2).c_str());
        } else {
            std::vector<std::vector<std::string>> table;
            for (const auto& r : rows) {
                table.push_back({std::to_string(r.id), when(r.at / 1000), r.actor, r.action, r.object, r.outcome,
                                 r.detail});
            }
            print_table({"ID", "AT", "ACTOR", "ACTION", "OBJECT", "OUTCOME", "DETAIL"}, table);
        }
        return 0;
    });
}

}  // namespace

void add_access_commands(CLI::App& cli, Common& o, int& rc) {
    auto args = std::make_shared<AccessArgs>();
    add_repo(cli, o, rc, args);
    add_token(cli, o, rc, args);
    add_audit(cli, o, rc, args);
    auto* keys = add_group(cli, "keys", "token signing keys", o);
    auto* rotate = keys->add_subcommand("rotate", "generate a new signing key (old tokens keep verifying)");
    on_run(rotate, o, rc, [](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(kid, admin.rotate_keys(a));
        std::printf("new signing key %s\n", kid.c_str());
        return 0;
    });
}

}  // namespace dermaga::cli
