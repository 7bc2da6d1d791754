// SqliteAuthStore, part 1: users, namespaces, memberships, teams, grants and access facts.
// Part 2 (sqlite_auth_creds.cpp): robots, tokens, signing keys, login throttling, audit.

#include <algorithm>
#include <cctype>

#include "meta/sqlite/helpers.hpp"
#include "meta/sql_auth_store.hpp"

namespace dermaga::meta {

using sqlite::Connection;
using sqlite::db_fail;
using sqlite::each_row;
using sqlite::exec_stmt;
using sqlite::one_row;
using sqlite::constraint_failed;
using sqlite::Stmt;

namespace {

constexpr const char* user_cols = "id, name, ns_id, password_hash, email, admin, disabled, source, created_at";

UserRow read_user(Stmt& s) {
    return UserRow{s.int64(0), s.text(1), s.int64(2), s.text(3), s.text(4), s.int64(5) != 0, s.int64(6) != 0,
                   s.text(7), s.int64(8)};
}

constexpr const char* ns_cols = "id, name, kind, default_visibility, description, created_at";

NamespaceRow read_ns(Stmt& s) {
    return NamespaceRow{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)};
}

Result<std::optional<NamespaceRow>> find_ns(Connection& c, std::string_view name) {
    static const std::string sql = std::string("SELECT ") + ns_cols + " FROM namespaces WHERE name = ?1";
    PREPARE(s, c, sql.c_str());
    s.bind(1, name);
    return one_row<NamespaceRow>(c, s, "select namespace", read_ns);
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
    DERMAGA_TRY(id, one_row<std::int64_t>(c, s, "select user", [](Stmt& st) { return st.int64(0); }));
    if (!id) {
        return fail(errc::not_found, "user " + std::string(name));
    }
    return *id;
}

Result<std::int64_t> team_id(Connection& c, std::int64_t org, std::string_view team) {
    PREPARE(s, c, "SELECT id FROM teams WHERE org_id = ?1 AND name = ?2");
    s.bind(1, org).bind(2, team);
    DERMAGA_TRY(id, one_row<std::int64_t>(c, s, "select team", [](Stmt& st) { return st.int64(0); }));
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
    if (s.step() != SQLITE_ROW) {
        return db_fail(c, "count repositories");
    }
    if (auto n = s.int64(0); n > 0) {
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
        DERMAGA_CHECK(exec_stmt(c, s, sql));
    }
    return {};
}

Result<void> delete_repo_settings(Connection& c, std::string_view ns) {
    for (const char* sql : {"DELETE FROM repo_grants WHERE repo = ?1 OR (repo >= ?1 || '/' AND repo < ?1 || '0')",
                            "DELETE FROM repo_settings WHERE repo = ?1 OR (repo >= ?1 || '/' AND repo < ?1 || '0')"}) {
        PREPARE(s, c, sql);
        s.bind(1, ns);
        DERMAGA_CHECK(exec_stmt(c, s, sql));
    }
    return {};
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return s;
}

}  // namespace

// Users -----------------------------------------------------------------------------------

