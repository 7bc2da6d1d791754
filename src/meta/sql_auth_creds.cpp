// SqlAuthStore, part 2: robots, personal access tokens, refresh tokens, signing keys, login
// throttling and the audit trail.

#include "meta/sql_auth_store.hpp"
#include "meta/sql_helpers.hpp"

namespace dermaga::meta {

using namespace detail;

namespace {

constexpr const char* robot_select =
    "SELECT r.id, n.name, r.org_id, r.name, r.secret_hash, r.role, r.description, r.created_at, r.expires_at, "
    "r.disabled FROM robots r JOIN namespaces n ON n.id = r.org_id ";

RobotRow read_robot(Statement& s) {
    return RobotRow{s.int64(0), s.text(1), s.int64(2), s.text(3), s.text(4), static_cast<int>(s.int64(5)),
                    s.text(6),  s.int64(7), s.int64(8), s.int64(9) != 0};
}

constexpr const char* token_select =
    "SELECT t.id, t.user_id, u.name, t.name, t.secret_hash, t.scopes, t.created_at, t.expires_at, t.last_used, "
    "t.revoked FROM access_tokens t JOIN users u ON u.id = t.user_id ";

TokenRow read_token(Statement& s) {
    return TokenRow{s.int64(0), s.int64(1), s.text(2),  s.text(3),  s.text(4),
                    s.text(5),  s.int64(6), s.int64(7), s.int64(8), s.int64(9) != 0};
}

std::string sql_of(const char* head, const char* tail) { return std::string(head) + tail; }

}  // namespace

// Robots ----------------------------------------------------------------------------------

Result<RobotRow> SqlAuthStore::create_robot(const RobotRow& r) {
    return admin_write<RobotRow>(*db_, [&](Connection& c) -> Result<RobotRow> {
        std::optional<std::int64_t> oid;
        {
            PREPARE(o, c, "SELECT id FROM namespaces WHERE name = ?1 AND kind = 'org'");
            o.bind(1, r.org);
            DERMAGA_TRY(row, one_row<std::int64_t>(o, "select organisation", [](Statement& s) { return s.int64(0); }));
            oid = row;
        }
        if (!oid) {
            return fail(errc::not_found, "organisation " + r.org);
        }
        PREPARE(s, c,
                "INSERT INTO robots(org_id, name, secret_hash, role, description, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
        s.bind(1, *oid).bind(2, r.name).bind(3, r.secret_hash).bind(4, std::int64_t{r.role});
        s.bind(5, r.description).bind(6, r.created_at).bind(7, r.expires_at);
        DERMAGA_TRY(id, insert_returning_id(s, "insert robot", "robot " + r.name + " exists"));
        RobotRow out = r;
        out.org_id = *oid;
        out.id = id;
        return out;
    });
}

Result<std::optional<RobotRow>> SqlAuthStore::robot(std::string_view org, std::string_view name) {
    return read<std::optional<RobotRow>>(*db_, [&](Connection& c) -> Result<std::optional<RobotRow>> {
        static const auto sql = sql_of(robot_select, "WHERE n.name = ?1 AND r.name = ?2");
        PREPARE(s, c, sql.c_str());
        s.bind(1, org).bind(2, name);
        return one_row<RobotRow>(s, "select robot", read_robot);
    });
}

Result<std::optional<RobotRow>> SqlAuthStore::robot_by_id(std::int64_t id) {
    return read<std::optional<RobotRow>>(*db_, [&](Connection& c) -> Result<std::optional<RobotRow>> {
        static const auto sql = sql_of(robot_select, "WHERE r.id = ?1");
        PREPARE(s, c, sql.c_str());
        s.bind(1, id);
        return one_row<RobotRow>(s, "select robot", read_robot);
    });
}

Result<std::vector<RobotRow>> SqlAuthStore::robots(std::string_view org) {
    return read<std::vector<RobotRow>>(*db_, [&](Connection& c) -> Result<std::vector<RobotRow>> {
        static const auto sql = sql_of(robot_select, "WHERE n.name = ?1 ORDER BY r.name");
        PREPARE(s, c, sql.c_str());
        s.bind(1, org);
        std::vector<RobotRow> out;
        DERMAGA_CHECK(each_row(s, "list robots", [&](Statement& st) { out.push_back(read_robot(st)); }));
        return out;
    });
}

Result<bool> SqlAuthStore::delete_robot(std::string_view org, std::string_view name) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        std::optional<std::int64_t> id;
        {
            PREPARE(s, c,
                    "SELECT r.id FROM robots r JOIN namespaces n ON n.id = r.org_id WHERE n.name = ?1 AND r.name = ?2");
            s.bind(1, org).bind(2, name);
            DERMAGA_TRY(row, one_row<std::int64_t>(s, "select robot", [](Statement& st) { return st.int64(0); }));
            id = row;
        }
        if (!id) {
            return false;
        }
        for (const char* sql : {"DELETE FROM repo_grants WHERE subject_kind = 'robot' AND subject_id = ?1",
                                "DELETE FROM refresh_tokens WHERE subject_kind = 'robot' AND subject_id = ?1",
                                "DELETE FROM robots WHERE id = ?1"}) {
            PREPARE(d, c, sql);
            d.bind(1, *id);
            DERMAGA_CHECK(exec_stmt(d, sql));
        }
        return true;
    });
}

