#pragma once
// AuthStore: identities, namespaces, roles, machine credentials, signing keys, login
// throttling and the audit trail. Like MetaStore: every method is one transaction, blocks,
// and is thread-safe. Roles are integers 0 none .. 4 admin (see schema 003).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "meta/meta_store.hpp"

namespace dermaga::meta {

struct NamespaceRow {
    std::int64_t id = 0;
    std::string name;
    std::string kind;  ///< "user" or "org"
    std::string default_visibility = "private";
    std::string description;
    std::int64_t created_at = 0;
};

struct UserRow {
    std::int64_t id = 0;
    std::string name;
    std::int64_t ns_id = 0;
    std::string password_hash;
    std::string email;
    bool admin = false;
    bool disabled = false;
    std::string source = "local";
    std::int64_t created_at = 0;
};

struct MemberRow {
    std::string user;
    int role = 0;
};

struct TeamRow {
    std::int64_t id = 0;
    std::string org;
    std::string name;
    int role = 0;
    std::string ldap_group;
    std::vector<std::string> members;
};

struct RobotRow {
    std::int64_t id = 0;
    std::string org;
    std::int64_t org_id = 0;
    std::string name;  ///< without the "<org>+" prefix
    std::string secret_hash;
    int role = 0;
    std::string description;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;  ///< 0: never
    bool disabled = false;
};

struct TokenRow {
    std::int64_t id = 0;
    std::int64_t user_id = 0;
    std::string user;
    std::string name;
    std::string secret_hash;
    std::string scopes;  ///< space-separated
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::int64_t last_used = 0;
    bool revoked = false;
};

struct GrantRow {
    std::string repo;
    std::string subject_kind;  ///< "user", "team" (name "org/team") or "robot" (name "org+robot")
    std::string subject;
    int role = 0;
};

struct RefreshRow {
    std::string subject_kind;  ///< "user", "robot" or "pat"
    std::int64_t subject_id = 0;
    std::int64_t expires_at = 0;
};

struct SigningKeyRow {
    std::string kid;
    std::string private_pem;
    std::int64_t created_at = 0;
    std::int64_t retired_at = 0;
};

struct AuditRow {
    std::int64_t id = 0;
    std::int64_t at = 0;  ///< Unix milliseconds
    std::string actor;
    std::string actor_kind;
    std::string address;
    std::string action;
    std::string object;
    std::string outcome;  ///< "allowed", "denied", "failed", "locked", ...
    std::string detail;
};

struct AuditQuery {
    std::string actor, action, object_prefix, outcome;
    std::int64_t since = 0, until = 0;  ///< ms; 0: unbounded
    std::int64_t before_id = 0;         ///< paging: entries older than this id; 0: newest
    std::size_t limit = 100;
};

/// Who a credential stands for. Ids are never reused, so a subject names one account for
/// ever, whatever later happens to its name.
struct Subject {
    std::string_view kind = "anonymous";  ///< "anonymous", "user" or "robot"
    std::int64_t id = 0;                  ///< the user's or robot's id
    std::int64_t token_id = 0;            ///< the personal access token it came from; 0: none
};

/// A subject as it stands now.
struct SubjectState {
    /// The account exists, is enabled and (a robot) unexpired, and the personal access token
    /// it came from, if any, is its own, unrevoked and unexpired. Always true for anonymous.
    /// A credential whose subject is not live must grant nothing, not even public pulls.
    bool live = true;
    bool admin = false;      ///< a live global administrator
    std::int64_t ns_id = 0;  ///< a live user's own namespace id
};

/// What decides a subject's access to one repository, read in one snapshot.
struct AccessFacts {
    SubjectState subject;
    std::optional<NamespaceRow> ns;  ///< absent: nobody owns the first path component
    std::string repo_visibility;     ///< "" when the repository has no setting of its own
    int org_role = 0;                ///< best organisation-wide role (membership, teams, robot role)
    int repo_role = 0;               ///< best role granted on this repository
};

struct LoginState {
    std::int64_t failures = 0;
    std::int64_t locked_until = 0;
};

class AuthStore {
public:
    virtual ~AuthStore() = default;

    // Users and namespaces ----------------------------------------------------------------
    /// Creates the user and their namespace. Errors: errc::conflict when the name is taken
    /// by a user or an organisation.
    virtual Result<UserRow> create_user(const UserRow& u) = 0;
    virtual Result<std::optional<UserRow>> user(std::string_view name) = 0;
    virtual Result<std::optional<UserRow>> user_by_id(std::int64_t id) = 0;
    virtual Result<std::vector<UserRow>> users() = 0;
    /// Updates password_hash, email, admin, disabled (by id). false when absent.
    virtual Result<bool> update_user(const UserRow& u) = 0;
    /// Deletes the user, their namespace, memberships, grants and tokens. false when absent.
    /// Errors: errc::conflict when repositories still live in the namespace.
    virtual Result<bool> delete_user(std::string_view name) = 0;
    virtual Result<std::int64_t> count_admins() = 0;

    virtual Result<NamespaceRow> create_org(const NamespaceRow& org) = 0;
    virtual Result<std::optional<NamespaceRow>> namespace_row(std::string_view name) = 0;
    virtual Result<std::vector<NamespaceRow>> orgs() = 0;
    virtual Result<bool> update_org(const NamespaceRow& org) = 0;
    /// Deletes the organisation with its teams, robots, members and grants. Errors:
    /// errc::conflict when repositories still live in it.
    virtual Result<bool> delete_org(std::string_view name) = 0;