Result<UserRow> SqliteAuthStore::create_user(const UserRow& u) {
    return pool_->write<UserRow>([&](Connection& c) -> Result<UserRow> {
        UserRow out = u;
        {
            PREPARE(s, c, "INSERT INTO namespaces(name, kind, created_at) VALUES(?1, 'user', ?2)");
            s.bind(1, u.name).bind(2, u.created_at);
            if (s.step() != SQLITE_DONE) {
                return constraint_failed(c) ? fail(errc::conflict, "the name " + u.name + " is taken")
                                            : db_fail(c, "insert namespace");
            }
            out.ns_id = sqlite3_last_insert_rowid(c.raw());
        }
        PREPARE(s, c,
                "INSERT INTO users(name, ns_id, password_hash, email, admin, disabled, source, created_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        s.bind(1, u.name).bind(2, out.ns_id).bind(3, u.password_hash).bind(4, u.email);
        s.bind(5, std::int64_t{u.admin}).bind(6, std::int64_t{u.disabled}).bind(7, u.source).bind(8, u.created_at);
        DERMAGA_CHECK(exec_stmt(c, s, "insert user"));
        out.id = sqlite3_last_insert_rowid(c.raw());
        return out;
    });
}

Result<std::optional<UserRow>> SqliteAuthStore::user(std::string_view name) {
    auto c = pool_->acquire();
    static const std::string sql = std::string("SELECT ") + user_cols + " FROM users WHERE name = ?1";
    PREPARE(s, *c, sql.c_str());
    s.bind(1, name);
    return one_row<UserRow>(*c, s, "select user", read_user);
}

Result<std::optional<UserRow>> SqliteAuthStore::user_by_id(std::int64_t id) {
    auto c = pool_->acquire();
    static const std::string sql = std::string("SELECT ") + user_cols + " FROM users WHERE id = ?1";
    PREPARE(s, *c, sql.c_str());
    s.bind(1, id);
    return one_row<UserRow>(*c, s, "select user", read_user);
}

Result<std::vector<UserRow>> SqliteAuthStore::users() {
    auto c = pool_->acquire();
    static const std::string sql = std::string("SELECT ") + user_cols + " FROM users ORDER BY name";
    PREPARE(s, *c, sql.c_str());
    std::vector<UserRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list users", [&](Stmt& st) { out.push_back(read_user(st)); }));
    return out;
}

Result<bool> SqliteAuthStore::update_user(const UserRow& u) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "UPDATE users SET password_hash = ?2, email = ?3, admin = ?4, disabled = ?5 WHERE id = ?1");
        s.bind(1, u.id).bind(2, u.password_hash).bind(3, u.email);
        s.bind(4, std::int64_t{u.admin}).bind(5, std::int64_t{u.disabled});
        DERMAGA_CHECK(exec_stmt(c, s, "update user"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<bool> SqliteAuthStore::delete_user(std::string_view name) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "SELECT id, ns_id FROM users WHERE name = ?1");
        s.bind(1, name);
        int rc = s.step();
        if (rc == SQLITE_DONE) {
            return false;
        }
        if (rc != SQLITE_ROW) {
            return db_fail(c, "select user");
        }
        const auto id = s.int64(0);
        const auto ns = s.int64(1);
        DERMAGA_CHECK(require_empty_namespace(c, name));
        DERMAGA_CHECK(exec_all(c, id,
                               {"DELETE FROM org_members WHERE user_id = ?1", "DELETE FROM team_members WHERE user_id = ?1",
                                "DELETE FROM repo_grants WHERE subject_kind = 'user' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'user' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'pat' AND subject_id IN "
                                "(SELECT id FROM access_tokens WHERE user_id = ?1)",
                                "DELETE FROM access_tokens WHERE user_id = ?1", "DELETE FROM users WHERE id = ?1"}));
        DERMAGA_CHECK(exec_all(c, ns, {"DELETE FROM namespaces WHERE id = ?1"}));
        DERMAGA_CHECK(delete_repo_settings(c, name));
        return true;
    });
}

Result<std::int64_t> SqliteAuthStore::count_admins() {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT COUNT(*) FROM users WHERE admin = 1 AND disabled = 0");
    if (s.step() != SQLITE_ROW) {
        return db_fail(*c, "count admins");
    }
    return s.int64(0);
}

// Organisations ---------------------------------------------------------------------------

Result<NamespaceRow> SqliteAuthStore::create_org(const NamespaceRow& org) {
    return pool_->write<NamespaceRow>([&](Connection& c) -> Result<NamespaceRow> {
        PREPARE(s, c,
                "INSERT INTO namespaces(name, kind, default_visibility, description, created_at) "
                "VALUES(?1, 'org', ?2, ?3, ?4)");
        s.bind(1, org.name).bind(2, org.default_visibility).bind(3, org.description).bind(4, org.created_at);
        if (s.step() != SQLITE_DONE) {
            return constraint_failed(c) ? fail(errc::conflict, "the name " + org.name + " is taken")
                                        : db_fail(c, "insert organisation");
        }
        NamespaceRow out = org;
        out.kind = "org";
        out.id = sqlite3_last_insert_rowid(c.raw());
        return out;
    });
}

Result<std::optional<NamespaceRow>> SqliteAuthStore::namespace_row(std::string_view name) {
    auto c = pool_->acquire();
    return find_ns(*c, name);
}

Result<std::vector<NamespaceRow>> SqliteAuthStore::orgs() {
    auto c = pool_->acquire();
    static const std::string sql = std::string("SELECT ") + ns_cols + " FROM namespaces WHERE kind = 'org' ORDER BY name";
    PREPARE(s, *c, sql.c_str());
    std::vector<NamespaceRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list organisations", [&](Stmt& st) { out.push_back(read_ns(st)); }));
    return out;
}

