// SqlAuthStore, part 1: users, namespaces, memberships, teams, grants and access facts.
// Part 2 (sql_auth_creds.cpp): robots, tokens, signing keys, login throttling, audit.

#include <algorithm>
#include <cctype>
#include <ctime>
#include <tuple>

#include "meta/sql_auth_store.hpp"
#include "meta/sql_helpers.hpp"

namespace dermaga::meta {

using namespace detail;

namespace {

constexpr const char* user_cols = "id, name, ns_id, password_hash, email, admin, disabled, source, created_at";

UserRow read_user(Statement& s) {
    return UserRow{s.int64(0), s.text(1), s.int64(2), s.text(3), s.text(4), s.int64(5) != 0, s.int64(6) != 0,
                   s.text(7), s.int64(8)};
}

NamespaceRow read_ns(Statement& s, int at = 0) {
    return NamespaceRow{s.int64(at),     s.text(at + 1), s.text(at + 2),
                        s.text(at + 3),  s.text(at + 4), s.int64(at + 5)};
}

Result<std::optional<NamespaceRow>> find_ns(Connection& c, std::string_view name) {
    PREPARE(s, c, "SELECT id, name, kind, default_visibility, description, created_at FROM namespaces WHERE name = ?1");
    s.bind(1, name);
    return one_row<NamespaceRow>(s, "select namespace", [](Statement& st) { return read_ns(st); });
}

Result<std::optional<std::int64_t>> one_id(Statement& s, const char* what) {
    return one_row<std::int64_t>(s, what, [](Statement& st) { return st.int64(0); });
}

/// The id of organisation `org`. Errors: errc::not_found.
Result<std::int64_t> org_id(Connection& c, std::string_view org) {
    DERMAGA_TRY(ns, find_ns(c, org));
    if (!ns || ns->kind != "org") {
        return fail(errc::not_found, "organisation " + std::string(org));
    }
    return ns->id;
}

/// The id of user `name`. Errors: errc::not_found.
Result<std::int64_t> user_id(Connection& c, std::string_view name) {
    PREPARE(s, c, "SELECT id FROM users WHERE name = ?1");
    s.bind(1, name);
    DERMAGA_TRY(id, one_id(s, "select user"));
    if (!id) {
        return fail(errc::not_found, "user " + std::string(name));
    }
    return *id;
}

Result<std::int64_t> team_id(Connection& c, std::int64_t org, std::string_view team) {
    PREPARE(s, c, "SELECT id FROM teams WHERE org_id = ?1 AND name = ?2");
    s.bind(1, org).bind(2, team);
    DERMAGA_TRY(id, one_id(s, "select team"));
    if (!id) {
        return fail(errc::not_found, "team " + std::string(team));
    }
    return *id;
}

/// Errors: errc::conflict when a repository with at least one manifest lives in `ns`.
Result<void> require_empty_namespace(Connection& c, std::string_view ns) {
    PREPARE(s, c,
            "SELECT COUNT(*) FROM repositories r WHERE (r.name = ?1 OR (r.name >= ?1 || '/' AND r.name < ?1 || '0')) "
            "AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id)");
    s.bind(1, ns);
    DERMAGA_TRY(n, scalar(s, "count repositories"));
    if (n > 0) {
        return fail(errc::conflict, "namespace " + std::string(ns) + " still holds " + std::to_string(n) +
                                        " repositories; delete them first");
    }
    return {};
}

/// Runs each statement with ?1 bound to `id`.
Result<void> exec_all(Connection& c, std::int64_t id, std::initializer_list<const char*> sqls) {
    for (const char* sql : sqls) {
        PREPARE(s, c, sql);
        s.bind(1, id);
        DERMAGA_CHECK(exec_stmt(s, sql));
    }
    return {};
}

Result<void> delete_repo_settings(Connection& c, std::string_view ns) {
    for (const char* sql : {"DELETE FROM repo_grants WHERE repo = ?1 OR (repo >= ?1 || '/' AND repo < ?1 || '0')",
                            "DELETE FROM repo_settings WHERE repo = ?1 OR (repo >= ?1 || '/' AND repo < ?1 || '0')"}) {
        PREPARE(s, c, sql);
        s.bind(1, ns);
        DERMAGA_CHECK(exec_stmt(s, sql));
    }
    return {};
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return s;
}

}  // namespace

// Users -----------------------------------------------------------------------------------

Result<UserRow> SqlAuthStore::create_user(const UserRow& u) {
    return admin_write<UserRow>(*db_, [&](Connection& c) -> Result<UserRow> {
        UserRow out = u;
        {
            PREPARE(s, c, "INSERT INTO namespaces(name, kind, created_at) VALUES(?1, 'user', ?2) RETURNING id");
            s.bind(1, u.name).bind(2, u.created_at);
            DERMAGA_TRY(ns, insert_returning_id(s, "insert namespace", "the name " + u.name + " is taken"));
            out.ns_id = ns;
        }
        PREPARE(s, c,
                "INSERT INTO users(name, ns_id, password_hash, email, admin, disabled, source, created_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
        s.bind(1, u.name).bind(2, out.ns_id).bind(3, u.password_hash).bind(4, u.email);
        s.bind(5, std::int64_t{u.admin}).bind(6, std::int64_t{u.disabled}).bind(7, u.source).bind(8, u.created_at);
        DERMAGA_TRY(id, insert_returning_id(s, "insert user", "the name " + u.name + " is taken"));
        out.id = id;
        return out;
    });
}

Result<std::optional<UserRow>> SqlAuthStore::user(std::string_view name) {
    return read<std::optional<UserRow>>(*db_, [&](Connection& c) -> Result<std::optional<UserRow>> {
        static const std::string sql = std::string("SELECT ") + user_cols + " FROM users WHERE name = ?1";
        PREPARE(s, c, sql.c_str());
        s.bind(1, name);
        return one_row<UserRow>(s, "select user", read_user);
    });
}

Result<std::optional<UserRow>> SqlAuthStore::user_by_id(std::int64_t id) {
    return read<std::optional<UserRow>>(*db_, [&](Connection& c) -> Result<std::optional<UserRow>> {
        static const std::string sql = std::string("SELECT ") + user_cols + " FROM users WHERE id = ?1";
        PREPARE(s, c, sql.c_str());
        s.bind(1, id);
        return one_row<UserRow>(s, "select user", read_user);
    });
}

Result<std::vector<UserRow>> SqlAuthStore::users() {
    return read<std::vector<UserRow>>(*db_, [&](Connection& c) -> Result<std::vector<UserRow>> {
        static const std::string sql = std::string("SELECT ") + user_cols + " FROM users ORDER BY name";
        PREPARE(s, c, sql.c_str());
        std::vector<UserRow> out;
        DERMAGA_CHECK(each_row(s, "list users", [&](Statement& st) { out.push_back(read_user(st)); }));
        return out;
    });
}

Result<bool> SqlAuthStore::update_user(const UserRow& u) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "UPDATE users SET password_hash = ?2, email = ?3, admin = ?4, disabled = ?5 WHERE id = ?1");
        s.bind(1, u.id).bind(2, u.password_hash).bind(3, u.email);
        s.bind(4, std::int64_t{u.admin}).bind(5, std::int64_t{u.disabled});
        DERMAGA_CHECK(exec_stmt(s, "update user"));
        return s.changes() > 0;
    });
}

