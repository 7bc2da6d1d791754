// SqliteAuthStore, part 2: robots, personal access tokens, refresh tokens, signing keys,
// login throttling and the audit trail.

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

constexpr const char* robot_select =
    "SELECT r.id, n.name, r.org_id, r.name, r.secret_hash, r.role, r.description, r.created_at, r.expires_at, "
    "r.disabled FROM robots r JOIN namespaces n ON n.id = r.org_id ";

RobotRow read_robot(Stmt& s) {
    return RobotRow{s.int64(0), s.text(1), s.int64(2), s.text(3), s.text(4), static_cast<int>(s.int64(5)),
                    s.text(6),  s.int64(7), s.int64(8), s.int64(9) != 0};
}

constexpr const char* token_select =
    "SELECT t.id, t.user_id, u.name, t.name, t.secret_hash, t.scopes, t.created_at, t.expires_at, t.last_used, "
    "t.revoked FROM access_tokens t JOIN users u ON u.id = t.user_id ";

TokenRow read_token(Stmt& s) {
    return TokenRow{s.int64(0), s.int64(1), s.text(2),  s.text(3),  s.text(4),
                    s.text(5),  s.int64(6), s.int64(7), s.int64(8), s.int64(9) != 0};
}

std::string sql_of(const char* head, const char* tail) {
    return std::string(head) + tail;
}

}  // namespace

// Robots ----------------------------------------------------------------------------------

Result<RobotRow> SqliteAuthStore::create_robot(const RobotRow& r) {
    return pool_->write<RobotRow>([&](Connection& c) -> Result<RobotRow> {
        PREPARE(o, c, "SELECT id FROM namespaces WHERE name = ?1 AND kind = 'org'");
        o.bind(1, r.org);
        DERMAGA_TRY(oid, one_row<std::int64_t>(c, o, "select organisation", [](Stmt& s) { return s.int64(0); }));
        if (!oid) {
            return fail(errc::not_found, "organisation " + r.org);
        }
        PREPARE(s, c,
                "INSERT INTO robots(org_id, name, secret_hash, role, description, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        s.bind(1, *oid).bind(2, r.name).bind(3, r.secret_hash).bind(4, std::int64_t{r.role});
        s.bind(5, r.description).bind(6, r.created_at).bind(7, r.expires_at);
        if (s.step() != SQLITE_DONE) {
            return constraint_failed(c) ? fail(errc::conflict, "robot " + r.name + " exists")
                                        : db_fail(c, "insert robot");
        }
        RobotRow out = r;
        out.org_id = *oid;
        out.id = sqlite3_last_insert_rowid(c.raw());
        return out;
    });
}

Result<std::optional<RobotRow>> SqliteAuthStore::robot(std::string_view org, std::string_view name) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(robot_select, "WHERE n.name = ?1 AND r.name = ?2");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, org).bind(2, name);
    return one_row<RobotRow>(*c, s, "select robot", read_robot);
}

Result<std::optional<RobotRow>> SqliteAuthStore::robot_by_id(std::int64_t id) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(robot_select, "WHERE r.id = ?1");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, id);
    return one_row<RobotRow>(*c, s, "select robot", read_robot);
}

Result<std::vector<RobotRow>> SqliteAuthStore::robots(std::string_view org) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(robot_select, "WHERE n.name = ?1 ORDER BY r.name");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, org);
    std::vector<RobotRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list robots", [&](Stmt& st) { out.push_back(read_robot(st)); }));
    return out;
}

Result<bool> SqliteAuthStore::delete_robot(std::string_view org, std::string_view name) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "SELECT r.id FROM robots r JOIN namespaces n ON n.id = r.org_id WHERE n.name = ?1 AND r.name = ?2");
        s.bind(1, org).bind(2, name);
        DERMAGA_TRY(id, one_row<std::int64_t>(c, s, "select robot", [](Stmt& st) { return st.int64(0); }));
        if (!id) {
            return false;
        }
        for (const char* sql : {"DELETE FROM repo_grants WHERE subject_kind = 'robot' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'robot' AND subject_id = ?1",
                                "DELETE FROM robots WHERE id = ?1"}) {
            PREPARE(d, c, sql);
            d.bind(1, *id);
            DERMAGA_CHECK(exec_stmt(c, d, sql));
        }
        return true;
    });
}

// Personal access tokens and refresh tokens -----------------------------------------------

Result<TokenRow> SqliteAuthStore::create_token(const TokenRow& t) {
    return pool_->write<TokenRow>([&](Connection& c) -> Result<TokenRow> {
        PREPARE(s, c,
                "INSERT INTO access_tokens(user_id, name, secret_hash, scopes, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        s.bind(1, t.user_id).bind(2, t.name).bind(3, t.secret_hash).bind(4, t.scopes);
        s.bind(5, t.created_at).bind(6, t.expires_at);
        if (s.step() != SQLITE_DONE) {
            return constraint_failed(c) ? fail(errc::conflict, "a token named " + t.name + " exists")
                                        : db_fail(c, "insert token");
        }
        TokenRow out = t;
        out.id = sqlite3_last_insert_rowid(c.raw());
        return out;
    });
}

Result<std::optional<TokenRow>> SqliteAuthStore::token_by_hash(std::string_view secret_hash) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(token_select, "WHERE t.secret_hash = ?1");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, secret_hash);
    return one_row<TokenRow>(*c, s, "select token", read_token);
}

