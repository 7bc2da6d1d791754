// Management operations on users, the audit trail and signing keys, and the shared checks.
// Organisations, teams, robots, tokens and repositories are in admin_org.cpp.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <set>

#include "auth/admin_detail.hpp"
#include "core/names.hpp"

namespace dermaga::auth {

namespace {

bool manages(const Principal& p) { return (p.scope & manage) != 0; }

constexpr std::size_t max_email = 254;

Result<void> check_email(std::string_view email) {
    if (email.size() > max_email) {
        return fail(errc::bad_input, "email: at most 254 characters");
    }
    if (!email.empty() && (email.find('@') == std::string_view::npos ||
                           email.find_first_of(" \t\r\n<>\"") != std::string_view::npos)) {
        return fail(errc::bad_input, "email: not an email address");
    }
    return {};
}

/// When `p`'s account was created, in audit time (milliseconds); 0 for anonymous.
Result<std::int64_t> created_ms(meta::AuthStore& store, const Principal& p) {
    std::int64_t created = 0;
    if (p.kind == Principal::Kind::user) {
        DERMAGA_TRY(u, store.user_by_id(p.id));
        created = u ? u->created_at : 0;
    } else if (p.kind == Principal::Kind::robot) {
        DERMAGA_TRY(r, store.robot_by_id(p.id));
        created = r ? r->created_at : 0;
    }
    return created * 1000;
}

}  // namespace

// Shared checks ------------------------------------------------------------------------------

std::optional<std::int64_t> parse_duration(std::string_view s) {
    if (s.empty()) {
        return std::nullopt;
    }
    std::int64_t unit = 1;
    switch (s.back()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: unit = 0;
    }
    if (unit != 0) {
        s.remove_suffix(1);
    } else {
        unit = 1;
    }
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || n < 0 || n > (std::int64_t{1} << 40)) {
        return std::nullopt;
    }
    return n * unit;
}

