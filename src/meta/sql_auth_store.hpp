#pragma once
// AuthStore over the SQL layer, on the same database as SqlMetaStore. Internal to meta/: get
// one from SqlMetaStore::auth_store().

#include <memory>

#include "meta/auth_store.hpp"
#include "sql/sql.hpp"

namespace dermaga::meta {

class SqlAuthStore final : public AuthStore {
public:
    explicit SqlAuthStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {}

    Result<UserRow> create_user(const UserRow& u) override;
    Result<std::optional<UserRow>> user(std::string_view name) override;
    Result<std::optional<UserRow>> user_by_id(std::int64_t id) override;
    Result<std::vector<UserRow>> users() override;
    Result<bool> update_user(const UserRow& u) override;
    Result<bool> delete_user(std::string_view name) override;
    Result<std::int64_t> count_admins() override;

    Result<NamespaceRow> create_org(const NamespaceRow& org) override;
    Result<std::optional<NamespaceRow>> namespace_row(std::string_view name) override;
    Result<std::vector<NamespaceRow>> orgs() override;
    Result<bool> update_org(const NamespaceRow& org) override;
    Result<bool> delete_org(std::string_view name) override;

    Result<void> set_member(std::string_view org, std::string_view user, int role) override;
    Result<bool> remove_member(std::string_view org, std::string_view user) override;
    Result<std::vector<MemberRow>> members(std::string_view org) override;
    Result<std::vector<std::string>> orgs_of(std::int64_t user_id) override;
    Result<void> put_team(const TeamRow& t) override;
    Result<bool> delete_team(std::string_view org, std::string_view team) override;
    Result<std::vector<TeamRow>> teams(std::string_view org) override;
    Result<void> add_team_member(std::string_view org, std::string_view team, std::string_view user) override;
    Result<bool> remove_team_member(std::string_view org, std::string_view team, std::string_view user) override;
    Result<void> sync_ldap_teams(std::int64_t user_id, const std::vector<std::string>& group_dns) override;

    Result<void> set_grant(const GrantRow& g) override;
    Result<bool> remove_grant(std::string_view repo, std::string_view subject_kind, std::string_view subject) override;
    Result<std::vector<GrantRow>> grants(std::string_view repo) override;
    Result<void> set_visibility(std::string_view repo, std::string_view visibility) override;
    Result<AccessFacts> access_facts(const Subject& subject, std::int64_t now, std::string_view ns,
                                     std::string_view repo) override;
    Result<SubjectState> subject_state(const Subject& subject, std::int64_t now) override;

    Result<Page> readable_repositories(std::string_view subject_kind, std::int64_t subject_id, std::string_view last,
                                       std::size_t n) override;

    Result<RobotRow> create_robot(const RobotRow& r) override;
    Result<std::optional<RobotRow>> robot(std::string_view org, std::string_view name) override;
    Result<std::optional<RobotRow>> robot_by_id(std::int64_t id) override;
    Result<std::vector<RobotRow>> robots(std::string_view org) override;
    Result<bool> delete_robot(std::string_view org, std::string_view name) override;
    Result<TokenRow> create_token(const TokenRow& t) override;
    Result<std::optional<TokenRow>> token_by_hash(std::string_view secret_hash) override;
    Result<std::optional<TokenRow>> token_by_id(std::int64_t id) override;
    Result<std::vector<TokenRow>> tokens(std::int64_t user_id) override;
    Result<bool> revoke_token(std::int64_t user_id, std::string_view name) override;
    Result<void> touch_token(std::int64_t id, std::int64_t now) override;
    Result<void> put_refresh(std::string_view secret_hash, const RefreshRow& r, std::int64_t now) override;
    Result<std::optional<RefreshRow>> refresh(std::string_view secret_hash) override;
    Result<void> delete_refresh_tokens(std::string_view subject_kind,
                                       std::int64_t subject_id) override;

    Result<std::vector<SigningKeyRow>> signing_keys() override;
    Result<void> rotate_signing_key(const SigningKeyRow& k) override;
    Result<void> add_first_signing_key(const SigningKeyRow& k) override;

    Result<LoginState> login_state(std::string_view key, std::int64_t now, std::int64_t window) override;
    Result<LoginState> login_failed(std::string_view key, std::int64_t now, std::int64_t window,
                                    std::int64_t threshold, std::int64_t lock_seconds) override;
    Result<void> login_succeeded(std::string_view key) override;
    Result<void> login_unlock(std::string_view key) override;

    Result<void> append_audit(const std::vector<AuditRow>& rows) override;
    Result<std::vector<AuditRow>> query_audit(const AuditQuery& q) override;

private:
    std::shared_ptr<sql::Database> db_;
};

}  // namespace dermaga::meta