Result<bool> SqliteAuthStore::update_org(const NamespaceRow& org) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "UPDATE namespaces SET default_visibility = ?2, description = ?3 WHERE name = ?1 AND kind = 'org'");
        s.bind(1, org.name).bind(2, org.default_visibility).bind(3, org.description);
        DERMAGA_CHECK(exec_stmt(c, s, "update organisation"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<bool> SqliteAuthStore::delete_org(std::string_view name) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
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

Result<void> SqliteAuthStore::set_member(std::string_view org, std::string_view user, int role) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(s, c,
                "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(org_id, user_id) DO UPDATE SET role = excluded.role");
        s.bind(1, o).bind(2, u).bind(3, std::int64_t{role});
        return exec_stmt(c, s, "set member");
    });
}

Result<bool> SqliteAuthStore::remove_member(std::string_view org, std::string_view user) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(t, c, "DELETE FROM team_members WHERE user_id = ?2 AND team_id IN (SELECT id FROM teams WHERE org_id = ?1)");
        t.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(c, t, "remove team memberships"));
        PREPARE(s, c, "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2");
        s.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(c, s, "remove member"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<std::vector<MemberRow>> SqliteAuthStore::members(std::string_view org) {
    auto c = pool_->acquire();
    DERMAGA_TRY(o, org_id(*c, org));
    PREPARE(s, *c, "SELECT u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY u.name");
    s.bind(1, o);
    std::vector<MemberRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list members", [&](Stmt& st) {
        out.push_back(MemberRow{st.text(0), static_cast<int>(st.int64(1))});
    }));
    return out;
}

Result<std::vector<std::string>> SqliteAuthStore::orgs_of(std::int64_t uid) {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT n.name FROM org_members m JOIN namespaces n ON n.id = m.org_id WHERE m.user_id = ?1 ORDER BY n.name");
    s.bind(1, uid);
    std::vector<std::string> out;
    DERMAGA_CHECK(each_row(*c, s, "list user organisations", [&](Stmt& st) { out.push_back(st.text(0)); }));
    return out;
}

Result<void> SqliteAuthStore::put_team(const TeamRow& t) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, t.org));
        PREPARE(s, c,
                "INSERT INTO teams(org_id, name, role, ldap_group, created_at) VALUES(?1, ?2, ?3, ?4, strftime('%s')) "
                "ON CONFLICT(org_id, name) DO UPDATE SET role = excluded.role, ldap_group = excluded.ldap_group");
        s.bind(1, o).bind(2, t.name).bind(3, std::int64_t{t.role}).bind(4, t.ldap_group);
        return exec_stmt(c, s, "put team");
    });
}

Result<bool> SqliteAuthStore::delete_team(std::string_view org, std::string_view team) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
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

Result<std::vector<TeamRow>> SqliteAuthStore::teams(std::string_view org) {
    auto c = pool_->acquire();
    DERMAGA_TRY(o, org_id(*c, org));
    PREPARE(s, *c, "SELECT id, name, role, ldap_group FROM teams WHERE org_id = ?1 ORDER BY name");
    s.bind(1, o);
    std::vector<TeamRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list teams", [&](Stmt& st) {
        out.push_back(TeamRow{st.int64(0), std::string(org), st.text(1), static_cast<int>(st.int64(2)), st.text(3), {}});
    }));
    for (auto& t : out) {
        PREPARE(m, *c, "SELECT u.name FROM team_members tm JOIN users u ON u.id = tm.user_id WHERE tm.team_id = ?1 ORDER BY u.name");
        m.bind(1, t.id);
        DERMAGA_CHECK(each_row(*c, m, "list team members", [&](Stmt& st) { t.members.push_back(st.text(0)); }));
    }
    return out;
}

Result<void> SqliteAuthStore::add_team_member(std::string_view org, std::string_view team, std::string_view user) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(t, team_id(c, o, team));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(m, c, "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, 0) ON CONFLICT DO NOTHING");
        m.bind(1, o).bind(2, u);
        DERMAGA_CHECK(exec_stmt(c, m, "add member"));
        PREPARE(s, c, "INSERT INTO team_members(team_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING");
        s.bind(1, t).bind(2, u);
        return exec_stmt(c, s, "add team member");
    });
}