std::optional<std::int64_t> parse_time_ms(std::string_view s) {
    if (s.empty()) {
        return std::nullopt;
    }
    if (s.find_first_not_of("0123456789") == std::string_view::npos) {
        auto secs = parse_duration(s);
        return secs ? std::optional<std::int64_t>(*secs * 1000) : std::nullopt;
    }
    std::tm tm{};
    const std::string text(s);
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == nullptr) {
        return std::nullopt;
    }
    std::string_view rest(end);
    if (!rest.empty() && rest.front() == '.') {  // fractional seconds are ignored
        rest.remove_prefix(1);
        while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
            rest.remove_prefix(1);
        }
    }
    if (rest != "Z" && rest != "z" && rest != "+00:00") {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

Result<void> check_name(std::string_view field, std::string_view name) {
    if (!valid_account_name(name)) {
        return fail(errc::bad_input, std::string(field) +
                                         ": must be 1-64 lowercase letters, digits and separators (. _ -), "
                                         "starting with a letter or digit");
    }
    return {};
}

Result<int> check_role(std::string_view field, std::string_view role) {
    auto r = parse_role(role);
    if (!r) {
        return fail(errc::bad_input, std::string(field) + ": must be one of none, read, write, delete, admin");
    }
    return static_cast<int>(*r);
}

Result<void> check_visibility(std::string_view field, std::string_view v) {
    if (v != "public" && v != "private") {
        return fail(errc::bad_input, std::string(field) + ": must be public or private");
    }
    return {};
}

meta::UserRow redacted(meta::UserRow u) {
    u.password_hash.clear();
    return u;
}

std::string audit_object_org(std::string_view o) {
    if (o.substr(0, 4) == "org:") {
        o.remove_prefix(4);
        return std::string(o.substr(0, o.find('/')));
    }
    if (o.substr(0, 5) == "repo:") {
        o.remove_prefix(5);
        return std::string(namespace_of(o));
    }
    const auto slash = o.find('/');
    const auto colon = o.find(':');
    if (slash == std::string_view::npos || (colon != std::string_view::npos && colon < slash)) {
        return {};  // "user:…", "system:…", logins, the catalog
    }
    return std::string(o.substr(0, slash));  // a /v2 object: "acme/app@sha256:…"
}

void Admin::record(const Actor& a, std::string action, std::string object, std::string outcome,
                   std::string detail) {
    meta::AuditRow row;
    row.actor = a.audit_name.empty() ? a.principal.name : a.audit_name;
    row.actor_kind = a.principal.kind_name();
    row.address = a.address;
    row.action = std::move(action);
    row.object = object.size() > 300 ? object.substr(0, 300) : std::move(object);
    row.outcome = std::move(outcome);
    row.detail = std::move(detail);
    s_.audit.record(std::move(row));
}

Result<void> Admin::require_global_admin(const Actor& a) {
    if (a.principal.admin && manages(a.principal)) {
        return {};
    }
    return fail(errc::denied, "requires a global administrator");
}

Result<void> Admin::require_org_admin(const Actor& a, std::string_view org) {
    DERMAGA_TRY(role, s_.authz.org_role(a.principal, org));
    if (role == Role::admin) {
        return {};
    }
    return fail(errc::denied, "requires admin of organisation " + std::string(org));
}

Result<void> Admin::require_org_reader(const Actor& a, std::string_view org) {
    if (a.principal.admin) {
        return {};
    }
    if (a.principal.kind == Principal::Kind::user) {
        DERMAGA_TRY(orgs, s_.store.orgs_of(a.principal.id));
        if (std::find(orgs.begin(), orgs.end(), org) != orgs.end()) {
            return {};
        }
    }
    return fail(errc::denied, "requires membership of organisation " + std::string(org));
}

Result<void> Admin::require_repo_manager(const Actor& a, std::string_view repo) {
    DERMAGA_TRY(actions, s_.authz.actions(a.principal, repo));
    if (actions & manage) {
        return {};
    }
    return fail(errc::denied, "requires admin of repository " + std::string(repo));
}

/// The user `name` when the actor is that account (the same id: a token of a deleted account
/// never reaches one re-created under its name) or a global administrator. Changes by the
/// user themself need the `manage` scope. Refused before anything reveals whether `name` exists.
Result<meta::UserRow> Admin::self_or_admin(const Actor& a, std::string_view name, Use use) {
    const bool admin = a.principal.admin && manages(a.principal);
    DERMAGA_TRY(u, s_.store.user(name));
    const bool self = u && a.principal.kind == Principal::Kind::user && u->id == a.principal.id;
    if (!self && !admin) {
        return fail(errc::denied, "only the user themself or a global administrator");
    }
    if (!admin && use == Use::change && !manages(a.principal)) {
        return fail(errc::denied,
                    "a personal access token without the manage scope cannot change the account");
    }
    if (!u) {
        return fail(errc::not_found, "no such user " + std::string(name));
    }
    return std::move(*u);
}

/// Refuses to delete (change == nullptr), demote or disable the last enabled administrator.
Result<void> Admin::keep_an_admin(const meta::UserRow& u, const UserUpdate* change) {
    if (!u.admin || u.disabled) {
        return {};
    }
    const bool loses = change == nullptr || (change->admin && !*change->admin) || (change->disabled && *change->disabled);
    if (!loses) {
        return {};
    }
    DERMAGA_TRY(n, s_.store.count_admins());
    if (n <= 1) {
        return fail(errc::conflict, "user " + u.name + " is the last global administrator");
    }
    return {};
}

// Users --------------------------------------------------------------------------------------

Result<std::vector<meta::UserRow>> Admin::list_users(const Actor& a) {
    return reading(a, "user.list", "user:*", [&]() -> Result<std::vector<meta::UserRow>> {
        DERMAGA_CHECK(require_global_admin(a));
        DERMAGA_TRY(users, s_.store.users());
        for (auto& u : users) {
            u.password_hash.clear();
        }
        return users;
    });
}

Result<meta::UserRow> Admin::get_user(const Actor& a, std::string_view name) {
    return reading(a, "user.get", "user:" + std::string(name), [&]() -> Result<meta::UserRow> {
        DERMAGA_TRY(u, self_or_admin(a, name, Use::read));
        return redacted(std::move(u));
    });
}

Result<meta::UserRow> Admin::create_user(const Actor& a, const Input<NewUser>& input) {
    auto create = [&](std::string&, std::string& object) -> Result<meta::UserRow> {
        DERMAGA_CHECK(require_global_admin(a));
        DERMAGA_TRY(in, input.get());
        object = "user:" + in.name;
        DERMAGA_CHECK(check_name("name", in.name));
        DERMAGA_CHECK(check_email(in.email));
        DERMAGA_TRY(hash, hash_password(in.password));
        meta::UserRow u;
        u.name = in.name;
        u.password_hash = std::move(hash);
        u.email = in.email;
        u.admin = in.admin;
        u.created_at = s_.clock.now_unix();
        DERMAGA_TRY(created, s_.store.create_user(u));
        return redacted(std::move(created));
    };
    return mutation(a, "user.create", "user:*", create);
}

Result<meta::UserRow> Admin::update_user(const Actor& a, std::string_view name,
                                         const Input<UserUpdate>& input) {
    return mutation(a, "user.update", "user:" + std::string(name), [&]() -> Result<meta::UserRow> {
        DERMAGA_TRY(u, self_or_admin(a, name, Use::change));
        DERMAGA_TRY(in, input.get());
        if ((in.admin || in.disabled) && !(a.principal.admin && manages(a.principal))) {
            return fail(errc::denied, "only a global administrator may set admin or disabled");
        }
        if (in.email) {
            DERMAGA_CHECK(check_email(*in.email));
            u.email = *in.email;
        }
        DERMAGA_CHECK(keep_an_admin(u, &in));
        if (in.password) {
            if (u.source != "local") {
                return fail(errc::conflict, "user " + u.name + " is managed by " + u.source);
            }
            DERMAGA_TRY(hash, hash_password(*in.password));
            u.password_hash = std::move(hash);
            // Refresh tokens obtained with the old password end with it (first, so that a
            // failure leaves the old password with none rather than the new one with them).
            DERMAGA_CHECK(s_.store.delete_refresh_tokens("user", u.id));
        }
        u.admin = in.admin.value_or(u.admin);
        u.disabled = in.disabled.value_or(u.disabled);
        DERMAGA_TRY(found, s_.store.update_user(u));
        if (!found) {
            return fail(errc::not_found, "no such user " + u.name);
        }
        return redacted(std::move(u));
    });
}

Result<void> Admin::delete_user(const Actor& a, std::string_view name) {
    return mutation(a, "user.delete", "user:" + std::string(name), [&]() -> Result<void> {
        DERMAGA_CHECK(require_global_admin(a));
        DERMAGA_TRY(u, s_.store.user(name));
        if (!u) {
            return fail(errc::not_found, "no such user " + std::string(name));
        }
        DERMAGA_CHECK(keep_an_admin(*u, nullptr));
        DERMAGA_TRY(found, s_.store.delete_user(name));
        if (!found) {
            return fail(errc::not_found, "no such user " + std::string(name));
        }
        return {};
    });
}

Result<void> Admin::unlock_user(const Actor& a, std::string_view name) {
    return mutation(a, "user.unlock", "user:" + std::string(name), [&]() -> Result<void> {
        DERMAGA_CHECK(require_global_admin(a));
        return s_.store.login_unlock("user:" + std::string(name));
    });
}

Result<ImportResult> Admin::import_htpasswd(const Actor& a, std::string_view text) {
    return mutation(a, "user.import", "system:htpasswd", [&]() -> Result<ImportResult> {
        DERMAGA_CHECK(require_global_admin(a));
        DERMAGA_TRY(entries, parse_htpasswd(text));
        for (const auto& e : entries) {
            if (!valid_account_name(e.user)) {
                return fail(errc::bad_input, "user " + e.user + ": not a valid account name");
            }
        }
        ImportResult out;
        for (const auto& e : entries) {
            meta::UserRow u;
            u.name = e.user;
            u.password_hash = e.hash;
            u.created_at = s_.clock.now_unix();
            auto created = s_.store.create_user(u);
            if (created) {
                out.created.push_back(e.user);
            } else if (created.error().code == meta::errc::conflict) {
                out.skipped.push_back(e.user);
            } else {
                return fail(created.error());
            }
        }
        return out;
    });
}

Result<Me> Admin::me(const Actor& a) {
    Me out;
    out.principal = a.principal;
    if (a.principal.kind == Principal::Kind::user) {
        auto u = s_.store.user_by_id(a.principal.id);
        if (!u) {
            return fail(lift(u.error()));
        }
        if (*u) {
            out.user = redacted(std::move(**u));
        }
        auto orgs = s_.store.orgs_of(a.principal.id);
        if (!orgs) {
            return fail(lift(orgs.error()));
        }
        for (const auto& org : *orgs) {
            auto role = s_.authz.org_role(a.principal, org);
            if (!role) {
                return fail(lift(role.error()));
            }
            out.orgs.push_back(meta::MemberRow{org, static_cast<int>(*role)});
        }
    }
    return out;
}

// Audit and keys -----------------------------------------------------------------------------

Result<std::vector<meta::AuditRow>> Admin::audit(const Actor& a, meta::AuditQuery q) {
    return reading(a, "audit.query", "audit", [&]() -> Result<std::vector<meta::AuditRow>> {
        if (q.limit == 0 || q.limit > max_audit_page) {
            return fail(errc::bad_input, "limit: must be 1 to 1000");
        }
        s_.audit.flush();  // entries recorded just before the query are part of the answer
        if (a.principal.admin && manages(a.principal)) {
            return s_.store.query_audit(q);
        }
        const std::string self = a.principal.name;
        // Entries under the caller's name from before its account existed belong to an earlier
        // account of the same name.
        DERMAGA_TRY(since, created_ms(s_.store, a.principal));
        std::set<std::string> admin_of;
        if (a.principal.kind == Principal::Kind::user && manages(a.principal)) {
            DERMAGA_TRY(orgs, s_.store.orgs_of(a.principal.id));
            for (const auto& org : orgs) {
                DERMAGA_TRY(role, s_.authz.org_role(a.principal, org));
                if (role == Role::admin) {
                    admin_of.insert(org);
                }
            }
        }
        if (admin_of.empty()) {
            if (!q.actor.empty() && q.actor != self) {
                return std::vector<meta::AuditRow>{};
            }
            q.actor = self;
            q.since = std::max(q.since, since);
            return s_.store.query_audit(q);
        }
        // Entries visible to an organisation admin are scattered: filter pages until full.
        const std::size_t want = q.limit;
        q.limit = std::max<std::size_t>(want, 200);
        std::vector<meta::AuditRow> out;
        for (int page = 0; page < 50 && out.size() < want; ++page) {
            DERMAGA_TRY(rows, s_.store.query_audit(q));
            for (auto& row : rows) {
                const bool own = row.actor == self && row.at >= since;
                if (out.size() < want && (own || admin_of.count(audit_object_org(row.object)))) {
                    out.push_back(std::move(row));
                }
            }
            if (rows.size() < q.limit) {
                break;
            }
            q.before_id = rows.back().id;
        }
        return out;
    });
}

Result<std::string> Admin::rotate_keys(const Actor& a) {
    return mutation(a, "keys.rotate", "system:keys", [&]() -> Result<std::string> {
        DERMAGA_CHECK(require_global_admin(a));
        return s_.tokens.rotate();
    });
}

}  // namespace dermaga::auth