Result<std::optional<TokenRow>> SqliteAuthStore::token_by_id(std::int64_t id) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(token_select, "WHERE t.id = ?1");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, id);
    return one_row<TokenRow>(*c, s, "select token", read_token);
}

Result<std::vector<TokenRow>> SqliteAuthStore::tokens(std::int64_t user_id) {
    auto c = pool_->acquire();
    static const auto sql = sql_of(token_select, "WHERE t.user_id = ?1 ORDER BY t.name");
    PREPARE(s, *c, sql.c_str());
    s.bind(1, user_id);
    std::vector<TokenRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list tokens", [&](Stmt& st) { out.push_back(read_token(st)); }));
    return out;
}

Result<bool> SqliteAuthStore::revoke_token(std::int64_t user_id, std::string_view name) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "UPDATE access_tokens SET revoked = 1 WHERE user_id = ?1 AND name = ?2 AND revoked = 0");
        s.bind(1, user_id).bind(2, name);
        DERMAGA_CHECK(exec_stmt(c, s, "revoke token"));
        const bool changed = sqlite3_changes(c.raw()) > 0;
        PREPARE(r, c,
                "DELETE FROM refresh_tokens WHERE subject_kind = 'pat' AND subject_id IN "
                "(SELECT id FROM access_tokens WHERE user_id = ?1 AND name = ?2)");
        r.bind(1, user_id).bind(2, name);
        DERMAGA_CHECK(exec_stmt(c, r, "revoke refresh tokens"));
        return changed;
    });
}

Result<void> SqliteAuthStore::touch_token(std::int64_t id, std::int64_t now) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "UPDATE access_tokens SET last_used = ?2 WHERE id = ?1");
        s.bind(1, id).bind(2, now);
        return exec_stmt(c, s, "touch token");
    });
}

Result<void> SqliteAuthStore::put_refresh(std::string_view secret_hash, const RefreshRow& r, std::int64_t now) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(d, c, "DELETE FROM refresh_tokens WHERE expires_at < ?1");
        d.bind(1, now);
        DERMAGA_CHECK(exec_stmt(c, d, "purge refresh tokens"));
        PREPARE(s, c,
                "INSERT INTO refresh_tokens(secret_hash, subject_kind, subject_id, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5)");
        s.bind(1, secret_hash).bind(2, r.subject_kind).bind(3, r.subject_id).bind(4, now).bind(5, r.expires_at);
        return exec_stmt(c, s, "insert refresh token");
    });
}

Result<std::optional<RefreshRow>> SqliteAuthStore::refresh(std::string_view secret_hash) {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT subject_kind, subject_id, expires_at FROM refresh_tokens WHERE secret_hash = ?1");
    s.bind(1, secret_hash);
    return one_row<RefreshRow>(*c, s, "select refresh token",
                                 [](Stmt& st) { return RefreshRow{st.text(0), st.int64(1), st.int64(2)}; });
}

Result<void> SqliteAuthStore::delete_refresh_tokens(std::string_view subject_kind,
                                                    std::int64_t subject_id) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM refresh_tokens WHERE subject_kind = ?1 AND subject_id = ?2");
        s.bind(1, subject_kind).bind(2, subject_id);
        return exec_stmt(c, s, "delete refresh tokens");
    });
}

// Signing keys ------------------------------------------------------------------------------

Result<std::vector<SigningKeyRow>> SqliteAuthStore::signing_keys() {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT kid, private_pem, created_at, retired_at FROM signing_keys ORDER BY retired_at = 0 DESC, created_at DESC, kid");
    std::vector<SigningKeyRow> out;
    DERMAGA_CHECK(each_row(*c, s, "list signing keys", [&](Stmt& st) {
        out.push_back(SigningKeyRow{st.text(0), st.text(1), st.int64(2), st.int64(3)});
    }));
    return out;
}

Result<void> SqliteAuthStore::rotate_signing_key(const SigningKeyRow& k) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(r, c, "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at = 0");
        r.bind(1, k.created_at);
        DERMAGA_CHECK(exec_stmt(c, r, "retire signing keys"));
        PREPARE(s, c, "INSERT INTO signing_keys(kid, private_pem, created_at) VALUES(?1, ?2, ?3)");
        s.bind(1, k.kid).bind(2, k.private_pem).bind(3, k.created_at);
        return exec_stmt(c, s, "insert signing key");
    });
}

