#include "auth/views.hpp"

namespace dermaga::auth::views {

namespace {
const char* role(int r) { return role_name(static_cast<Role>(r)); }
}  // namespace

Json user(const meta::UserRow& u) {
    return {{"name", u.name},         {"email", u.email},   {"admin", u.admin},
            {"disabled", u.disabled}, {"source", u.source}, {"created_at", u.created_at}};
}

Json org(const meta::NamespaceRow& o) {
    return {{"name", o.name},
            {"default_visibility", o.default_visibility},
            {"description", o.description},
            {"created_at", o.created_at}};
}

Json member(const meta::MemberRow& m) { return {{"user", m.user}, {"role", role(m.role)}}; }

Json team(const meta::TeamRow& t) {
    return {{"name", t.name},
            {"role", role(t.role)},
            {"ldap_group", t.ldap_group},
            {"members", t.members}};
}

Json robot(const meta::RobotRow& r) {
    return {{"name", r.name},
            {"login", r.org + "+" + r.name},
            {"role", role(r.role)},
            {"description", r.description},
            {"created_at", r.created_at},
            {"expires_at", r.expires_at},
            {"disabled", r.disabled}};
}

Json token(const meta::TokenRow& t) {
    return {{"name", t.name},
            {"user", t.user},
            {"scopes", t.scopes},
            {"created_at", t.created_at},
            {"expires_at", t.expires_at},
            {"last_used", t.last_used},
            {"revoked", t.revoked}};
}

Json grant(const meta::GrantRow& g) {
    return {{"repository", g.repo},
            {"subject_kind", g.subject_kind},
            {"subject", g.subject},
            {"role", role(g.role)}};
}

Json audit(const meta::AuditRow& a) {
    return {{"id", a.id},           {"at", a.at},
            {"actor", a.actor},     {"actor_kind", a.actor_kind},
            {"address", a.address}, {"action", a.action},
            {"object", a.object},   {"outcome", a.outcome},
            {"detail", a.detail}};
}

Json me(const Me& m) {
    Json out = {{"name", m.principal.name},
                {"kind", m.principal.kind_name()},
                {"admin", m.principal.admin},
                {"method", m.principal.method},
                {"scopes", token_scopes_text(m.principal.scope)}};
    if (m.user) {
        out["email"] = m.user->email;
    }
    Json orgs = Json::array();
    for (const auto& o : m.orgs) {
        orgs.push_back({{"name", o.user}, {"role", role(o.role)}});
    }
    out["orgs"] = std::move(orgs);
    return out;
}

}  // namespace dermaga::auth::views