Result<bool> SqlAuthStore::delete_user(std::string_view name) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        using Ids = std::pair<std::int64_t, std::int64_t>;  // user, namespace
        std::optional<Ids> ids;
        {
            PREPARE(s, c, "SELECT id, ns_id FROM users WHERE name = ?1");
            s.bind(1, name);
            DERMAGA_TRY(row, one_row<Ids>(s, "select user", [](Statement& st) { return Ids{st.int64(0), st.int64(1)}; }));
            ids = row;
        }
        if (!ids) {
            return false;
        }
        DERMAGA_CHECK(require_empty_namespace(c, name));
        DERMAGA_CHECK(exec_all(c, ids->first,
                               {"DELETE FROM org_members WHERE user_id = ?1", "DELETE FROM team_members WHERE user_id = ?1",
                                "DELETE FROM repo_grants WHERE subject_kind = 'user' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'user' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'pat' AND subject_id IN "
                                "(SELECT id FROM access_tokens WHERE user_id = ?1)",
                                "DELETE FROM access_tokens WHERE user_id = ?1", "DELETE FROM users WHERE id = ?1"}));
        DERMAGA_CHECK(exec_all(c, ids->second, {"DELETE FROM namespaces WHERE id = ?1"}));
        DERMAGA_CHECK(delete_repo_settings(c, name));
        return true;
    });
}

