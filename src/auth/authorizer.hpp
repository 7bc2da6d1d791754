#pragma once
// The one authorisation decision point: what a principal may do on a repository or an
// organisation, and whether the credential it presented still stands. Every /v2 route, the
// token endpoint, the catalog and the management API ask here. Decisions never depend on
// whether the repository exists, so answers leak nothing.
//
// Rules, in order:
//  0. A principal whose account is gone, disabled or (a robot) expired, or whose personal
//     access token is revoked or expired, gets nothing. This is read from the store on every
//     decision, by the account's immutable id, never by its name: a bearer token outlives
//     none of these, and grants nothing in an account re-created under the same name.
//  1. A global administrator (as the store says now, not as a token claims) may do everything.
//  2. A user is admin of their own namespace (the namespace named after them).
//  3. Otherwise the best of: the organisation-wide role (membership, teams, a robot's own
//     role in its organisation) and the roles granted on the repository (to the user, their
//     teams, or the robot).
//  4. Anyone, anonymous included, may pull from a public repository (its own visibility, else
//     the namespace default; repositories outside any namespace are private).
//  5. A personal access token narrows the result to its scopes.

#include <optional>
#include <string_view>

#include "auth/roles.hpp"
#include "core/clock.hpp"
#include "meta/auth_store.hpp"

namespace dermaga::auth {

class Authorizer {
public:
    Authorizer(meta::AuthStore& store, const Clock& clock) : store_(store), clock_(clock) {}

    /// `p` as it stands now, for requests that name no repository: its admin flag read from
    /// the store; nullopt when rule 0 refuses it. The local operator and anonymous stand as
    /// they are. One indexed read. Blocking.
    Result<std::optional<Principal>> current(const Principal& p);
    /// The actions `p` may take on `repo` (a bit set of Action). Blocking.
    Result<unsigned> actions(const Principal& p, std::string_view repo);
    /// A catalog page of the repositories `p` may pull from (see AuthStore). Blocking.
    Result<meta::Page> readable(const Principal& p, std::string_view last, std::size_t n);
    /// `p`'s role on organisation `org` (admin for global administrators; at most delete
    /// without the `manage` scope). Blocking.
    Result<Role> org_role(const Principal& p, std::string_view org);

private:
    meta::AuthStore& store_;
    const Clock& clock_;
};

/// The store's view of `p`: kind, id and the personal access token used.
meta::Subject subject_of(const Principal& p);

/// The namespace of a repository name: its first path component.
std::string_view namespace_of(std::string_view repo);

}  // namespace dermaga::auth
