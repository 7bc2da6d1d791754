#pragma once
// The one authorisation decision point: what a principal may do on a repository or an
// organisation. Every /v2 route, the token endpoint, the catalog and the management API ask
// here. Decisions never depend on whether the repository exists, so answers leak nothing.
//
// Rules, in order:
//  1. A global administrator may do everything.
//  2. A user is admin of their own namespace (the namespace named after them).
//  3. Otherwise the best of: the organisation-wide role (membership, teams, a robot's own
//     role in its organisation) and the roles granted on the repository (to the user, their
//     teams, or the robot).
//  4. Anyone, anonymous included, may pull from a public repository (its own visibility, else
//     the namespace default; repositories outside any namespace are private).
//  5. A personal access token narrows the result to its scopes.

#include <string_view>

#include "auth/roles.hpp"
#include "meta/auth_store.hpp"

namespace dermaga::auth {

class Authorizer {
public:
    explicit Authorizer(meta::AuthStore& store) : store_(store) {}

    /// Whether `p` is a global administrator now: the local operator, or an enabled account
    /// still marked admin (a bearer token's claim may be older than a demotion). Blocking.
    Result<bool> is_admin(const Principal& p);
    /// The actions `p` may take on `repo` (a bit set of Action). Blocking.
    Result<unsigned> actions(const Principal& p, std::string_view repo);
    /// A catalog page of the repositories `p` may pull from (see AuthStore). Blocking.
    Result<meta::Page> readable(const Principal& p, std::string_view last, std::size_t n);
    /// `p`'s role on organisation `org` (admin for global administrators). Blocking.
    Result<Role> org_role(const Principal& p, std::string_view org);

private:
    meta::AuthStore& store_;
};

/// The namespace of a repository name: its first path component.
std::string_view namespace_of(std::string_view repo);

}  // namespace dermaga::auth