// Personal access tokens and refresh tokens -----------------------------------------------

Result<TokenRow> SqlAuthStore::create_token(const TokenRow& t) {
    return admin_write<TokenRow>(*db_, [&](Connection& c) -> Result<TokenRow> {
        PREPARE(s, c,
                "INSERT INTO access_tokens(user_id, name, secret_hash, scopes, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5, ?6) RETURNING id");
        s.bind(1, t.user_id).bind(2, t.name).bind(3, t.secret_hash).bind(4, t.scopes);
        s.bind(5, t.created_at).bind(6, t.expires_at);
        DERMAGA_TRY(id, insert_returning_id(s, "insert token", "a token named " + t.name + " exists"));
        TokenRow out = t;
        out.id = id;
        return out;
    });
}

Result<std::optional<TokenRow>> SqlAuthStore::token_by_hash(std::string_view secret_hash) {
    return read<std::optional<TokenRow>>(*db_, [&](Connection& c) -> Result<std::optional<TokenRow>> {
        static const auto sql = sql_of(token_select, "WHERE t.secret_hash = ?1");
        PREPARE(s, c, sql.c_str());
        s.bind(1, secret_hash);
        return one_row<TokenRow>(s, "select token", read_token);
    });
}

Result<std::optional<TokenRow>> SqlAuthStore::token_by_id(std::int64_t id) {
    return read<std::optional<TokenRow>>(*db_, [&](Connection& c) -> Result<std::optional<TokenRow>> {
        static const auto sql = sql_of(token_select, "WHERE t.id = ?1");
        PREPARE(s, c, sql.c_str());
        s.bind(1, id);
        return one_row<TokenRow>(s, "select token", read_token);
    });
}

Result<std::vector<TokenRow>> SqlAuthStore::tokens(std::int64_t user_id) {
    return read<std::vector<TokenRow>>(*db_, [&](Connection& c) -> Result<std::vector<TokenRow>> {
        static const auto sql = sql_of(token_select, "WHERE t.user_id = ?1 ORDER BY t.name");
        PREPARE(s, c, sql.c_str());
        s.bind(1, user_id);
        std::vector<TokenRow> out;
        DERMAGA_CHECK(each_row(s, "list tokens", [&](Statement& st) { out.push_back(read_token(st)); }));
        return out;
    });
}

Result<bool> SqlAuthStore::revoke_token(std::int64_t user_id, std::string_view name) {
    return admin_write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "UPDATE access_tokens SET revoked = 1 WHERE user_id = ?1 AND name = ?2 AND revoked = 0");
        s.bind(1, user_id).bind(2, name);
        DERMAGA_CHECK(exec_stmt(s, "revoke token"));
        const bool changed = s.changes() > 0;
        PREPARE(r, c,
                "DELETE FROM refresh_tokens WHERE subject_kind = 'pat' AND subject_id IN "
                "(SELECT id FROM access_tokens WHERE user_id = ?1 AND name = ?2)");
        r.bind(1, user_id).bind(2, name);
        DERMAGA_CHECK(exec_stmt(r, "revoke refresh tokens"));
        return changed;
    });
}

Result<void> SqlAuthStore::touch_token(std::int64_t id, std::int64_t now) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "UPDATE access_tokens SET last_used = ?2 WHERE id = ?1");
        s.bind(1, id).bind(2, now);
        return exec_stmt(s, "touch token");
    });
}

