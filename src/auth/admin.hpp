#pragma once
// Management operations: the one place that decides who may change users, organisations,
// teams, robots, tokens, repository permissions and signing keys, that validates every value,
// and that writes the audit trail for them. The HTTP API (/api/v1) and the CLI both call here.
//
// Rules:
//  - Global administrators (admin and, through a token, the `manage` scope) may do everything.
//  - An organisation admin (Authorizer::org_role == admin) manages that organisation's members,
//    teams, robots and settings, and the permissions of its repositories.
//  - Whoever holds `manage` on a repository manages its permissions and visibility.
//  - Everyone reads their own record, tokens and audit entries, and manages their own
//    password, email and personal access tokens; a personal access token does so only with
//    the `manage` scope ("self" means the same account id, never just the same name).
//  - Authorisation comes before validation, so a refused caller learns nothing about input:
//    input arrives as an Input, parsed only once the caller is authorised.
//  - Every mutation and every denied attempt is audited; details never contain secrets.
//  - Machine secrets are returned once by create and stored only as hashes.
//  - The last enabled global administrator cannot be deleted, demoted or disabled.
//
// Every method blocks (store access, password hashing) and is thread-safe. Errors are
// auth::errc: bad_input (detail names the field), denied, not_found, conflict, unavailable.

#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "auth/services.hpp"

namespace dermaga::auth {

/// Who acts, from where, and the name the audit trail shows (principal.name when empty). The
/// principal must be current (Authorizer::current): Admin trusts its `admin` flag and its id.
struct Actor {
    Principal principal;
    std::string address;
    std::string audit_name;
};

/// An operation's input: a value, or the parser that produces it from a request. Admin reads
/// it only after the caller is authorised, so a refused caller gets `denied` whatever it sent.
template <class T>
class Input {
public:
    // (clang-format 14 mangles requires-clauses)
    // clang-format off
    /// A value in hand (the CLI).
    template <class U>
        requires std::constructible_from<T, U&&> && (!std::invocable<U&>)
    Input(U&& value) : get_([v = T(std::forward<U>(value))] { return Result<T>(v); }) {}
    /// A parser; its errors are errc::bad_input naming the field.
    template <class F>
        requires std::is_invocable_r_v<Result<T>, F&>
    Input(F parse) : get_(std::move(parse)) {}
    // clang-format on

    Result<T> get() const { return get_(); }

private:
    std::function<Result<T>()> get_;
};

struct NewUser {
    std::string name;
    std::string password;
    std::string email;
    bool admin = false;
};

/// Absent fields stay as they are.
struct UserUpdate {
    std::optional<std::string> password;
    std::optional<std::string> email;
    std::optional<bool> admin;
    std::optional<bool> disabled;
};

struct ImportResult {
    std::vector<std::string> created;
    std::vector<std::string> skipped;  ///< names that already existed
};

struct NewOrg {
    std::string name;
    std::string default_visibility = "private";
    std::string description;
};

struct OrgUpdate {
    std::optional<std::string> default_visibility;
    std::optional<std::string> description;
};

struct TeamSpec {
    std::string role = "none";
    std::string ldap_group;
};

struct NewRobot {
    std::string name;
    std::string role;
    std::string description;
    std::int64_t expires_in = 0;  ///< seconds; 0: never
};

/// A robot just created: the row (hash cleared), its login name and the secret, shown once.
struct CreatedRobot {
    meta::RobotRow robot;
    std::string login;
    std::string secret;
};

struct NewToken {
    std::string name;
    std::string scopes;                    ///< "pull push delete manage", space-separated
    std::optional<std::int64_t> expires_in;  ///< seconds; default 90 days, at most one year
};

struct CreatedToken {
    meta::TokenRow token;  ///< hash cleared
    std::string secret;
};

/// A role on a repository for a user, team or robot.
struct GrantSpec {
    std::string subject_kind;  ///< user, team or robot
    std::string subject;       ///< a team or robot may be named without its "org/" or "org+" prefix
    std::string role;          ///< "none" removes the grant
};

/// A repository's visibility: its own setting ("inherit" when none) and the one that applies.
struct Visibility {
    std::string own;
    std::string effective;
};

/// The caller's identity and organisations with their role in each.
struct Me {
    Principal principal;
    std::optional<meta::UserRow> user;
    std::vector<meta::MemberRow> orgs;  ///< user = organisation name
};

constexpr std::int64_t default_token_lifetime = 90 * 86400;
constexpr std::int64_t max_token_lifetime = 366 * 86400;
constexpr std::int64_t max_robot_lifetime = 5 * 366 * 86400;
constexpr std::size_t max_audit_page = 1000;

/// "90d", "12h", "30m", "45s" or plain seconds → seconds; nullopt when malformed or negative.
std::optional<std::int64_t> parse_duration(std::string_view s);

/// An RFC 3339 UTC time ("2024-05-01T12:00:00Z") or Unix seconds → Unix milliseconds.
std::optional<std::int64_t> parse_time_ms(std::string_view s);

class Admin {
public:
    explicit Admin(Services& s) : s_(s) {}

