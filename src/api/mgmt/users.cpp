// /api/v1/users…, /me, /audit, /keys/rotate.

#include "api/mgmt/mgmt.hpp"

namespace dermaga::api::mgmt {

namespace {

using M = http::Method;

http::Response user_collection(Call& c) {
    if (c.method == M::get) {
        auto r = c.admin.list_users(c.actor);
        return r ? json_response(200, views::list(*r, views::user)) : failed(r.error());
    }
    if (c.method != M::post) {
        return method_not_allowed("GET, POST");
    }
    auto r = c.admin.create_user(c.actor, [&]() -> Result<auth::NewUser> {
        DERMAGA_TRY(j, object_body(c, {"name", "password", "email", "admin"}));
        DERMAGA_TRY(name, req_string(j, "name"));
        DERMAGA_TRY(password, req_string(j, "password"));
        DERMAGA_TRY(email, opt_string(j, "email"));
        DERMAGA_TRY(admin, opt_bool(j, "admin"));
        return auth::NewUser{std::move(name), std::move(password), email.value_or(""),
                             admin.value_or(false)};
    });
    return r ? json_response(201, views::user(*r)) : failed(r.error());
}

http::Response user_item(Call& c, const std::string& name) {
    if (c.method == M::get) {
        auto r = c.admin.get_user(c.actor, name);
        return r ? json_response(200, views::user(*r)) : failed(r.error());
    }
    if (c.method == M::del) {
        auto r = c.admin.delete_user(c.actor, name);
        return r ? no_content() : failed(r.error());
    }
    if (c.method != M::patch) {
        return method_not_allowed("GET, PATCH, DELETE");
    }
    auto r = c.admin.update_user(c.actor, name, [&]() -> Result<auth::UserUpdate> {
        DERMAGA_TRY(j, object_body(c, {"password", "email", "admin", "disabled"}));
        DERMAGA_TRY(password, opt_string(j, "password"));
        DERMAGA_TRY(email, opt_string(j, "email"));
        DERMAGA_TRY(admin, opt_bool(j, "admin"));
        DERMAGA_TRY(disabled, opt_bool(j, "disabled"));
        return auth::UserUpdate{std::move(password), std::move(email), admin, disabled};
    });
    return r ? json_response(200, views::user(*r)) : failed(r.error());
}

http::Response tokens(Call& c, const std::string& user) {
    if (c.method == M::get) {
        auto r = c.admin.list_tokens(c.actor, user);
        return r ? json_response(200, views::list(*r, views::token)) : failed(r.error());
    }
    if (c.method != M::post) {
        return method_not_allowed("GET, POST");
    }
    auto r = c.admin.create_token(c.actor, user, [&]() -> Result<auth::NewToken> {
        auth::NewToken in;
        DERMAGA_TRY(j, object_body(c, {"name", "scopes", "expires_in"}));
        DERMAGA_TRY(name, req_string(j, "name"));
        in.name = std::move(name);
        auto scopes = j.find("scopes");
        if (scopes != j.end() && scopes->is_array()) {
            for (const auto& s : *scopes) {
                if (!s.is_string()) {
                    return fail(auth::errc::bad_input, "scopes: must be a string or an array of strings");
                }
                in.scopes += (in.scopes.empty() ? "" : " ") + s.get<std::string>();
            }
        } else {
            DERMAGA_TRY(text, req_string(j, "scopes"));
            in.scopes = std::move(text);
        }
        DERMAGA_TRY(expires, opt_duration(j, "expires_in"));
        in.expires_in = expires;
        return in;
    });
    if (!r) {
        return failed(r.error());
    }
    auto j = views::token(r->token);
    j["secret"] = r->secret;  // the only time it is shown
    return json_response(201, j);
}

}  // namespace

std::optional<http::Response> users(Call& c) {
    const auto& p = c.parts;
    if (p.empty() || p[0] != "users") {
        return std::nullopt;
    }
    if (p.size() == 1) {
        return user_collection(c);
    }
    if (p.size() == 2 && p[1] == "import-htpasswd") {
        if (c.method != M::post) {
            return method_not_allowed("POST");
        }
        auto r = c.admin.import_htpasswd(c.actor, c.body);
        if (!r) {
            return failed(r.error());
        }
        return json_response(200, Json{{"created", r->created}, {"skipped", r->skipped}});
    }
    if (p.size() == 2) {
        return user_item(c, p[1]);
    }
    if (p.size() == 3 && p[2] == "unlock") {
        if (c.method != M::post) {
            return method_not_allowed("POST");
        }
        auto r = c.admin.unlock_user(c.actor, p[1]);
        return r ? no_content() : failed(r.error());
    }
    if (p.size() == 3 && p[2] == "tokens") {
        return tokens(c, p[1]);
    }
    if (p.size() == 4 && p[2] == "tokens") {
        if (c.method != M::del) {
            return method_not_allowed("DELETE");
        }
        auto r = c.admin.revoke_token(c.actor, p[1], p[3]);
        return r ? no_content() : failed(r.error());
    }
    return not_found();
}

std::optional<http::Response> system(Call& c) {
    const auto& p = c.parts;
    if (p.size() == 1 && p[0] == "me") {
        if (c.method != M::get) {
            return method_not_allowed("GET");
        }
        auto r = c.admin.me(c.actor);
        return r ? json_response(200, views::me(*r)) : failed(r.error());
    }
    if (p.size() == 2 && p[0] == "keys" && p[1] == "rotate") {
        if (c.method != M::post) {
            return method_not_allowed("POST");
        }
        auto r = c.admin.rotate_keys(c.actor);
        return r ? json_response(200, Json{{"kid", *r}}) : failed(r.error());
    }
    if (p.size() != 1 || p[0] != "audit") {
        return std::nullopt;
    }
    if (c.method != M::get) {
        return method_not_allowed("GET");
    }
    meta::AuditQuery q;
    q.actor = c.req.query("actor").value_or("");
    q.action = c.req.query("action").value_or("");
    q.object_prefix = c.req.query("object").value_or("");
    q.outcome = c.req.query("outcome").value_or("");
    for (auto [name, out] : {std::pair{"since", &q.since}, {"until", &q.until}}) {
        if (auto v = c.req.query(name)) {
            auto t = auth::parse_time_ms(*v);
            if (!t) {
                return failed(Error{make_error_code(auth::errc::bad_input),
                                    std::string(name) + ": must be RFC 3339 (UTC) or Unix seconds"});
            }
            *out = *t;
        }
    }
    for (auto [name, out] : {std::pair{"before", &q.before_id}, {"limit", nullptr}}) {
        auto v = c.req.query(name);
        if (!v) {
            continue;
        }
        auto n = v->find_first_not_of("0123456789") == std::string::npos && !v->empty() && v->size() < 12
                     ? std::optional<std::int64_t>(std::stoll(*v))
                     : std::nullopt;
        if (!n) {
            return failed(Error{make_error_code(auth::errc::bad_input), std::string(name) + ": must be a number"});
        }
        if (out) {
            *out = *n;
        } else {
            q.limit = static_cast<std::size_t>(*n);
        }
    }
    const auto format = c.req.query("format").value_or("json");
    if (format != "json" && format != "jsonl") {
        return failed(Error{make_error_code(auth::errc::bad_input), "format: must be json or jsonl"});
    }
    auto r = c.admin.audit(c.actor, q);
    if (!r) {
        return failed(r.error());
    }
    if (format == "json") {
        return json_response(200, views::list(*r, views::audit));
    }
    http::Response out;
    out.set("Content-Type", "application/x-ndjson");
    std::string body;
    for (const auto& row : *r) {
        body += views::audit(row).dump();
        body += '\n';
    }
    out.body = std::move(body);
    return out;
}

}  // namespace dermaga::api::mgmt