Result<void> SqliteAuthStore::add_first_signing_key(const SigningKeyRow& k) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c,
                "INSERT INTO signing_keys(kid, private_pem, created_at) SELECT ?1, ?2, ?3 "
                "WHERE NOT EXISTS (SELECT 1 FROM signing_keys)");
        s.bind(1, k.kid).bind(2, k.private_pem).bind(3, k.created_at);
        return exec_stmt(c, s, "insert signing key");
    });
}

// Login throttling ------------------------------------------------------------------------

Result<LoginState> SqliteAuthStore::login_state(std::string_view key, std::int64_t now, std::int64_t window) {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT failures, window_start, locked_until FROM login_failures WHERE key = ?1");
    s.bind(1, key);
    DERMAGA_TRY(row, one_row<LoginState>(*c, s, "select login state", [&](Stmt& st) {
        const bool fresh = st.int64(1) + window <= now;
        return LoginState{fresh ? 0 : st.int64(0), st.int64(2)};
    }));
    return row.value_or(LoginState{});
}

Result<LoginState> SqliteAuthStore::login_failed(std::string_view key, std::int64_t now, std::int64_t window,
                                                 std::int64_t threshold, std::int64_t lock_seconds) {
    return pool_->write<LoginState>([&](Connection& c) -> Result<LoginState> {
        PREPARE(s, c,
                "INSERT INTO login_failures(key, failures, window_start) VALUES(?1, 1, ?2) "
                "ON CONFLICT(key) DO UPDATE SET "
                "  failures = CASE WHEN window_start + ?3 <= ?2 THEN 1 ELSE failures + 1 END, "
                "  window_start = CASE WHEN window_start + ?3 <= ?2 THEN ?2 ELSE window_start END "
                "RETURNING failures, locked_until");
        s.bind(1, key).bind(2, now).bind(3, window);
        if (s.step() != SQLITE_ROW) {
            return db_fail(c, "count login failure");
        }
        LoginState st{s.int64(0), s.int64(1)};
        while (s.step() == SQLITE_ROW) {
        }
        if (st.failures >= threshold && st.locked_until <= now) {
            st.locked_until = now + lock_seconds;
            PREPARE(l, c, "UPDATE login_failures SET locked_until = ?2, failures = 0, window_start = ?3 WHERE key = ?1");
            l.bind(1, key).bind(2, st.locked_until).bind(3, now);
            DERMAGA_CHECK(exec_stmt(c, l, "lock login"));
        }
        return st;
    });
}

Result<void> SqliteAuthStore::login_succeeded(std::string_view key) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM login_failures WHERE key = ?1 AND locked_until = 0");
        s.bind(1, key);
        DERMAGA_CHECK(exec_stmt(c, s, "reset login failures"));
        PREPARE(u, c, "UPDATE login_failures SET failures = 0 WHERE key = ?1");
        u.bind(1, key);
        return exec_stmt(c, u, "reset login failures");
    });
}

Result<void> SqliteAuthStore::login_unlock(std::string_view key) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM login_failures WHERE key = ?1");
        s.bind(1, key);
        return exec_stmt(c, s, "unlock login");
    });
}

// Audit -----------------------------------------------------------------------------------

Result<void> SqliteAuthStore::append_audit(const std::vector<AuditRow>& rows) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        for (const auto& a : rows) {
            PREPARE(s, c,
                    "INSERT INTO audit(at, actor, actor_kind, address, action, object, outcome, detail) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            s.bind(1, a.at).bind(2, a.actor).bind(3, a.actor_kind).bind(4, a.address);
            s.bind(5, a.action).bind(6, a.object).bind(7, a.outcome).bind(8, a.detail);
            DERMAGA_CHECK(exec_stmt(c, s, "insert audit entry"));
        }
        return {};
    });
}

Result<std::vector<AuditRow>> SqliteAuthStore::query_audit(const AuditQuery& q) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT id, at, actor, actor_kind, address, action, object, outcome, detail FROM audit WHERE "
            "(?1 = '' OR actor = ?1) AND (?2 = '' OR action = ?2) AND (?3 = '' OR substr(object, 1, length(?3)) = ?3) "
            "AND (?4 = '' OR outcome = ?4) AND (?5 = 0 OR at >= ?5) AND (?6 = 0 OR at < ?6) AND (?7 = 0 OR id < ?7) "
            "ORDER BY id DESC LIMIT ?8");
    s.bind(1, q.actor).bind(2, q.action).bind(3, q.object_prefix).bind(4, q.outcome);
    s.bind(5, q.since).bind(6, q.until).bind(7, q.before_id).bind(8, static_cast<std::int64_t>(q.limit));
    std::vector<AuditRow> out;
    DERMAGA_CHECK(each_row(*c, s, "query audit", [&](Stmt& st) {
        out.push_back(AuditRow{st.int64(0), st.int64(1), st.text(2), st.text(3), st.text(4), st.text(5), st.text(6),
                               st.text(7), st.text(8)});
    }));
    return out;
}

}  // namespace dermaga::meta
