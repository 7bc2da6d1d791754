#pragma once
// JSON forms of management objects: what the management API (/api/v1) answers and what
// `dermaga --json` prints, so both show an object the same way. Secrets never appear here
// (rows reaching these functions have their hashes cleared).

#include <nlohmann/json.hpp>

#include "auth/admin.hpp"

namespace dermaga::auth::views {

using Json = nlohmann::json;

Json user(const meta::UserRow& u);
Json org(const meta::NamespaceRow& o);
Json member(const meta::MemberRow& m);
Json team(const meta::TeamRow& t);
Json robot(const meta::RobotRow& r);
Json token(const meta::TokenRow& t);
Json grant(const meta::GrantRow& g);
Json audit(const meta::AuditRow& a);
Json me(const Me& m);

template <class Row, class F>
Json list(const std::vector<Row>& rows, F f) {
    Json out = Json::array();
    for (const auto& r : rows) {
        out.push_back(f(r));
    }
    return out;
}

}  // namespace dermaga::auth::views
