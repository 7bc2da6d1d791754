#pragma once
// Roles, actions and principals: the vocabulary of access control.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dermaga::auth {

/// Roles granted on an organisation or a repository. Each includes the ones below it.
enum class Role : int { none = 0, read = 1, write = 2, del = 3, admin = 4 };

std::optional<Role> parse_role(std::string_view s);  ///< "none", "read", "write", "delete", "admin"
const char* role_name(Role r);

/// Repository actions as a bit set. `manage` is permission and settings management.
enum Action : unsigned { pull = 1, push = 2, del = 4, manage = 8 };
constexpr unsigned all_actions = pull | push | del | manage;

/// The actions a role allows.
unsigned actions_of(Role r);
/// Docker scope action names ("pull", "push", "delete", "*") to bits; unknown names are ignored.
unsigned parse_actions(std::string_view comma_separated);
/// Bits to Docker scope action names, in the order pull, push, delete.
std::vector<std::string> action_names(unsigned actions);
/// Personal-access-token scopes ("pull push delete manage", space-separated). nullopt when a
/// word is unknown.
std::optional<unsigned> parse_token_scopes(std::string_view s);
std::string token_scopes_text(unsigned actions);

/// Who is calling, after authentication.
struct Principal {
    enum class Kind { anonymous, user, robot };
    Kind kind = Kind::anonymous;
    std::int64_t id = 0;    ///< user or robot id
    std::string name;       ///< "alice", "acme+ci"; empty for anonymous
    bool admin = false;     ///< global administrator
    unsigned scope = all_actions;  ///< a personal access token narrows what the account may do
    std::int64_t token_id = 0;     ///< the personal access token used, if any
    std::string method;            ///< how they authenticated: password, token, robot, ldap, bearer, certificate
    /// The local operator (the CLI on the server machine): an administrator with no account
    /// behind it, so account checks do not apply.
    bool local_operator = false;

    bool anonymous() const { return kind == Kind::anonymous; }
    const char* kind_name() const;
};

}  // namespace dermaga::auth
