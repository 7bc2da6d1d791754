#include "app/bootstrap.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "auth/secrets.hpp"
#include "core/log.hpp"
#include "core/names.hpp"

namespace dermaga::app {

std::unique_ptr<auth::Services> make_auth_services(const Config& c, meta::AuthStore& store, const Clock& clock) {
    auth::Options o;
    o.enabled = c.auth_enabled;
    o.realm = c.auth_realm;
    o.certificate_users = c.auth_certificate_users;
    o.token.issuer = c.auth_issuer;
    o.token.service = c.auth_service;
    o.token.ttl = c.auth_token_ttl;
    o.token.refresh_ttl = c.auth_refresh_ttl;
    o.login.window = c.auth_lockout_window;
    o.login.user_threshold = static_cast<std::int64_t>(c.auth_lockout_threshold);
    o.login.ip_threshold = static_cast<std::int64_t>(c.auth_lockout_ip_threshold);
    o.login.lock_seconds = c.auth_lockout_duration;
    auth::ExternalLogin external;
    if (!c.ldap_url.empty()) {
        auto dir = std::make_shared<auth::ldap::Directory>(ldap_config(c));
        external = [dir](std::string_view user, std::string_view password)
            -> Result<std::optional<auth::ExternalIdentity>> {
            auto id = dir->authenticate(user, password);
            if (!id) {
                return fail(auth::errc::unavailable, "LDAP: " + id.error().detail);
            }
            if (!*id) {
                return std::optional<auth::ExternalIdentity>();
            }
            auth::ExternalIdentity out;
            out.username = (*id)->username;
            std::transform(out.username.begin(), out.username.end(), out.username.begin(),
                           [](unsigned char ch) { return std::tolower(ch); });
            out.email = (*id)->email;
            out.group_dns = (*id)->group_dns;
            return std::optional<auth::ExternalIdentity>(std::move(out));
        };
    }
    return std::make_unique<auth::Services>(store, clock, std::move(o), std::move(external));
}

void bootstrap_admin_from_env(meta::AuthStore& store, const Clock& clock) {
    const char* password = std::getenv("DERMAGA_BOOTSTRAP_ADMIN_PASSWORD");
    if (password == nullptr || *password == '\0') {
        return;
    }
    auto users = store.users();
    if (!users) {
        throw std::runtime_error("bootstrap admin: " + users.error().detail);
    }
    if (!users->empty()) {
        return;  // only ever the first account
    }
    const char* name = std::getenv("DERMAGA_BOOTSTRAP_ADMIN_USER");
    meta::UserRow u;
    u.name = name && *name ? name : "admin";
    if (!valid_account_name(u.name)) {
        throw std::runtime_error("bootstrap admin: invalid user name \"" + u.name + "\"");
    }
    auto hash = auth::hash_password(password);
    if (!hash) {
        throw std::runtime_error("bootstrap admin: " + hash.error().detail);
    }
    u.password_hash = *hash;
    u.admin = true;
    u.created_at = clock.now_unix();
    if (auto r = store.create_user(u); !r) {
        throw std::runtime_error("bootstrap admin: " + r.error().detail);
    }
    log::info("bootstrap_admin_created", {{"user", std::string_view(u.name)}});
}

}  // namespace dermaga::app
