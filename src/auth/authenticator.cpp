#include "auth/authenticator.hpp"

#include <sodium.h>

#include "auth/errors.hpp"
#include "core/digest.hpp"
#include "core/names.hpp"

namespace dermaga::auth {

namespace {

constexpr std::int64_t cache_seconds = 60;
constexpr std::size_t cache_max = 10000;

bool same(std::string_view a, std::string_view b) {
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

tl::unexpected<Error> wrong() {
    return fail(errc::unauthenticated, "invalid username or password");
}

bool live_robot(const meta::RobotRow& r, std::int64_t now) {
    return !r.disabled && (r.expires_at == 0 || r.expires_at > now);
}

bool live_token(const meta::TokenRow& t, std::int64_t now) {
    return !t.revoked && t.expires_at > now;
}

Principal robot_principal(const meta::RobotRow& r) {
    Principal p;
    p.kind = Principal::Kind::robot;
    p.id = r.id;
    p.name = r.org + "+" + r.name;
    p.method = "robot";
    return p;
}

}  // namespace

Principal user_principal(const meta::UserRow& u, std::string method) {
    Principal p;
    p.kind = Principal::Kind::user;
    p.id = u.id;
    p.name = u.name;
    p.admin = u.admin;
    p.method = std::move(method);
    return p;
}

Authenticator::Authenticator(meta::AuthStore& store, const Clock& clock, AuditLog& audit,
                             LoginOptions options, ExternalLogin external,
                             const PasswordHasher& hasher)
    : store_(store),
      clock_(clock),
      audit_(audit),
      options_(options),
      external_(std::move(external)),
      hasher_(hasher) {}

bool Authenticator::slow_check(std::string_view secret, std::string_view hash) {
    if (!hash.empty()) {
        return hasher_.verify(secret, hash);
    }
    // No hash to check against (an unknown name, an account without a password): spend the
    // same work on a stand-in made with the current parameters, so timing reveals nothing.
    std::call_once(stand_in_once_,
                   [&] { stand_in_ = hasher_.hash("not-a-real-password").value_or(""); });
    hasher_.verify(secret, stand_in_);
    return false;
}

void Authenticator::audit(std::string_view actor, std::string_view kind, std::string_view address,
                          std::string_view outcome, std::string_view detail) {
    meta::AuditRow row;
    row.actor = std::string(actor);
    row.actor_kind = std::string(kind);
    row.address = std::string(address);
    row.action = "login";
    row.outcome = std::string(outcome);
    row.detail = std::string(detail);
    audit_.record(std::move(row));
}

Result<Authenticator::Checked> Authenticator::check_user(std::string_view user, std::string_view secret) {
    DERMAGA_TRY(row, lifted(store_.user(user)));
    if (row && row->source == "local") {
        // One slow check whatever the account's state, so timing does not tell disabled
        // accounts (or ones without a password) from others.
        const bool ok = slow_check(secret, row->password_hash);
        if (!ok || row->disabled) {
            return wrong();
        }
        return Checked{user_principal(*row, "password"), row->password_hash};
    }
    if (!external_) {
        // An unknown name, or a directory account while no directory is configured: the same
        // single slow check as a wrong password.
        slow_check(secret, {});
        return wrong();
    }
    DERMAGA_TRY(ident, external_(user, secret));
    if (!ident) {
        return wrong();
    }
    if (!row) {
        if (!valid_account_name(ident->username)) {
            return fail(errc::unauthenticated, "directory user name is not a valid namespace name");
        }
        meta::UserRow u;
        u.name = ident->username;
        u.email = ident->email;
        u.source = "ldap";
        u.created_at = clock_.now_unix();
        DERMAGA_TRY(created, lifted(store_.create_user(u)));
        row = created;
    }
    if (row->disabled) {
        return wrong();
    }
    DERMAGA_CHECK(lifted(store_.sync_ldap_teams(row->id, ident->group_dns)));
    return Checked{user_principal(*row, "ldap"), "ldap"};
}

Result<Authenticator::Checked> Authenticator::check(std::string_view user, std::string_view secret) {
    const auto now = clock_.now_unix();
    if (user.empty() || secret.empty()) {
        return wrong();
    }
    if (auto plus = user.find('+'); plus != std::string_view::npos) {
        DERMAGA_TRY(r, lifted(store_.robot(user.substr(0, plus), user.substr(plus + 1))));
        const auto h = secret_hash(secret);
        if (!r || !same(h, r->secret_hash) || !live_robot(*r, now)) {
            return wrong();
        }
        return Checked{robot_principal(*r), r->secret_hash};
    }
    if (secret.substr(0, pat_prefix.size()) == pat_prefix) {
        DERMAGA_TRY(t, lifted(store_.token_by_hash(secret_hash(secret))));
        if (!t || t->user != user || !live_token(*t, now)) {
            return wrong();
        }
        DERMAGA_TRY(u, lifted(store_.user_by_id(t->user_id)));
        if (!u || u->disabled) {
            return wrong();
        }
        auto p = user_principal(*u, "token");
        p.scope = parse_token_scopes(t->scopes).value_or(0);
        p.token_id = t->id;
        if (t->last_used + 60 < now) {
            (void)store_.touch_token(t->id, now);
        }
        return Checked{std::move(p), t->secret_hash};
    }
    return check_user(user, secret);
}

Result<Principal> Authenticator::revalidate(const Checked& c) {
    const auto now = clock_.now_unix();
    const auto& p = c.principal;
    if (p.kind == Principal::Kind::robot) {
        DERMAGA_TRY(r, lifted(store_.robot_by_id(p.id)));
        if (!r || !live_robot(*r, now) || r->secret_hash != c.fingerprint) {
            return wrong();
        }
        return p;
    }
    if (p.token_id != 0) {
        DERMAGA_TRY(t, lifted(store_.token_by_id(p.token_id)));
        if (!t || !live_token(*t, now)) {
            return wrong();
        }
    }
    DERMAGA_TRY(u, lifted(store_.user_by_id(p.id)));
    if (!u || u->disabled || (p.method == "password" && u->password_hash != c.fingerprint)) {
        return wrong();
    }
    auto out = p;
    out.admin = u->admin;
    return out;
}

AuthMethod credential_method(std::string_view user, std::string_view secret) {
    if (user.find('+') != std::string_view::npos) {
        return AuthMethod::robot;
    }
    return secret.substr(0, pat_prefix.size()) == pat_prefix ? AuthMethod::token : AuthMethod::password;
}

Result<Principal> Authenticator::counted(AuthMethod m, Result<Principal> r) {
    const auto o = r                                        ? AuthOutcome::success
                   : r.error().code == errc::unauthenticated ? AuthOutcome::failure
                   : r.error().code == errc::locked          ? AuthOutcome::locked
                                                             : AuthOutcome::error;
    attempts.inc(m, o);
    return r;
}

Result<Principal> Authenticator::login(std::string_view user, std::string_view secret, std::string_view address) {
    return counted(credential_method(user, secret), login_uncounted(user, secret, address));
}

Result<Principal> Authenticator::basic(std::string_view user, std::string_view secret, std::string_view address) {
    return counted(credential_method(user, secret), basic_uncounted(user, secret, address));
}

Result<Principal> Authenticator::certificate(std::string_view cn, std::string_view address) {
    return counted(AuthMethod::certificate, certificate_uncounted(cn, address));
}

Result<Principal> Authenticator::refreshed(const meta::RefreshRow& row) {
    return counted(AuthMethod::refresh, refreshed_uncounted(row));
}

Result<Principal> Authenticator::login_uncounted(std::string_view user, std::string_view secret,
                                                 std::string_view address) {
    DERMAGA_TRY(checked, login_checked(user, secret, address));
    return std::move(checked.principal);
}

Result<Authenticator::Checked> Authenticator::login_checked(std::string_view user, std::string_view secret,
                                                            std::string_view address) {
    const auto now = clock_.now_unix();
    const std::string user_key = "user:" + std::string(user);
    const std::string ip_key = "ip:" + std::string(address);
    for (const auto* key : {&user_key, &ip_key}) {
        DERMAGA_TRY(st, lifted(store_.login_state(*key, now, options_.window)));
        if (st.locked_until > now) {
            audit(user, "user", address, "locked", *key);
            return fail(errc::locked, std::to_string(st.locked_until - now));
        }
    }
    auto checked = check(user, secret);
    if (checked) {
        DERMAGA_CHECK(lifted(store_.login_succeeded(user_key)));
        audit(checked->principal.name, checked->principal.kind_name(), address, "success", checked->principal.method);
        return checked;
    }
    if (checked.error().code != errc::unauthenticated) {
        audit(user, "user", address, "error", checked.error().detail);
        return tl::unexpected(checked.error());
    }
    DERMAGA_TRY(us, lifted(store_.login_failed(user_key, now, options_.window,
                                               options_.user_threshold, options_.lock_seconds)));
    DERMAGA_TRY(is, lifted(store_.login_failed(ip_key, now, options_.window, options_.ip_threshold,
                                               options_.lock_seconds)));
    audit(user, "user", address, "failed", checked.error().detail);
    for (const auto& [key, st] : {std::pair{&user_key, us}, std::pair{&ip_key, is}}) {
        if (st.locked_until > now) {
            // Remembered Basic credentials must not outlive a lockout on this node.
            std::lock_guard lock(mu_);
            cache_.clear();
            audit(user, "user", address, "lockout", *key + " locked for " + std::to_string(st.locked_until - now) + "s");
            lockouts.inc(key == &user_key ? 0 : 1);  // user, address
        }
    }
    const bool slow = us.failures >= options_.slow_after || is.failures >= options_.slow_after || us.locked_until > now;
    return fail(errc::unauthenticated, slow ? "slow" : "");
}

std::optional<Authenticator::Checked> Authenticator::recall(const std::string& key, std::int64_t now) {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end() && it->second.until > now) {
        return it->second.checked;
    }
    return std::nullopt;
}

void Authenticator::remember(const std::string& key, Checked checked, std::int64_t now) {
    std::lock_guard lock(mu_);
    if (cache_.size() >= cache_max) {
        cache_.clear();  // bounded; only costs a re-check
    }
    cache_[key] = CacheEntry{std::move(checked), now + cache_seconds};
}

Result<Principal> Authenticator::basic_uncounted(std::string_view user, std::string_view secret,
                                                 std::string_view address) {
    std::string key = std::string(user);
    key.push_back('\0');
    key.append(secret);
    key = std::string(digest_of(key).hex());
    const auto now = clock_.now_unix();
    if (auto hit = recall(key, now)) {
        auto p = revalidate(*hit);
        if (p || p.error().code != errc::unauthenticated) {
            return p;
        }
        std::lock_guard lock(mu_);
        cache_.erase(key);
    }
    DERMAGA_TRY(checked, login_checked(user, secret, address));
    remember(key, checked, now);
    return std::move(checked.principal);
}

Result<Principal> Authenticator::certificate_uncounted(std::string_view cn, std::string_view address) {
    const std::string key = "cert:" + std::string(cn);
    const auto now = clock_.now_unix();
    if (auto hit = recall(key, now)) {
        auto p = revalidate(*hit);
        if (p || p.error().code != errc::unauthenticated) {
            return p;
        }
        std::lock_guard lock(mu_);
        cache_.erase(key);  // the account changed (disabled, or deleted and re-created): look again
    }
    DERMAGA_TRY(u, lifted(store_.user(cn)));
    if (!u || u->disabled) {
        audit(cn, "user", address, "failed", "client certificate names no enabled user");
        return fail(errc::unauthenticated, "the client certificate names no enabled user");
    }
    auto p = user_principal(*u, "certificate");
    audit(p.name, "user", address, "success", "certificate");
    remember(key, Checked{p, u->password_hash}, now);
    return p;
}

Result<Principal> Authenticator::refreshed_uncounted(const meta::RefreshRow& row) {
    const auto now = clock_.now_unix();
    if (row.subject_kind == "robot") {
        DERMAGA_TRY(r, lifted(store_.robot_by_id(row.subject_id)));
        if (!r || !live_robot(*r, now)) {
            return wrong();
        }
        return robot_principal(*r);
    }
    std::int64_t uid = row.subject_id;
    std::optional<meta::TokenRow> tok;
    if (row.subject_kind == "pat") {
        DERMAGA_TRY(t, lifted(store_.token_by_id(row.subject_id)));
        if (!t || !live_token(*t, now)) {
            return wrong();
        }
        tok = t;
        uid = t->user_id;
    }
    DERMAGA_TRY(u, lifted(store_.user_by_id(uid)));
    // A directory password is checked by the directory only, so a refresh token obtained with
    // one would outlive a password changed or a group left there: LDAP logins get none (see
    // refreshable), and one from before that rule is refused.
    if (!u || u->disabled || (row.subject_kind == "user" && u->source != "local")) {
        return wrong();
    }
    auto p = user_principal(*u, "refresh");
    if (tok) {
        p.scope = parse_token_scopes(tok->scopes).value_or(0);
        p.token_id = tok->id;
    }
    return p;
}

}  // namespace dermaga::auth