    // Users -------------------------------------------------------------------------------
    Result<std::vector<meta::UserRow>> list_users(const Actor& a);
    Result<meta::UserRow> get_user(const Actor& a, std::string_view name);
    Result<meta::UserRow> create_user(const Actor& a, const Input<NewUser>& in);
    /// The user themself (with `manage`) or a global administrator; `admin` and `disabled` only
    /// the latter. A new password also ends the refresh tokens obtained with the old one.
    Result<meta::UserRow> update_user(const Actor& a, std::string_view name,
                                      const Input<UserUpdate>& in);
    Result<void> delete_user(const Actor& a, std::string_view name);
    /// Lifts a lockout of the user name (global administrators).
    Result<void> unlock_user(const Actor& a, std::string_view name);
    /// Creates a user for every bcrypt entry of an htpasswd file; existing names are skipped.
    Result<ImportResult> import_htpasswd(const Actor& a, std::string_view text);
    Result<Me> me(const Actor& a);

    // Organisations -------------------------------------------------------------------------
    Result<std::vector<meta::NamespaceRow>> list_orgs(const Actor& a);
    Result<meta::NamespaceRow> get_org(const Actor& a, std::string_view org);
    Result<meta::NamespaceRow> create_org(const Actor& a, const Input<NewOrg>& in);
    Result<meta::NamespaceRow> update_org(const Actor& a, std::string_view org,
                                          const Input<OrgUpdate>& in);
    Result<void> delete_org(const Actor& a, std::string_view org);

    Result<std::vector<meta::MemberRow>> list_members(const Actor& a, std::string_view org);
    Result<void> set_member(const Actor& a, std::string_view org, std::string_view user,
                            const Input<std::string>& role);
    Result<void> remove_member(const Actor& a, std::string_view org, std::string_view user);

    Result<std::vector<meta::TeamRow>> list_teams(const Actor& a, std::string_view org);
    Result<void> put_team(const Actor& a, std::string_view org, std::string_view team,
                          const Input<TeamSpec>& in);
    Result<void> delete_team(const Actor& a, std::string_view org, std::string_view team);
    Result<void> add_team_member(const Actor& a, std::string_view org, std::string_view team, std::string_view user);
    Result<void> remove_team_member(const Actor& a, std::string_view org, std::string_view team,
                                    std::string_view user);

    // Robots and tokens -----------------------------------------------------------------------
    Result<std::vector<meta::RobotRow>> list_robots(const Actor& a, std::string_view org);
    Result<CreatedRobot> create_robot(const Actor& a, std::string_view org,
                                      const Input<NewRobot>& in);
    Result<void> delete_robot(const Actor& a, std::string_view org, std::string_view name);

    Result<std::vector<meta::TokenRow>> list_tokens(const Actor& a, std::string_view user);
    Result<CreatedToken> create_token(const Actor& a, std::string_view user,
                                      const Input<NewToken>& in);
    Result<void> revoke_token(const Actor& a, std::string_view user, std::string_view name);

    // Repositories ----------------------------------------------------------------------------
    Result<std::vector<meta::GrantRow>> list_grants(const Actor& a, std::string_view repo);
    Result<void> set_grant(const Actor& a, std::string_view repo, const Input<GrantSpec>& in);
    Result<Visibility> get_visibility(const Actor& a, std::string_view repo);
    /// public, private or inherit (the namespace default).
    Result<void> set_visibility(const Actor& a, std::string_view repo,
                                const Input<std::string>& visibility);

    // Audit and keys --------------------------------------------------------------------------
    /// Newest first. Global admins see everything, organisation admins their organisations'
    /// entries and their own, everyone else their own. limit 1..1000.
    Result<std::vector<meta::AuditRow>> audit(const Actor& a, meta::AuditQuery q);
    /// A new signing key; returns its kid. Older keys keep verifying.
    Result<std::string> rotate_keys(const Actor& a);

private:
    template <class F>
    auto mutation(const Actor& a, std::string action, std::string object, F body);
    template <class F>
    auto reading(const Actor& a, std::string action, std::string object, F body) -> decltype(body());
    void record(const Actor& a, std::string action, std::string object, std::string outcome, std::string detail);
    Result<void> require_global_admin(const Actor& a);
    Result<void> require_org_admin(const Actor& a, std::string_view org);
    Result<void> require_org_reader(const Actor& a, std::string_view org);
    Result<void> require_repo_manager(const Actor& a, std::string_view repo);
    enum class Use { read, change };
    Result<meta::UserRow> self_or_admin(const Actor& a, std::string_view user, Use use);
    Result<void> keep_an_admin(const meta::UserRow& u, const UserUpdate* change);
    Result<bool> org_exists(std::string_view org);

    Services& s_;
};

/// The organisation an audit object belongs to ("org:acme/…", "repo:acme/…", "acme/app@…");
/// empty when none.
std::string audit_object_org(std::string_view object);

}  // namespace dermaga::auth