Result<void> SqlAuthStore::put_refresh(std::string_view secret_hash, const RefreshRow& r, std::int64_t now) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(d, c, "DELETE FROM refresh_tokens WHERE expires_at < ?1");
        d.bind(1, now);
        DERMAGA_CHECK(exec_stmt(d, "purge refresh tokens"));
        PREPARE(s, c,
                "INSERT INTO refresh_tokens(secret_hash, subject_kind, subject_id, created_at, expires_at) "
                "VALUES(?1, ?2, ?3, ?4, ?5)");
        s.bind(1, secret_hash).bind(2, r.subject_kind).bind(3, r.subject_id).bind(4, now).bind(5, r.expires_at);
        return exec_stmt(s, "insert refresh token");
    });
}

Result<std::optional<RefreshRow>> SqlAuthStore::refresh(std::string_view secret_hash) {
    return read<std::optional<RefreshRow>>(*db_, [&](Connection& c) -> Result<std::optional<RefreshRow>> {
        PREPARE(s, c, "SELECT subject_kind, subject_id, expires_at FROM refresh_tokens WHERE secret_hash = ?1");
        s.bind(1, secret_hash);
        return one_row<RefreshRow>(s, "select refresh token",
                                   [](Statement& st) { return RefreshRow{st.text(0), st.int64(1), st.int64(2)}; });
    });
}

Result<void> SqlAuthStore::delete_refresh_tokens(std::string_view subject_kind, std::int64_t subject_id) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM refresh_tokens WHERE subject_kind = ?1 AND subject_id = ?2");
        s.bind(1, subject_kind).bind(2, subject_id);
        return exec_stmt(s, "delete refresh tokens");
    });
}

// Signing keys ------------------------------------------------------------------------------

Result<std::vector<SigningKeyRow>> SqlAuthStore::signing_keys() {
    return read<std::vector<SigningKeyRow>>(*db_, [&](Connection& c) -> Result<std::vector<SigningKeyRow>> {
        PREPARE(s, c,
                "SELECT kid, private_pem, created_at, retired_at FROM signing_keys "
                "ORDER BY retired_at = 0 DESC, created_at DESC, kid");
        std::vector<SigningKeyRow> out;
        DERMAGA_CHECK(each_row(s, "list signing keys", [&](Statement& st) {
            out.push_back(SigningKeyRow{st.text(0), st.text(1), st.int64(2), st.int64(3)});
        }));
        return out;
    });
}

Result<void> SqlAuthStore::rotate_signing_key(const SigningKeyRow& k) {
    // SERIALIZABLE: two rotations at once must not leave two keys unretired.
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(r, c, "UPDATE signing_keys SET retired_at = ?1 WHERE retired_at = 0");
        r.bind(1, k.created_at);
        DERMAGA_CHECK(exec_stmt(r, "retire signing keys"));
        PREPARE(s, c, "INSERT INTO signing_keys(kid, private_pem, created_at) VALUES(?1, ?2, ?3)");
        s.bind(1, k.kid).bind(2, k.private_pem).bind(3, k.created_at);
        return exec_stmt(s, "insert signing key");
    });
}

Result<void> SqlAuthStore::add_first_signing_key(const SigningKeyRow& k) {
    // SERIALIZABLE: nodes starting together each see no key; only one may add theirs.
    return admin_write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c,
                "INSERT INTO signing_keys(kid, private_pem, created_at) SELECT ?1, ?2, ?3 "
                "WHERE NOT EXISTS (SELECT 1 FROM signing_keys)");
        s.bind(1, k.kid).bind(2, k.private_pem).bind(3, k.created_at);
        return exec_stmt(s, "insert signing key");
    });
}

// Login throttling ------------------------------------------------------------------------

Result<LoginState> SqlAuthStore::login_state(std::string_view key, std::int64_t now, std::int64_t window) {
    return read<LoginState>(*db_, [&](Connection& c) -> Result<LoginState> {
        PREPARE(s, c, "SELECT failures, window_start, locked_until FROM login_failures WHERE key = ?1");
        s.bind(1, key);
        DERMAGA_TRY(row, one_row<LoginState>(s, "select login state", [&](Statement& st) {
            const bool fresh = st.int64(1) + window <= now;
            return LoginState{fresh ? 0 : st.int64(0), st.int64(2)};
        }));
        return row.value_or(LoginState{});
    });
}