Result<bool> SqliteAuthStore::remove_team_member(std::string_view org, std::string_view team, std::string_view user) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(o, org_id(c, org));
        DERMAGA_TRY(t, team_id(c, o, team));
        DERMAGA_TRY(u, user_id(c, user));
        PREPARE(s, c, "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2");
        s.bind(1, t).bind(2, u);
        DERMAGA_CHECK(exec_stmt(c, s, "remove team member"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<void> SqliteAuthStore::sync_ldap_teams(std::int64_t uid, const std::vector<std::string>& group_dns) {
    std::vector<std::string> wanted;
    for (const auto& g : group_dns) {
        wanted.push_back(lower(g));
    }
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "SELECT id, org_id, ldap_group FROM teams WHERE ldap_group != ''");
        std::vector<std::tuple<std::int64_t, std::int64_t, bool>> teams;
        DERMAGA_CHECK(each_row(c, s, "list ldap teams", [&](Stmt& st) {
            bool in = std::find(wanted.begin(), wanted.end(), lower(st.text(2))) != wanted.end();
            teams.emplace_back(st.int64(0), st.int64(1), in);
        }));
        for (auto [tid, oid, in] : teams) {
            if (in) {
                PREPARE(m, c, "INSERT INTO org_members(org_id, user_id, role) VALUES(?1, ?2, 0) ON CONFLICT DO NOTHING");
                m.bind(1, oid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(c, m, "add member"));
                PREPARE(a, c, "INSERT INTO team_members(team_id, user_id) VALUES(?1, ?2) ON CONFLICT DO NOTHING");
                a.bind(1, tid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(c, a, "add team member"));
            } else {
                PREPARE(d, c, "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2");
                d.bind(1, tid).bind(2, uid);
                DERMAGA_CHECK(exec_stmt(c, d, "remove team member"));
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
    DERMAGA_TRY(id, one_row<std::int64_t>(c, s, "select robot", [](Stmt& st) { return st.int64(0); }));
    if (!id) {
        return fail(errc::not_found, "robot " + std::string(name));
    }
    return *id;
}

}  // namespace

Result<void> SqliteAuthStore::set_grant(const GrantRow& g) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(id, subject_id(c, g.subject_kind, g.subject, g.repo));
        PREPARE(s, c,
                "INSERT INTO repo_grants(repo, subject_kind, subject_id, role) VALUES(?1, ?2, ?3, ?4) "
                "ON CONFLICT(repo, subject_kind, subject_id) DO UPDATE SET role = excluded.role");
        s.bind(1, g.repo).bind(2, g.subject_kind).bind(3, id).bind(4, std::int64_t{g.role});
        return exec_stmt(c, s, "set grant");
    });
}

Result<bool> SqliteAuthStore::remove_grant(std::string_view repo, std::string_view kind, std::string_view subject) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        auto id = subject_id(c, kind, subject, repo);
        if (!id) {
            return id.error().code == errc::not_found ? Result<bool>(false) : tl::unexpected(id.error());
        }
        PREPARE(s, c, "DELETE FROM repo_grants WHERE repo = ?1 AND subject_kind = ?2 AND subject_id = ?3");
        s.bind(1, repo).bind(2, kind).bind(3, *id);
        DERMAGA_CHECK(exec_stmt(c, s, "remove grant"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<std::vector<GrantRow>> SqliteAuthStore::grants(std::string_view repo) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT g.subject_kind, CASE g.subject_kind "
            "  WHEN 'user' THEN (SELECT name FROM users WHERE id = g.subject_id) "
            "  WHEN 'team' THEN (SELECT n.name || '/' || t.name FROM teams t JOIN namespaces n ON n.id = t.org_id "
            "                    WHERE t.id = g.subject_id) "
            "  ELSE (SELECT n.name || '+' || r.name FROM robots r JOIN namespaces n ON n.id = r.org_id "
            "        WHERE r.id = g.subject_id) END, g.role "
            "FROM repo_grants g WHERE g.repo = ?1 ORDER BY 1, 2");
    s.bind(1, repo);
    std::vector<GrantRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list grants", [&](Stmt& st) {
        out.push_back(GrantRow{std::string(repo), st.text(0), st.text(1), static_cast<int>(st.int64(2))});
    }));
    return out;
}

Result<void> SqliteAuthStore::set_visibility(std::string_view repo, std::string_view visibility) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        if (visibility.empty()) {
            PREPARE(d, c, "DELETE FROM repo_settings WHERE repo = ?1");
            d.bind(1, repo);
            return exec_stmt(c, d, "clear visibility");
        }
        PREPARE(s, c,
                "INSERT INTO repo_settings(repo, visibility) VALUES(?1, ?2) "
                "ON CONFLICT(repo) DO UPDATE SET visibility = excluded.visibility");
        s.bind(1, repo).bind(2, visibility);
        return exec_stmt(c, s, "set visibility");
    });
}