Result<std::int64_t> SqlAuthStore::count_admins() {
    return read<std::int64_t>(*db_, [&](Connection& c) -> Result<std::int64_t> {
        PREPARE(s, c, "SELECT COUNT(*) FROM users WHERE admin = 1 AND disabled = 0");
        return scalar(s, "count admins");
    });
}

// Organisations ---------------------------------------------------------------------------

Result<NamespaceRow> SqlAuthStore::create_org(const NamespaceRow& org) {
    return admin_write<NamespaceRow>(*db_, [&](Connection& c) -> Result<NamespaceRow> {
        PREPARE(s, c,
                "INSERT INTO namespaces(name, kind, default_visibility, description, created_at) "
                "VALUES(?1, 'org', ?2, ?3, ?4) RETURNING id");
        s.bind(1, org.name).bind(2, org.default_visibility).bind(3, org.description).bind(4, org.created_at);
        DERMAGA_TRY(id, insert_returning_id(s, "insert organisation", "the name " + org.name + " is taken"));
        NamespaceRow out = org;
        out.kind = "org";
        out.id = id;
        return out;
    });
}

Result<std::optional<NamespaceRow>> SqlAuthStore::namespace_row(std::string_view name) {
    return read<std::optional<NamespaceRow>>(*db_, [&](Connection& c) { return find_ns(c, name); });
}

Result<std::vector<NamespaceRow>> SqlAuthStore::orgs() {
    return read<std::vector<NamespaceRow>>(*db_, [&](Connection& c) -> Result<std::vector<NamespaceRow>> {
        PREPARE(s, c,
                "SELECT id, name, kind, default_visibility, description, created_at FROM namespaces "
                "WHERE kind = 'org' ORDER BY name");
        std::vector<NamespaceRow> out;
        DERMAGA_CHECK(each_row(s, "list organisations", [&](Statement& st) { out.push_back(read_ns(st)); }));
        return out;
    });
}

Result<bool> SqlAuthStore::update_org(const NamespaceRow& org) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "UPDATE namespaces SET default_visibility = ?2, description = ?3 WHERE name = ?1 AND kind = 'org'");
        s.bind(1, org.name).bind(2, org.default_visibility).bind(3, org.description);
        DERMAGA_CHECK(exec_stmt(s, "update organisation"));
        return s.changes() > 0;
    });
}

Result<bool> SqlAuthStore::delete_org(std::string_view name) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        auto id = org_id(c, name);
        if (!id) {
            return id.error().code == errc::not_found ? Result<bool>(false) : tl::unexpected(id.error());
        }
        DERMAGA_CHECK(require_empty_namespace(c, name));
        DERMAGA_CHECK(exec_all(
            c, *id,
            {"DELETE FROM repo_grants WHERE subject_kind = 'team' AND subject_id IN (SELECT id FROM teams WHERE org_id = ?1)",
             "DELETE FROM repo_grants WHERE subject_kind = 'robot' AND subject_id IN (SELECT id FROM robots WHERE org_id = ?1)",
             "DELETE FROM refresh_tokens WHERE subject_kind = 'robot' AND subject_id IN "
             "(SELECT id FROM robots WHERE org_id = ?1)",
             "DELETE FROM team_members WHERE team_id IN (SELECT id FROM teams WHERE org_id = ?1)",
             "DELETE FROM teams WHERE org_id = ?1", "DELETE FROM robots WHERE org_id = ?1",
             "DELETE FROM org_members WHERE org_id = ?1", "DELETE FROM namespaces WHERE id = ?1"}));
        DERMAGA_CHECK(delete_repo_settings(c, name));
        return true;
    });
}

// Memberships and teams -------------------------------------------------------------------

Result<void> SqlAuthStore::set_member(std::string_view org, std::string_view user, int role) {
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(s, c,
                "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(org_id, user_id) DO UPDATE SET role = excluded.role");
        s.bind(1, o).bind(2, u).bind(3, std::int64_t{role});
        return exec_stmt(s, "set member");
    });
}

Result<bool> SqlAuthStore::remove_member(std::string_view org, std::string_view user) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(t, c,
                "DELETE FROM team_members WHERE user_id = ?2 AND team_id IN (SELECT id FROM teams WHERE org_id = ?1)");
        t.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(t, "remove team memberships"));
        PREPARE(s, c, "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2");
        s.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(s, "remove member"));
        return s.changes() > 0;
    });
}