Result<LoginState> SqlAuthStore::login_failed(std::string_view key, std::int64_t now, std::int64_t window,
                                              std::int64_t threshold, std::int64_t lock_seconds) {
    // READ COMMITTED suffices: the upsert locks the row until commit, so concurrent failures
    // for one key count one after the other.
    return write<LoginState>(*db_, [&](Connection& c) -> Result<LoginState> {
        LoginState st;
        {
            PREPARE(s, c,
                    "INSERT INTO login_failures(key, failures, window_start) VALUES(?1, 1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET "
                    "  failures = CASE WHEN login_failures.window_start + ?3 <= ?2 THEN 1 "
                    "                  ELSE login_failures.failures + 1 END, "
                    "  window_start = CASE WHEN login_failures.window_start + ?3 <= ?2 THEN ?2 "
                    "                      ELSE login_failures.window_start END "
                    "RETURNING failures, locked_until");
            s.bind(1, key).bind(2, now).bind(3, window);
            DERMAGA_TRY(row, one_row<LoginState>(s, "count login failure",
                                                 [](Statement& r) { return LoginState{r.int64(0), r.int64(1)}; }));
            if (!row) {
                return fail(errc::db_error, "count login failure: no row");
            }
            st = *row;
        }
        if (st.failures >= threshold && st.locked_until <= now) {
            st.locked_until = now + lock_seconds;
            PREPARE(l, c,
                    "UPDATE login_failures SET locked_until = ?2, failures = 0, window_start = ?3 WHERE key = ?1");
            l.bind(1, key).bind(2, st.locked_until).bind(3, now);
            DERMAGA_CHECK(exec_stmt(l, "lock login"));
        }
        return st;
    });
}

Result<void> SqlAuthStore::login_succeeded(std::string_view key) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM login_failures WHERE key = ?1 AND locked_until = 0");
        s.bind(1, key);
        DERMAGA_CHECK(exec_stmt(s, "reset login failures"));
        PREPARE(u, c, "UPDATE login_failures SET failures = 0 WHERE key = ?1");
        u.bind(1, key);
        return exec_stmt(u, "reset login failures");
    });
}

Result<void> SqlAuthStore::login_unlock(std::string_view key) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM login_failures WHERE key = ?1");
        s.bind(1, key);
        return exec_stmt(s, "unlock login");
    });
}

// Audit -----------------------------------------------------------------------------------

Result<void> SqlAuthStore::append_audit(const std::vector<AuditRow>& rows) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        for (const auto& a : rows) {
            PREPARE(s, c,
                    "INSERT INTO audit(at, actor, actor_kind, address, action, object, outcome, detail) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
            s.bind(1, a.at).bind(2, a.actor).bind(3, a.actor_kind).bind(4, a.address);
            s.bind(5, a.action).bind(6, a.object).bind(7, a.outcome).bind(8, a.detail);
            DERMAGA_CHECK(exec_stmt(s, "insert audit entry"));
        }
        return {};
    });
}

Result<std::vector<AuditRow>> SqlAuthStore::query_audit(const AuditQuery& q) {
    return read<std::vector<AuditRow>>(*db_, [&](Connection& c) -> Result<std::vector<AuditRow>> {
        PREPARE(s, c,
                "SELECT id, at, actor, actor_kind, address, action, object, outcome, detail FROM audit WHERE "
                "(?1 = '' OR actor = ?1) AND (?2 = '' OR action = ?2) "
                "AND (?3 = '' OR substr(object, 1, length(?3)) = ?3) AND (?4 = '' OR outcome = ?4) "
                "AND (?5 = 0 OR at >= ?5) AND (?6 = 0 OR at < ?6) AND (?7 = 0 OR id < ?7) "
                "ORDER BY id DESC LIMIT ?8");
        s.bind(1, q.actor).bind(2, q.action).bind(3, q.object_prefix).bind(4, q.outcome);
        s.bind(5, q.since).bind(6, q.until).bind(7, q.before_id).bind(8, static_cast<std::int64_t>(q.limit));
        std::vector<AuditRow> out;
        DERMAGA_CHECK(each_row(s, "query audit", [&](Statement& st) {
            out.push_back(AuditRow{st.int64(0), st.int64(1), st.text(2), st.text(3), st.text(4), st.text(5),
                                   st.text(6), st.text(7), st.text(8)});
        }));
        return out;
    });
}

}  // namespace dermaga::meta
