// /api/v1: authentication, body limits, path splitting and the JSON helpers of the handlers.

#include "api/mgmt/endpoint.hpp"

#include "api/access.hpp"
#include "api/mgmt/mgmt.hpp"
#include "api/oci_errors.hpp"
#include "core/blocking.hpp"

namespace dermaga::api {

namespace mgmt {

namespace {
constexpr std::size_t max_body = std::size_t{64} * 1024;
constexpr std::string_view mgmt_prefix = "/api/v1/";

Error bad(std::string detail) { return Error{make_error_code(auth::errc::bad_input), std::move(detail)}; }
}  // namespace

Result<Json> object_body(const Call& c, std::initializer_list<std::string_view> allowed) {
    if (c.body.empty()) {
        return Json::object();
    }
    Json j = Json::parse(c.body, nullptr, false);
    if (j.is_discarded()) {
        return fail(bad("the body is not valid JSON"));
    }
    if (!j.is_object()) {
        return fail(bad("the body must be a JSON object"));
    }
    for (const auto& [key, value] : j.items()) {
        bool known = false;
        for (auto a : allowed) {
            known = known || key == a;
        }
        if (!known) {
            return fail(bad("unknown field \"" + key + "\""));
        }
    }
    return j;
}

Result<std::optional<std::string>> opt_string(const Json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end()) {
        return std::optional<std::string>();
    }
    if (!it->is_string()) {
        return fail(bad(std::string(field) + ": must be a string"));
    }
    return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> req_string(const Json& j, const char* field) {
    DERMAGA_TRY(v, opt_string(j, field));
    if (!v) {
        return fail(bad(std::string(field) + ": required"));
    }
    return std::move(*v);
}

Result<std::optional<bool>> opt_bool(const Json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end()) {
        return std::optional<bool>();
    }
    if (!it->is_boolean()) {
        return fail(bad(std::string(field) + ": must be true or false"));
    }
    return std::optional<bool>(it->get<bool>());
}

Result<std::optional<std::int64_t>> opt_duration(const Json& j, const char* field) {
    auto it = j.find(field);
    if (it == j.end()) {
        return std::optional<std::int64_t>();
    }
    std::optional<std::int64_t> v;
    if (it->is_number_integer()) {
        v = it->get<std::int64_t>();
    } else if (it->is_string()) {
        v = auth::parse_duration(it->get<std::string>());
    }
    if (!v) {
        return fail(bad(std::string(field) + ": must be seconds or a duration such as \"90d\""));
    }
    return v;
}

http::Response json_response(unsigned status, const Json& j) {
    http::Response r;
    r.status = status;
    r.set("Content-Type", "application/json");
    r.set("Cache-Control", "no-store");
    r.body = j.dump();
    return r;
}

http::Response no_content() {
    http::Response r;
    r.status = 204;
    return r;
}

http::Response not_found() { return error_response(404, "NOT_FOUND", "no such endpoint"); }

http::Response method_not_allowed(const char* allow) {
    auto r = error_response(405, "UNSUPPORTED", "the method is not supported on this endpoint");
    r.set("Allow", allow);
    return r;
}

http::Response failed(const Error& e) { return error_response(e); }

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    if (path.size() < mgmt_prefix.size()) {
        return out;
    }
    path.remove_prefix(mgmt_prefix.size());
    while (!path.empty()) {
        auto slash = path.find('/');
        auto part = path.substr(0, slash);
        if (!part.empty()) {
            out.push_back(http::percent_decode(part));
        }
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    }
    return out;
}

http::Response route(Call& c) {
    for (auto group : {users, orgs, repositories, system}) {
        if (auto r = group(c)) {
            return std::move(*r);
        }
    }
    return not_found();
}

}  // namespace

}  // namespace mgmt

bool is_mgmt_path(std::string_view path) {
    return path == "/api/v1" || path.substr(0, mgmt::mgmt_prefix.size()) == mgmt::mgmt_prefix;
}

boost::asio::awaitable<http::Response> mgmt_endpoint(Gate* gate, http::Request& req,
                                                     boost::asio::thread_pool& blocking) {
    if (gate == nullptr) {
        co_return error_response(404, "NOT_FOUND", "the management API needs access control (auth.enabled)");
    }
    auto id = co_await gate->identify(req);
    if (id.refusal) {
        co_return std::move(*id.refusal);
    }
    if (!id.caller->presented) {
        co_return basic_challenge();
    }
    // Admin's rules read the principal's id and admin flag: make them current, and refuse a
    // credential whose account or token is gone (a bearer token does not show it by itself).
    auto caller = co_await gate->current(std::move(*id.caller));
    if (!caller) {
        co_return error_response(caller.error());
    }
    if (!*caller) {
        co_return basic_challenge();
    }
    const auto m = req.method();
    std::string body;
    if (m == http::Method::post || m == http::Method::put || m == http::Method::patch) {
        auto b = co_await req.read_body(mgmt::max_body);
        if (!b) {
            co_return error_response(b.error());
        }
        body = std::move(*b);
    }
    auth::Admin admin(gate->services());
    mgmt::Call call{admin,
                    auth::Actor{(*caller)->principal, req.remote(), {}},
                    m,
                    mgmt::split_path(req.path()),
                    std::move(body),
                    req};
    co_return co_await run_blocking(blocking, [&] { return mgmt::route(call); });
}

}  // namespace dermaga::api