Result<std::vector<MemberRow>> SqlAuthStore::members(std::string_view org) {
    return read<std::vector<MemberRow>>(*db_, [&](Connection& c) -> Result<std::vector<MemberRow>> {
        DERMAGA_TRY(o, org_id(c, org));
        PREPARE(s, c,
                "SELECT u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 "
                "ORDER BY u.name");
        s.bind(1, o);
        std::vector<MemberRow> out;
        DERMAGA_CHECK(each_row(s, "list members", [&](Statement& st) {
            out.push_back(MemberRow{st.text(0), static_cast<int>(st.int64(1))});
        }));
        return out;
    });
}

Result<std::vector<std::string>> SqlAuthStore::orgs_of(std::int64_t uid) {
    return read<std::vector<std::string>>(*db_, [&](Connection& c) -> Result<std::vector<std::string>> {
        PREPARE(s, c,
                "SELECT n.name FROM org_members m JOIN namespaces n ON n.id = m.org_id WHERE m.user_id = ?1 "
                "ORDER BY n.name");
        s.bind(1, uid);
        std::vector<std::string> out;
        DERMAGA_CHECK(each_row(s, "list user organisations", [&](Statement& st) { out.push_back(st.text(0)); }));
        return out;
    });
}

Result<void> SqlAuthStore::put_team(const TeamRow& t) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, t.org));
        PREPARE(s, c,
                "INSERT INTO teams(org_id, name, role, ldap_group, created_at) VALUES(?1, ?2, ?3, ?4, ?5) "
                "ON CONFLICT(org_id, name) DO UPDATE SET role = excluded.role, ldap_group = excluded.ldap_group");
        s.bind(1, o).bind(2, t.name).bind(3, std::int64_t{t.role}).bind(4, t.ldap_group).bind(5, now);
        return exec_stmt(s, "put team");
    });
}

Result<bool> SqlAuthStore::delete_team(std::string_view org, std::string_view team) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(o, org_id(c, org));
        auto t = team_id(c, o, team);
        if (!t) {
            return t.error().code == errc::not_found ? Result<bool>(false) : tl::unexpected(t.error());
        }
        DERMAGA_CHECK(exec_all(c, *t,
                               {"DELETE FROM repo_grants WHERE subject_kind = 'team' AND subject_id = ?1",
                                "DELETE FROM team_members WHERE team_id = ?1", "DELETE FROM teams WHERE id = ?1"}));
        return true;
    });
}

Result<std::vector<TeamRow>> SqlAuthStore::teams(std::string_view org) {
    return read<std::vector<TeamRow>>(*db_, [&](Connection& c) -> Result<std::vector<TeamRow>> {
        DERMAGA_TRY(o, org_id(c, org));
        std::vector<TeamRow> out;
        {
            PREPARE(s, c, "SELECT id, name, role, ldap_group FROM teams WHERE org_id = ?1 ORDER BY name");
            s.bind(1, o);
            DERMAGA_CHECK(each_row(s, "list teams", [&](Statement& st) {
                out.push_back(TeamRow{st.int64(0), std::string(org), st.text(1), static_cast<int>(st.int64(2)),
                                      st.text(3), {}});
            }));
        }
        for (auto& t : out) {
            PREPARE(m, c,
                    "SELECT u.name FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = ?1 "
                    "ORDER BY u.name");
            m.bind(1, t.id);
            DERMAGA_CHECK(each_row(m, "list team members", [&](Statement& st) { t.members.push_back(st.text(0)); }));
        }
        return out;
    });
}

Result<void> SqlAuthStore::add_team_member(std::string_view org, std::string_view team, std::string_view user) {
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(t, team_id(c, o, team));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(m, c, "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, 0) ON CONFLICT DO NOTHING");
        m.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(m, "add member"));
        PREPARE(s, c, "INSERT INTO team_members(team_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING");
        s.bind(1, t).bind(2, u);
        return exec_stmt(s, "add team member");
    });
}

Result<bool> SqlAuthStore::remove_team_member(std::string_view org, std::string_view team, std::string_view user) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(t, team_id(c, o, team));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(s, c, "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2");
        s.bind(1, t).bind(2, u);
        DERMAGA_CHECK(exec_stmt(s, "remove team member"));
        return s.changes() > 0;
    });
}