    // Memberships and teams ---------------------------------------------------------------
    virtual Result<void> set_member(std::string_view org, std::string_view user, int role) = 0;
    /// Also removes the user from the organisation's teams.
    virtual Result<bool> remove_member(std::string_view org, std::string_view user) = 0;
    virtual Result<std::vector<MemberRow>> members(std::string_view org) = 0;
    /// Organisations `user` belongs to.
    virtual Result<std::vector<std::string>> orgs_of(std::int64_t user_id) = 0;

    /// Creates or updates (role, ldap_group) a team.
    virtual Result<void> put_team(const TeamRow& t) = 0;
    virtual Result<bool> delete_team(std::string_view org, std::string_view team) = 0;
    virtual Result<std::vector<TeamRow>> teams(std::string_view org) = 0;
    /// Adds to a team (and to the organisation with role 0 when not yet a member).
    virtual Result<void> add_team_member(std::string_view org, std::string_view team, std::string_view user) = 0;
    virtual Result<bool> remove_team_member(std::string_view org, std::string_view team, std::string_view user) = 0;
    /// Makes the user's membership of LDAP-linked teams match `group_dns` (case-insensitive).
    virtual Result<void> sync_ldap_teams(std::int64_t user_id, const std::vector<std::string>& group_dns) = 0;

    // Repository permissions --------------------------------------------------------------
    virtual Result<void> set_grant(const GrantRow& g) = 0;
    virtual Result<bool> remove_grant(std::string_view repo, std::string_view subject_kind, std::string_view subject) = 0;
    virtual Result<std::vector<GrantRow>> grants(std::string_view repo) = 0;
    /// visibility "" removes the setting (back to the namespace default).
    virtual Result<void> set_visibility(std::string_view repo, std::string_view visibility) = 0;
    /// What decides `subject`'s access to `repo` (whose namespace is `ns`) at Unix time `now`.
    /// When the subject is not live, or is a global administrator, only `subject` is read.
    virtual Result<AccessFacts> access_facts(const Subject& subject, std::int64_t now,
                                             std::string_view ns, std::string_view repo) = 0;
    /// `subject` at Unix time `now`, in one indexed read (the same rules as access_facts).
    virtual Result<SubjectState> subject_state(const Subject& subject, std::int64_t now) = 0;
    /// The catalog page `subject` may pull from: repositories with a manifest, after `last`, at
    /// most `n`, by the same rules as access_facts (public, own namespace, an organisation
    /// role or a repository grant of at least read). subject_kind "admin" lists everything,
    /// "anonymous" only public repositories. One index-ordered query: the cost follows the
    /// page, and names the subject may not read never leave the store.
    virtual Result<Page> readable_repositories(std::string_view subject_kind, std::int64_t subject_id,
                                               std::string_view last, std::size_t n) = 0;

    // Robots and tokens ---------------------------------------------------------------------
    virtual Result<RobotRow> create_robot(const RobotRow& r) = 0;
    virtual Result<std::optional<RobotRow>> robot(std::string_view org, std::string_view name) = 0;
    virtual Result<std::optional<RobotRow>> robot_by_id(std::int64_t id) = 0;
    virtual Result<std::vector<RobotRow>> robots(std::string_view org) = 0;
    virtual Result<bool> delete_robot(std::string_view org, std::string_view name) = 0;

    virtual Result<TokenRow> create_token(const TokenRow& t) = 0;
    virtual Result<std::optional<TokenRow>> token_by_hash(std::string_view secret_hash) = 0;
    virtual Result<std::optional<TokenRow>> token_by_id(std::int64_t id) = 0;
    virtual Result<std::vector<TokenRow>> tokens(std::int64_t user_id) = 0;
    virtual Result<bool> revoke_token(std::int64_t user_id, std::string_view name) = 0;
    virtual Result<void> touch_token(std::int64_t id, std::int64_t now) = 0;

    virtual Result<void> put_refresh(std::string_view secret_hash, const RefreshRow& r, std::int64_t now) = 0;
    virtual Result<std::optional<RefreshRow>> refresh(std::string_view secret_hash) = 0;
    /// Deletes every refresh token of `subject_kind` ("user", "robot" or "pat") `subject_id`:
    /// the credential they were obtained with has changed.
    virtual Result<void> delete_refresh_tokens(std::string_view subject_kind,
                                               std::int64_t subject_id) = 0;

    // Signing keys --------------------------------------------------------------------------
    virtual Result<std::vector<SigningKeyRow>> signing_keys() = 0;
    /// Adds `k` as the signing key and retires the others at `k.created_at`.
    virtual Result<void> rotate_signing_key(const SigningKeyRow& k) = 0;
    /// Inserts `k` only when no key exists yet (first start of many nodes at once).
    virtual Result<void> add_first_signing_key(const SigningKeyRow& k) = 0;

    // Login throttling ----------------------------------------------------------------------
    virtual Result<LoginState> login_state(std::string_view key, std::int64_t now, std::int64_t window) = 0;
    /// Counts a failure (the window restarts after `window` seconds); locks the key until
    /// now + lock_seconds once `threshold` failures are in the window. Returns the new state.
    virtual Result<LoginState> login_failed(std::string_view key, std::int64_t now, std::int64_t window,
                                            std::int64_t threshold, std::int64_t lock_seconds) = 0;
    virtual Result<void> login_succeeded(std::string_view key) = 0;
    /// Forgets the failures and any lock of `key` (an administrator's unlock).
    virtual Result<void> login_unlock(std::string_view key) = 0;

    // Audit ---------------------------------------------------------------------------------
    /// Appends entries in one transaction (`at` set by the caller).
    virtual Result<void> append_audit(const std::vector<AuditRow>& rows) = 0;
    /// Newest first.
    virtual Result<std::vector<AuditRow>> query_audit(const AuditQuery& q) = 0;
};

}  // namespace dermaga::meta
