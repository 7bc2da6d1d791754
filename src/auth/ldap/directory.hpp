#pragma once
// LDAP directory client: checks a login name and password against an LDAP server
// (search-then-bind) and reports the user's identity and group memberships.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/result.hpp"

namespace dermaga::auth::ldap {

/// Where and how to look users up. Plain data; validated by `check_config` and again by
/// `Directory::authenticate`.
struct Config {
    std::string url;            ///< ldap://127.0.0.1:389 or ldaps://...
    std::string bind_dn;        ///< service account for the user search; empty = anonymous search
    std::string bind_password;  ///< never echoed in errors
    std::string user_base;      ///< e.g. ou=people,dc=example,dc=org
    /// {user} is replaced by the RFC 4515-escaped login name.
    std::string user_filter = "(uid={user})";
    std::string group_base;  ///< empty: no group lookup
    /// {dn} = the user's DN (escaped), {user} = the login name (escaped).
    std::string group_filter = "(member={dn})";
    std::string group_name_attr = "cn";
    bool start_tls = false;
    std::string ca_file;              ///< for ldaps/StartTLS verification
    std::chrono::seconds timeout{5};  ///< connect timeout and limit for each LDAP operation
};

/// Who the directory says the user is.
struct Identity {
    std::string username;  ///< as the directory spells it (attribute of user_filter, e.g. uid)
    std::string dn;
    std::string email;                   ///< "mail" attribute if present
    std::vector<std::string> groups;     ///< group names (group_name_attr), sorted
    std::vector<std::string> group_dns;  ///< sorted
};

enum class errc {
    unavailable = 1,  ///< server unreachable, timed out, or failed mid-operation
    misconfigured,    ///< bad URL, base, filter, TLS settings or service credentials
    ambiguous_user,   ///< the user search matched more than one entry
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

/// Static checks of a Config (URL scheme, required fields, filter placeholders). Does not
/// contact the server. Error: errc::misconfigured with a one-line reason.
Result<void> check_config(const Config& c);

/// An LDAP directory used for authentication.
class Directory {
public:
    explicit Directory(Config c);

    /// Search-then-bind: finds the user's entry (as the service account or anonymously),
    /// binds as that DN with `password` on a separate connection, then looks up groups.
    /// Blocking (call through run_blocking); thread-safe: every call uses fresh connections.
    /// Each network step is limited by Config::timeout.
    /// nullopt: unknown user or wrong password (indistinguishable to callers); an empty
    /// password is refused without contacting the server.
    /// Error: errc::unavailable (unreachable, timeout), errc::ambiguous_user (the search
    /// matched more than one entry), errc::misconfigured. Details never contain passwords.
    Result<std::optional<Identity>> authenticate(std::string_view username,
                                                 std::string_view password) const;

private:
    Config config_;
    std::string user_attr_;  // attribute compared with {user} in user_filter, e.g. "uid"
};

}  // namespace dermaga::auth::ldap

template <>
struct std::is_error_code_enum<dermaga::auth::ldap::errc> : std::true_type {};