Result<void> SqlAuthStore::sync_ldap_teams(std::int64_t uid, const std::vector<std::string>& group_dns) {
    std::vector<std::string> wanted;
    for (const auto& g : group_dns) {
        wanted.push_back(lower(g));
    }
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        std::vector<std::tuple<std::int64_t, std::int64_t, bool>> teams;
        {
            PREPARE(s, c, "SELECT id, org_id, ldap_group FROM teams WHERE ldap_group != ''");
            DERMAGA_CHECK(each_row(s, "list ldap teams", [&](Statement& st) {
                bool in = std::find(wanted.begin(), wanted.end(), lower(st.text(2))) != wanted.end();
                teams.emplace_back(st.int64(0), st.int64(1), in);
            }));
        }
        for (auto [tid, oid, in] : teams) {
            if (in) {
                PREPARE(m, c, "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, 0) ON CONFLICT DO NOTHING");
                m.bind(1, oid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(m, "add member"));
                PREPARE(a, c, "INSERT INTO team_members(team_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING");
                a.bind(1, tid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(a, "add team member"));
            } else {
                PREPARE(d, c, "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2");
                d.bind(1, tid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(d, "remove team member"));
            }
        }
        return {};
    });
}

// Grants and access ------------------------------------------------------------------------

namespace {

/// Resolves a grant subject name ("alice", "org/team", "org+robot") to its id. Robots and
/// teams may only hold roles on their own organisation's repositories.
Result<std::int64_t> subject_id(Connection& c, std::string_view kind, std::string_view name, std::string_view repo) {
    if (kind == "user") {
        return user_id(c, name);
    }
    const char sep = kind == "team" ? '/' : '+';
    auto pos = name.find(sep);
    if ((kind != "team" && kind != "robot") || pos == std::string_view::npos) {
        return fail(errc::not_found, std::string(kind) + " " + std::string(name));
    }
    auto org = name.substr(0, pos);
    auto rest = name.substr(pos + 1);
    if (repo.substr(0, repo.find('/')) != org) {
        return fail(errc::conflict, std::string(kind) + " " + std::string(name) +
                                        " can only be granted roles on repositories of " + std::string(org));
    }
    DERMAGA_TRY(o, org_id(c, org));
    if (kind == "team") {
        return team_id(c, o, rest);
    }
    PREPARE(s, c, "SELECT id FROM robots WHERE org_id = ?1 AND name = ?2");
    s.bind(1, o).bind(2, rest);
    DERMAGA_TRY(id, one_id(s, "select robot"));
    if (!id) {
        return fail(errc::not_found, "robot " + std::string(name));
    }
    return *id;
}

}  // namespace

Result<void> SqlAuthStore::set_grant(const GrantRow& g) {
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(id, subject_id(c, g.subject_kind, g.subject, g.repo));
        PREPARE(s, c,
                "INSERT INTO repo_grants(repo, subject_kind, subject_id, role) VALUES(?1, ?2, ?3, ?4) "
                "ON CONFLICT(repo, subject_kind, subject_id) DO UPDATE SET role = excluded.role");
        s.bind(1, g.repo).bind(2, g.subject_kind).bind(3, id).bind(4, std::int64_t{g.role});
        return exec_stmt(s, "set grant");
    });
}

Result<bool> SqlAuthStore::remove_grant(std::string_view repo, std::string_view kind, std::string_view subject) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        auto id = subject_id(c, kind, subject, repo);
        if (!id) {
            return id.error().code == errc::not_found ? Result<bool>(false) : tl::unexpected(id.error());
        }
        PREPARE(s, c, "DELETE FROM repo_grants WHERE repo = ?1 AND subject_kind = ?2 AND subject_id = ?3");
        s.bind(1, repo).bind(2, kind).bind(3, *id);
        DERMAGA_CHECK(exec_stmt(s, "remove grant"));
        return s.changes() > 0;
    });
}

Result<std::vector<GrantRow>> SqlAuthStore::grants(std::string_view repo) {
    return read<std::vector<GrantRow>>(*db_, [&](Connection& c) -> Result<std::vector<GrantRow>> {
        PREPARE(s, c,
                "SELECT g.subject_kind, CASE g.subject_kind "
                "  WHEN 'user' THEN (SELECT name FROM users WHERE id = g.subject_id) "
                "  WHEN 'team' THEN (SELECT n.name || '/' || t.name FROM teams t JOIN namespaces n ON n.id = t.org_id "
                "                    WHERE t.id = g.subject_id) "
                "  ELSE (SELECT n.name || '+' || r.name FROM robots r JOIN namespaces n ON n.id = r.org_id "
                "        WHERE r.id = g.subject_id) END, g.role "
                "FROM repo_grants g WHERE g.repo = ?1 ORDER BY 1, 2");
        s.bind(1, repo);
        std::vector<GrantRow> out;
        DERMAGA_CHECK(each_row(s, "list grants", [&](Statement& st) {
            out.push_back(GrantRow{std::string(repo), st.text(0), st.text(1), static_cast<int>(st.int64(2))});
        }));
        return out;
    });
}