namespace {

/// One indexed read of the subject row. A user's personal access token is checked in the same
/// statement (by its primary key), so re-checking the credential behind a bearer token costs
/// no extra round trip.
Result<SubjectState> read_subject(Connection& c, const Subject& subject, std::int64_t now) {
    if (subject.kind != "user" && subject.kind != "robot") {
        return SubjectState{};  // anonymous
    }
    PREPARE(
        s, c,
        subject.kind == "user"
            ? "SELECT u.disabled = 0 AND (?2 = 0 OR EXISTS (SELECT 1 FROM access_tokens t WHERE "
              "t.id = ?2 "
              "AND t.user_id = u.id AND t.revoked = 0 AND t.expires_at > ?3)), u.admin, u.ns_id "
              "FROM users u WHERE u.id = ?1"
            : "SELECT disabled = 0 AND ?2 = 0 AND (expires_at = 0 OR expires_at > ?3), 0, 0 "
              "FROM robots WHERE id = ?1");
    s.bind(1, subject.id).bind(2, subject.token_id).bind(3, now);
    auto read = [](Stmt& st) {
        const bool live = st.int64(0) != 0;
        return SubjectState{live, live && st.int64(1) != 0, live ? st.int64(2) : 0};
    };
    DERMAGA_TRY(row, one_row<SubjectState>(c, s, "select subject", read));
    return row.value_or(SubjectState{false, false, 0});
}

}  // namespace

Result<SubjectState> SqliteAuthStore::subject_state(const Subject& subject, std::int64_t now) {
    auto c = pool_->acquire();
    return read_subject(*c, subject, now);
}

Result<AccessFacts> SqliteAuthStore::access_facts(const Subject& subject, std::int64_t now,
                                                  std::string_view ns, std::string_view repo) {
    auto c = pool_->acquire();
    AccessFacts f;
    DERMAGA_TRY(state, read_subject(*c, subject, now));
    f.subject = state;
    if (!f.subject.live || f.subject.admin) {
        return f;
    }
    DERMAGA_TRY(row, find_ns(*c, ns));
    f.ns = std::move(row);
    {
        PREPARE(s, *c, "SELECT visibility FROM repo_settings WHERE repo = ?1");
        s.bind(1, repo);
        DERMAGA_TRY(v, one_row<std::string>(*c, s, "select visibility", [](Stmt& st) { return st.text(0); }));
        f.repo_visibility = v.value_or("");
    }
    const std::int64_t ns_id = f.ns ? f.ns->id : -1;
    const std::int64_t id = subject.id;
    // The best role a query finds. ?1 is the subject id, ?2 the namespace id, ?3 the repository;
    // a query need not use all three (binding an index it lacks is a harmless SQLITE_RANGE).
    auto best_role = [&](const char* sql) -> Result<int> {
        PREPARE(s, *c, sql);
        s.bind(1, id).bind(2, ns_id).bind(3, repo);
        if (s.step() != SQLITE_ROW) {
            return db_fail(*c, "select role");
        }
        return static_cast<int>(s.int64(0));
    };
    if (subject.kind == "user") {
        DERMAGA_TRY(org_role, best_role("SELECT COALESCE(MAX(r), 0) FROM ("
                                        " SELECT role r FROM org_members WHERE user_id = ?1 AND org_id = ?2"
                                        " UNION ALL SELECT t.role FROM teams t JOIN team_members tm ON tm.team_id = t.id"
                                        " WHERE tm.user_id = ?1 AND t.org_id = ?2)"));
        DERMAGA_TRY(repo_role, best_role("SELECT COALESCE(MAX(role), 0) FROM repo_grants WHERE repo = ?3 AND "
                                         "((subject_kind = 'user' AND subject_id = ?1) OR (subject_kind = 'team' AND "
                                         "subject_id IN (SELECT team_id FROM team_members WHERE user_id = ?1)))"));
        f.org_role = org_role;
        f.repo_role = repo_role;
    } else if (subject.kind == "robot") {
        DERMAGA_TRY(org_role, best_role("SELECT COALESCE(MAX(role), 0) FROM robots WHERE id = ?1 AND disabled = 0 "
                                        "AND org_id = ?2"));
        DERMAGA_TRY(repo_role, best_role("SELECT COALESCE(MAX(role), 0) FROM repo_grants WHERE repo = ?3 "
                                         "AND subject_kind = 'robot' AND subject_id = ?1"));
        f.org_role = org_role;
        f.repo_role = repo_role;
    }
    return f;
}

Result<Page> SqliteAuthStore::readable_repositories(std::string_view kind, std::int64_t id, std::string_view last,
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
    auto c = pool_->acquire();
    PREPARE(s, *c, sql);
    s.bind(1, last).bind(2, id).bind(3, static_cast<std::int64_t>(n) + 1).bind(4, kind);
    return sqlite::read_page(*c, s, n, "list readable repositories");
}

}  // namespace dermaga::meta
