#pragma once
// Internal to api/mgmt: one request on its way through the /api/v1 handlers, and the helpers
// that read JSON bodies field by field. Handlers run on the blocking pool (auth::Admin blocks).

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/admin.hpp"
#include "auth/views.hpp"
#include "http/message.hpp"

namespace dermaga::api::mgmt {

using Json = nlohmann::json;
namespace views = auth::views;

/// One management request: who, what path (split and percent-decoded), which method, body.
struct Call {
    auth::Admin& admin;
    auth::Actor actor;
    http::Method method;
    std::vector<std::string> parts;  ///< path components after /api/v1/
    std::string body;
    const http::Request& req;
};

/// The JSON body as an object whose keys are all in `allowed`. Errors: auth bad_input naming
/// the unknown field or the syntax error.
Result<Json> object_body(const Call& c, std::initializer_list<std::string_view> allowed);
/// A string field; nullopt when absent. Errors: bad_input when it is not a string.
Result<std::optional<std::string>> opt_string(const Json& j, const char* field);
/// A required string field.
Result<std::string> req_string(const Json& j, const char* field);
Result<std::optional<bool>> opt_bool(const Json& j, const char* field);
/// Seconds, as an integer or a duration string ("90d").
Result<std::optional<std::int64_t>> opt_duration(const Json& j, const char* field);

http::Response json_response(unsigned status, const Json& j);
http::Response no_content();
http::Response not_found();
http::Response method_not_allowed(const char* allow);
/// The response for an Admin result failure.
http::Response failed(const Error& e);

/// Handler groups: each answers the paths it owns, nullopt for the others.
std::optional<http::Response> users(Call& c);
std::optional<http::Response> orgs(Call& c);
std::optional<http::Response> repositories(Call& c);
std::optional<http::Response> system(Call& c);

}  // namespace dermaga::api::mgmt