Result<void> SqlAuthStore::set_visibility(std::string_view repo, std::string_view visibility) {
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        if (visibility.empty()) {
            PREPARE(d, c, "DELETE FROM repo_settings WHERE repo = ?1");
            d.bind(1, repo);
            return exec_stmt(d, "clear visibility");
        }
        PREPARE(s, c,
                "INSERT INTO repo_settings(repo, visibility) VALUES(?1, ?2) "
                "ON CONFLICT(repo) DO UPDATE SET visibility = excluded.visibility");
        s.bind(1, repo).bind(2, visibility);
        return exec_stmt(s, "set visibility");
    });
}

namespace {

// The subject's state as an integer column (1 live, 0 not, NULL: the account is gone), its
// admin flag and its namespace. A user's personal access token is checked in the same
// expression, by its primary key. ?1 subject id, ?4 subject kind, ?5 token id, ?6 now.
#define DERMAGA_SUBJECT_COLUMNS                                                                       \
    " CASE ?4 WHEN 'user' THEN (SELECT CASE WHEN u.disabled = 0 AND (?5 = 0 OR EXISTS (SELECT 1 "    \
    "           FROM access_tokens t WHERE t.id = ?5 AND t.user_id = u.id AND t.revoked = 0 "          \
    "           AND t.expires_at > ?6)) THEN 1 ELSE 0 END FROM users u WHERE u.id = ?1) "             \
    "         WHEN 'robot' THEN (SELECT CASE WHEN disabled = 0 AND ?5 = 0 AND (expires_at = 0 "      \
    "           OR expires_at > ?6) THEN 1 ELSE 0 END FROM robots WHERE id = ?1) ELSE 1 END, "       \
    " CASE ?4 WHEN 'user' THEN (SELECT admin FROM users WHERE id = ?1) ELSE 0 END, "                  \
    " CASE ?4 WHEN 'user' THEN (SELECT ns_id FROM users WHERE id = ?1) ELSE 0 END"

/// The subject state from the three columns at `at`.
SubjectState read_subject_state(Statement& s, int at) {
    const bool live = !s.is_null(at) && s.int64(at) != 0;
    return SubjectState{live, live && s.int64(at + 1) != 0, live ? s.int64(at + 2) : 0};
}

/// The bindings both statements share.
void bind_subject(Statement& s, const Subject& subject, std::int64_t now) {
    s.bind(1, subject.id).bind(4, subject.kind).bind(5, subject.token_id).bind(6, now);
}

}  // namespace

Result<SubjectState> SqlAuthStore::subject_state(const Subject& subject, std::int64_t now) {
    // One indexed read (?2 and ?3 are unused here).
    static constexpr const char* sql = "SELECT" DERMAGA_SUBJECT_COLUMNS;
    return read<SubjectState>(*db_, [&](Connection& c) -> Result<SubjectState> {
        PREPARE(s, c, sql);
        bind_subject(s, subject, now);
        DERMAGA_TRY(row, one_row<SubjectState>(s, "subject state", [](Statement& st) {
            return read_subject_state(st, 0);
        }));
        return row.value_or(SubjectState{false, false, 0});
    });
}

