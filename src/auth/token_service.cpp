#include "auth/token_service.hpp"

#include "auth/errors.hpp"
#include "auth/secrets.hpp"
#include "core/random.hpp"

namespace dermaga::auth {

namespace {

/// Keys are re-read at least this often, so every node learns of a rotation within it.
constexpr std::int64_t reload_every = 60;
constexpr const char* refresh_prefix = "dmg_refresh_";

}  // namespace

unsigned Grant::actions_on(std::string_view type, std::string_view name) const {
    unsigned out = 0;
    for (const auto& a : access) {
        if (a.type == type && a.name == name) {
            for (const auto& act : a.actions) {
                out |= parse_actions(act);
            }
        }
    }
    return out;
}

TokenService::TokenService(meta::AuthStore& store, const Clock& clock, TokenOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

Result<void> TokenService::reload_locked() {
    DERMAGA_TRY(rows, lifted(store_.signing_keys()));
    std::vector<std::pair<SigningKey, std::int64_t>> keys;
    const auto now = clock_.now_unix();
    for (const auto& r : rows) {
        if (r.retired_at != 0 && now > retired_key_end(r.retired_at)) {
            continue;  // every token it may have signed has expired
        }
        DERMAGA_TRY(k, SigningKey::from_pem(r.private_pem));
        keys.emplace_back(std::move(k), r.retired_at);
    }
    keys_ = std::move(keys);
    loaded_at_ = now;
    return {};
}

Result<void> TokenService::init() {
    std::lock_guard lock(mu_);
    DERMAGA_CHECK(reload_locked());
    if (!keys_.empty()) {
        return {};
    }
    DERMAGA_TRY(k, SigningKey::generate());
    DERMAGA_CHECK(lifted(store_.add_first_signing_key(
        meta::SigningKeyRow{k.kid(), k.private_pem(), clock_.now_unix(), 0})));
    return reload_locked();
}

Result<std::string> TokenService::rotate() {
    DERMAGA_TRY(k, SigningKey::generate());
    DERMAGA_CHECK(lifted(store_.rotate_signing_key(
        meta::SigningKeyRow{k.kid(), k.private_pem(), clock_.now_unix(), 0})));
    std::lock_guard lock(mu_);
    DERMAGA_CHECK(reload_locked());
    return k.kid();
}

Result<std::string> TokenService::issue(const Principal& p, const std::vector<AccessEntry>& access) {
    const auto now = clock_.now_unix();
    std::optional<SigningKey> key;
    {
        std::lock_guard lock(mu_);
        if (now - loaded_at_ >= reload_every || keys_.empty() || keys_.front().second != 0) {
            DERMAGA_CHECK(reload_locked());
        }
        if (keys_.empty() || keys_.front().second != 0) {
            return fail(errc::unavailable, "no active token signing key");
        }
        key = keys_.front().first;
    }
    Claims c;
    c.iss = options_.issuer;
    c.sub = p.name;
    c.aud = options_.service;
    c.iat = now;
    c.nbf = now;
    c.exp = now + options_.ttl;
    c.jti = random_hex(16);
    c.access = access;
    c.extra["knd"] = p.kind_name();
    c.extra["uid"] = p.id;
    if (p.admin) {
        c.extra["adm"] = true;
    }
    if (p.token_id != 0) {
        c.extra["pat"] = p.token_id;
        c.extra["scp"] = p.scope;
    }
    auto token = encode_jwt(c, *key);
    if (token) {
        issued.inc(TokenKind::access);
    }
    return token;
}

std::optional<Grant> TokenService::verified(std::string_view token) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(std::string(token));
    if (it == cache_.end() || it->second.exp + options_.leeway <= clock_.now_unix()) {
        return std::nullopt;
    }
    return it->second.grant;
}

Result<Grant> TokenService::verify(std::string_view token) {
    if (auto g = verified(token)) {
        return *g;
    }
    DERMAGA_TRY(d, decode_jwt(token));
    const auto now = clock_.now_unix();
    std::optional<SigningKey> key;
    std::int64_t retired_at = 0;
    {
        std::lock_guard lock(mu_);
        auto find = [&] {
            for (const auto& [k, retired] : keys_) {
                if (k.kid() == d.kid) {
                    key = k;
                    retired_at = retired;
                }
            }
        };
        // Another node (or the CLI) may have rotated: re-read the keys every reload_every, and
        // on an unknown kid (at most every 5 s).
        if (now - loaded_at_ >= reload_every) {
            DERMAGA_CHECK(reload_locked());
        }
        find();
        if (!key && now - loaded_at_ >= 5) {
            DERMAGA_CHECK(reload_locked());
            find();
        }
    }
    auto bad = [](const std::string& why) { return fail(errc::unauthenticated, "invalid token: " + why); };
    if (!key) {
        return bad("unknown key id");
    }
    if (!key->verify(d.signed_part, d.signature)) {
        return bad("signature does not verify");
    }
    const auto& c = d.claims;
    if (retired_at != 0 &&
        (c.iat > retired_at + retired_grace() || now > retired_key_end(retired_at))) {
        return bad("signed with a retired key");
    }
    if (c.iss != options_.issuer) {
        return bad("wrong issuer");
    }
    if (c.aud != options_.service) {
        return bad("wrong audience");
    }
    if (!d.has_iat || !d.has_exp) {
        return bad("iat and exp are required");
    }
    if (c.exp + options_.leeway <= now) {
        return bad("expired");
    }
    if ((d.has_nbf && c.nbf > now + options_.leeway) || c.iat > now + options_.leeway) {
        return bad("not yet valid");
    }
    if (c.exp - c.iat > options_.ttl + options_.leeway) {
        return bad("lifetime longer than this registry issues");
    }
    Grant g;
    g.access = c.access;
    auto& p = g.principal;
    const auto kind = c.extra.value("knd", std::string("anonymous"));
    p.kind = kind == "user" ? Principal::Kind::user : kind == "robot" ? Principal::Kind::robot : Principal::Kind::anonymous;
    p.name = c.sub;
    p.id = c.extra.value("uid", std::int64_t{0});
    p.admin = c.extra.value("adm", false);
    p.token_id = c.extra.value("pat", std::int64_t{0});
    p.scope = c.extra.value("scp", all_actions);
    p.method = "bearer";
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= 10000) {
        cache_.clear();  // bounded; only costs re-verification
    }
    cache_.emplace(std::string(token), Remembered{g, c.exp});
    return g;
}

bool refreshable(const Principal& p) { return !p.anonymous() && p.method != "ldap"; }

std::int64_t TokenService::retired_grace() const { return reload_every + options_.leeway; }

std::int64_t TokenService::retired_key_end(std::int64_t retired_at) const {
    return retired_at + retired_grace() + options_.ttl + options_.leeway;
}

Result<std::string> TokenService::issue_refresh(const Principal& p) {
    auto secret = new_secret(refresh_prefix);
    meta::RefreshRow row;
    row.subject_kind = p.token_id != 0 ? "pat" : p.kind_name();
    row.subject_id = p.token_id != 0 ? p.token_id : p.id;
    const auto now = clock_.now_unix();
    row.expires_at = now + options_.refresh_ttl;
    DERMAGA_CHECK(lifted(store_.put_refresh(secret_hash(secret), row, now)));
    issued.inc(TokenKind::refresh);
    return secret;
}

Result<meta::RefreshRow> TokenService::check_refresh(std::string_view token) {
    DERMAGA_TRY(row, lifted(store_.refresh(secret_hash(token))));
    if (!row || row->expires_at <= clock_.now_unix()) {
        return fail(errc::unauthenticated, "refresh token unknown or expired");
    }
    return *row;
}

}  // namespace dermaga::auth