Result<AccessFacts> SqlAuthStore::access_facts(const Subject& subject, std::int64_t now, std::string_view ns,
                                               std::string_view repo) {
    // One statement: one snapshot and one round trip on every request that checks access.
    // ?2 namespace, ?3 repository; the subject's (see above). The roles are read whatever the
    // subject's state, but only a live non-administrator's are kept.
    static constexpr const char* sql =
        "SELECT ns.id, ns.name, ns.kind, ns.default_visibility, ns.description, ns.created_at, "
        " COALESCE((SELECT visibility FROM repo_settings WHERE repo = ?3), ''), "
        " CASE ?4 WHEN 'user' THEN (SELECT COALESCE(MAX(r), 0) FROM ("
        "           SELECT role r FROM org_members WHERE user_id = ?1 AND org_id = ns.id"
        "           UNION ALL SELECT t.role FROM teams t JOIN team_members tm ON tm.team_id = t.id"
        "           WHERE tm.user_id = ?1 AND t.org_id = ns.id) AS roles) "
        "         WHEN 'robot' THEN (SELECT COALESCE(MAX(role), 0) FROM robots "
        "           WHERE id = ?1 AND disabled = 0 AND org_id = ns.id) ELSE 0 END, "
        " CASE ?4 WHEN 'user' THEN (SELECT COALESCE(MAX(role), 0) FROM repo_grants WHERE repo = ?3 AND "
        "           ((subject_kind = 'user' AND subject_id = ?1) OR (subject_kind = 'team' AND "
        "           subject_id IN (SELECT team_id FROM team_members WHERE user_id = ?1)))) "
        "         WHEN 'robot' THEN (SELECT COALESCE(MAX(role), 0) FROM repo_grants WHERE repo = ?3 "
        "           AND subject_kind = 'robot' AND subject_id = ?1) ELSE 0 END, " DERMAGA_SUBJECT_COLUMNS
        " FROM (SELECT 1) AS one LEFT JOIN namespaces ns ON ns.name = ?2";
    return read<AccessFacts>(*db_, [&](Connection& c) -> Result<AccessFacts> {
        PREPARE(s, c, sql);
        bind_subject(s, subject, now);
        s.bind(2, ns).bind(3, repo);
        auto row = s.step();
        if (!row) {
            return db_fail(row.error(), "access facts");
        }
        if (!*row) {
            return fail(errc::db_error, "access facts: no row");
        }
        AccessFacts f;
        f.subject = read_subject_state(s, 9);
        if (!f.subject.live || f.subject.admin) {
            return f;  // the rest decides nothing
        }
        if (!s.is_null(0)) {
            f.ns = read_ns(s, 0);
        }
        f.repo_visibility = s.text(6);
        f.org_role = static_cast<int>(s.int64(7));
        f.repo_role = static_cast<int>(s.int64(8));
        return f;
    });
}

Result<Page> SqlAuthStore::readable_repositories(std::string_view kind, std::int64_t id, std::string_view last,
                                                 std::size_t n) {
    // ?2 is the subject id; the CASE picks the rule set of the subject kind (?4).
    static constexpr const char* sql =
        "SELECT r.name FROM repositories r "
        "LEFT JOIN namespaces ns ON ns.name = substr(r.name, 1, instr(r.name || '/', '/') - 1) "
        "LEFT JOIN repo_settings rs ON rs.repo = r.name "
        "WHERE r.name > ?1 AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id) AND ("
        "  ?4 = 'admin'"
        "  OR COALESCE(rs.visibility, ns.default_visibility, 'private') = 'public'"
        "  OR (?4 = 'user' AND ("
        "      ns.id = (SELECT ns_id FROM users WHERE id = ?2)"
        "      OR ns.id IN (SELECT org_id FROM org_members WHERE user_id = ?2 AND role >= 1"
        "                   UNION SELECT t.org_id FROM teams t JOIN team_members tm ON tm.team_id = t.id"
        "                   WHERE tm.user_id = ?2 AND t.role >= 1)"
        "      OR r.name IN (SELECT repo FROM repo_grants WHERE role >= 1 AND ("
        "                    (subject_kind = 'user' AND subject_id = ?2) OR (subject_kind = 'team' AND subject_id IN"
        "                    (SELECT team_id FROM team_members WHERE user_id = ?2))))))"
        "  OR (?4 = 'robot' AND ("
        "      ns.id = (SELECT org_id FROM robots WHERE id = ?2 AND role >= 1 AND disabled = 0)"
        "      OR r.name IN (SELECT repo FROM repo_grants WHERE role >= 1 AND subject_kind = 'robot'"
        "                    AND subject_id = ?2)))"
        ") ORDER BY r.name LIMIT ?3";
    return read<Page>(*db_, [&](Connection& c) -> Result<Page> {
        PREPARE(s, c, sql);
        s.bind(1, last).bind(2, id).bind(3, static_cast<std::int64_t>(n) + 1).bind(4, kind);
        return read_page(s, n, "list readable repositories");
    });
}

}  // namespace dermaga::meta
