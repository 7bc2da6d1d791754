// Management operations over a real store: who may do what, field validation, the last
// administrator, the audit trail, and secrets shown once.

#include "auth/admin.hpp"

#include <gtest/gtest.h>

#include <ctime>

#include "test_store.hpp"

using namespace dermaga;
using namespace dermaga::auth;

namespace {

struct AdminTest : ::testing::Test {
    fixture::TestStore store;
    fixture::FakeClock clock;
    Services services{*store.auth, clock, Options{}};
    Admin admin{services};
    Actor root, alice, bob, carol;  // root: global admin; alice: admin of acme; bob: member; carol: admin of other

    void SetUp() override {
        ASSERT_TRUE(services.tokens.init());
        root = actor("root", true);
        alice = actor("alice");
        bob = actor("bob");
        carol = actor("carol");
        ASSERT_TRUE(admin.create_org(root, NewOrg{"acme", "private", "ACME"}));
        ASSERT_TRUE(admin.create_org(root, NewOrg{"other", "private", ""}));
        ASSERT_TRUE(admin.set_member(root, "acme", "alice", "admin"));
        ASSERT_TRUE(admin.set_member(root, "acme", "bob", "read"));
        ASSERT_TRUE(admin.set_member(root, "other", "carol", "admin"));
    }

    Actor actor(const std::string& name, bool is_admin = false) {
        meta::UserRow u;
        u.name = name;
        u.admin = is_admin;
        u.password_hash = *hash_password("password-" + name);
        auto row = store.auth->create_user(u);
        EXPECT_TRUE(row) << row.error().detail;
        return Actor{user_principal(*row, "password"), "127.0.0.1", {}};
    }

    std::vector<meta::AuditRow> audit_rows(const std::string& action) {
        services.audit.flush();
        meta::AuditQuery q;
        q.action = action;
        return *store.auth->query_audit(q);
    }
};

template <class T>
std::error_code code_of(const Result<T>& r) {
    return r ? std::error_code() : r.error().code;
}

}  // namespace

TEST_F(AdminTest, UserManagementIsForGlobalAdmins) {
    EXPECT_EQ(code_of(admin.create_user(alice, NewUser{"eve", "password-eve", "", true})), errc::denied);
    EXPECT_EQ(code_of(admin.list_users(bob)), errc::denied);
    EXPECT_EQ(code_of(admin.delete_user(alice, "bob")), errc::denied);
    auto eve = admin.create_user(root, NewUser{"eve", "password-eve", "eve@example.com", false});
    ASSERT_TRUE(eve) << eve.error().detail;
    EXPECT_TRUE(eve->password_hash.empty()) << "hashes never leave auth/";
    EXPECT_EQ(code_of(admin.create_user(root, NewUser{"eve", "password-eve", "", false})), errc::conflict);
    EXPECT_TRUE(admin.delete_user(root, "eve"));
    EXPECT_EQ(code_of(admin.delete_user(root, "eve")), errc::not_found);
}

TEST_F(AdminTest, UsersChangeTheirOwnPasswordButNotTheirPowers) {
    EXPECT_TRUE(admin.update_user(bob, "bob", UserUpdate{std::string("new-password-1"), std::string("b@x.io"), {}, {}}));
    EXPECT_TRUE(verify_password("new-password-1", (*store.auth->user("bob"))->password_hash));
    EXPECT_EQ(code_of(admin.update_user(bob, "bob", UserUpdate{{}, {}, true, {}})), errc::denied);
    EXPECT_EQ(code_of(admin.update_user(alice, "alice", UserUpdate{{}, {}, true, {}})), errc::denied)
        << "an organisation admin cannot promote themself";
    EXPECT_EQ(code_of(admin.update_user(bob, "alice", UserUpdate{std::string("password-x1"), {}, {}, {}})), errc::denied);
    EXPECT_FALSE((*store.auth->user("alice"))->admin);
    EXPECT_TRUE(admin.get_user(bob, "bob"));
    EXPECT_EQ(code_of(admin.get_user(bob, "alice")), errc::denied);
}

TEST_F(AdminTest, ValidatesFields) {
    auto bad = admin.create_user(root, NewUser{"Bad Name", "password-1", "", false});
    ASSERT_EQ(code_of(bad), errc::bad_input);
    EXPECT_NE(bad.error().detail.find("name"), std::string::npos);
    auto weak = admin.create_user(root, NewUser{"weak", "short", "", false});
    ASSERT_EQ(code_of(weak), errc::bad_input);
    EXPECT_NE(weak.error().detail.find("password"), std::string::npos);
    EXPECT_EQ(code_of(admin.create_user(root, NewUser{"mail", "password-1", "not-an-email", false})), errc::bad_input);
    EXPECT_EQ(code_of(admin.set_member(root, "acme", "bob", "owner")), errc::bad_input);
    EXPECT_EQ(code_of(admin.put_team(root, "acme", "devs", TeamSpec{"superuser", ""})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_org(root, NewOrg{"pub", "hidden", ""})), errc::bad_input);
    EXPECT_EQ(code_of(admin.set_visibility(root, "acme/app", "secret")), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_token(bob, "bob", NewToken{"t", "pull fly", {}})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_token(bob, "bob", NewToken{"t", "", {}})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_token(bob, "bob", NewToken{"t", "pull", 400 * 86400})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_token(bob, "bob", NewToken{"t", "pull", 0})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_robot(alice, "acme", NewRobot{"ci", "write", "", -5})), errc::bad_input);
    EXPECT_EQ(code_of(admin.create_robot(alice, "acme", NewRobot{"ci", "root", "", 0})), errc::bad_input);
    meta::AuditQuery q;
    q.limit = 5000;
    EXPECT_EQ(code_of(admin.audit(root, q)), errc::bad_input);
}

TEST_F(AdminTest, DeniedBeforeValidated) {
    // A refused caller learns nothing about the input.
    EXPECT_EQ(code_of(admin.create_user(bob, NewUser{"Bad Name", "x", "", false})), errc::denied);
    EXPECT_EQ(code_of(admin.set_member(carol, "acme", "bob", "owner")), errc::denied);
}

TEST_F(AdminTest, OrganisationAdminsManageOnlyTheirOrganisation) {
    EXPECT_TRUE(admin.set_member(alice, "acme", "carol", "write"));
    EXPECT_TRUE(admin.put_team(alice, "acme", "devs", TeamSpec{"write", "cn=devs,dc=x"}));
    EXPECT_TRUE(admin.add_team_member(alice, "acme", "devs", "bob"));
    EXPECT_TRUE(admin.set_grant(alice, "acme/app", GrantSpec{"team", "devs", "delete"}));
    EXPECT_TRUE(admin.set_visibility(alice, "acme/app", "public"));
    EXPECT_EQ(admin.get_visibility(alice, "acme/app")->effective, "public");

    EXPECT_EQ(code_of(admin.set_member(carol, "acme", "carol", "admin")), errc::denied);
    EXPECT_EQ(code_of(admin.set_member(alice, "other", "alice", "admin")), errc::denied);
    EXPECT_EQ(code_of(admin.put_team(carol, "acme", "x", TeamSpec{"read", ""})), errc::denied);
    EXPECT_EQ(code_of(admin.create_robot(carol, "acme", NewRobot{"ci", "write", "", 0})), errc::denied);
    EXPECT_EQ(code_of(admin.set_grant(carol, "acme/app", GrantSpec{"user", "carol", "admin"})),
              errc::denied);
    EXPECT_EQ(code_of(admin.set_visibility(alice, "other/app", "public")), errc::denied);
    EXPECT_EQ(code_of(admin.create_org(alice, NewOrg{"mine", "private", ""})), errc::denied);
    EXPECT_EQ(code_of(admin.delete_org(alice, "acme")), errc::denied);

    // A plain member reads but does not change.
    EXPECT_TRUE(admin.list_members(bob, "acme"));
    EXPECT_EQ(code_of(admin.set_member(bob, "acme", "bob", "admin")), errc::denied);
    EXPECT_EQ(code_of(admin.list_members(bob, "other")), errc::denied);
    auto orgs = admin.list_orgs(bob);
    ASSERT_TRUE(orgs);
    ASSERT_EQ(orgs->size(), 1u);
    EXPECT_EQ((*orgs)[0].name, "acme");
}

TEST_F(AdminTest, TheLastAdministratorStays) {
    EXPECT_EQ(code_of(admin.delete_user(root, "root")), errc::conflict);
    EXPECT_EQ(code_of(admin.update_user(root, "root", UserUpdate{{}, {}, false, {}})), errc::conflict);
    EXPECT_EQ(code_of(admin.update_user(root, "root", UserUpdate{{}, {}, {}, true})), errc::conflict);
    ASSERT_TRUE(admin.update_user(root, "bob", UserUpdate{{}, {}, true, {}}));
    EXPECT_TRUE(admin.update_user(root, "root", UserUpdate{{}, {}, false, {}}));
    EXPECT_FALSE((*store.auth->user("root"))->admin);
}

TEST_F(AdminTest, MutationsAndDenialsAreAudited) {
    ASSERT_TRUE(admin.put_team(alice, "acme", "devs", TeamSpec{"read", ""}));
    ASSERT_FALSE(admin.put_team(carol, "acme", "devs", TeamSpec{"admin", ""}));
    ASSERT_FALSE(admin.create_user(bob, NewUser{"x", "password-secret-1", "", true}));
    auto teams = audit_rows("team.put");
    ASSERT_EQ(teams.size(), 2u);
    EXPECT_EQ(teams[0].actor, "carol");
    EXPECT_EQ(teams[0].outcome, "denied");
    EXPECT_EQ(teams[0].object, "org:acme/team:devs");
    EXPECT_EQ(teams[1].actor, "alice");
    EXPECT_EQ(teams[1].outcome, "allowed");
    EXPECT_EQ(teams[1].address, "127.0.0.1");
    auto users = audit_rows("user.create");
    ASSERT_FALSE(users.empty());
    EXPECT_EQ(users[0].outcome, "denied");
    for (const auto& row : audit_rows("")) {
        EXPECT_EQ(row.detail.find("password-"), std::string::npos) << row.action << ": " << row.detail;
    }
}

TEST_F(AdminTest, AuditVisibilityFollowsRoles) {
    ASSERT_TRUE(admin.put_team(alice, "acme", "devs", TeamSpec{"read", ""}));
    ASSERT_TRUE(admin.put_team(carol, "other", "ops", TeamSpec{"read", ""}));
    ASSERT_TRUE(admin.create_token(bob, "bob", NewToken{"laptop", "pull", {}}));
    services.audit.flush();
    meta::AuditQuery q;
    auto all = admin.audit(root, q);
    ASSERT_TRUE(all);
    auto mine = admin.audit(alice, q);
    ASSERT_TRUE(mine);
    for (const auto& row : *mine) {
        EXPECT_TRUE(row.actor == "alice" || audit_object_org(row.object) == "acme") << row.object;
    }
    EXPECT_LT(mine->size(), all->size());
    auto own = admin.audit(bob, q);
    ASSERT_TRUE(own);
    ASSERT_EQ(own->size(), 1u);
    EXPECT_EQ((*own)[0].action, "token.create");
    q.actor = "alice";
    EXPECT_TRUE(admin.audit(bob, q)->empty());
    // Paging: newest first, before_id continues.
    meta::AuditQuery page;
    page.limit = 2;
    auto first = *admin.audit(root, page);
    ASSERT_EQ(first.size(), 2u);
    page.before_id = first.back().id;
    auto second = *admin.audit(root, page);
    ASSERT_FALSE(second.empty());
    EXPECT_LT(second.front().id, first.back().id);
}

TEST_F(AdminTest, SecretsAreShownOnceAndStoredHashed) {
    auto robot = admin.create_robot(alice, "acme", NewRobot{"ci", "write", "CI pushes", 30 * 86400});
    ASSERT_TRUE(robot) << robot.error().detail;
    EXPECT_EQ(robot->secret.rfind(robot_prefix, 0), 0u);
    EXPECT_EQ(robot->login, "acme+ci");
    EXPECT_TRUE(robot->robot.secret_hash.empty());
    EXPECT_EQ((*store.auth->robot("acme", "ci"))->secret_hash, secret_hash(robot->secret));
    EXPECT_EQ(robot->robot.expires_at, clock.now_unix() + 30 * 86400);
    const auto robots = admin.list_robots(alice, "acme");
    ASSERT_TRUE(robots);
    for (const auto& r : *robots) {
        EXPECT_TRUE(r.secret_hash.empty());
    }
    EXPECT_TRUE(services.authn.login("acme+ci", robot->secret, "127.0.0.1"));

    auto pat = admin.create_token(bob, "bob", NewToken{"laptop", "pull push", {}});
    ASSERT_TRUE(pat) << pat.error().detail;
    EXPECT_EQ(pat->secret.rfind(pat_prefix, 0), 0u);
    EXPECT_EQ(pat->token.expires_at, clock.now_unix() + default_token_lifetime);
    EXPECT_EQ(pat->token.scopes, "pull push");
    auto listed = admin.list_tokens(bob, "bob");
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_TRUE((*listed)[0].secret_hash.empty());
    EXPECT_TRUE(store.auth->token_by_hash(secret_hash(pat->secret)).value().has_value());
    EXPECT_EQ(code_of(admin.list_tokens(alice, "bob")), errc::denied);
    EXPECT_TRUE(admin.list_tokens(root, "bob"));
    EXPECT_EQ(code_of(admin.create_token(bob, "bob", NewToken{"laptop", "pull", {}})), errc::conflict);
    ASSERT_TRUE(admin.revoke_token(bob, "bob", "laptop"));
    EXPECT_FALSE(services.authn.login("bob", pat->secret, "127.0.0.1"));
    for (const auto& row : audit_rows("")) {
        EXPECT_EQ(row.detail.find(pat->secret), std::string::npos);
        EXPECT_EQ(row.detail.find(robot->secret), std::string::npos);
    }
}

TEST_F(AdminTest, ATokenWithoutManageCannotAdminister) {
    Actor scoped = root;
    scoped.principal.scope = pull | push;
    scoped.principal.token_id = 1;
    EXPECT_EQ(code_of(admin.create_user(scoped, NewUser{"x1", "password-1", "", false})), errc::denied);
    EXPECT_EQ(code_of(admin.create_token(scoped, "root", NewToken{"more", "manage", {}})), errc::denied);
}

TEST_F(AdminTest, ImportsHtpasswdBcryptEntries) {
    // bcrypt of "pw-12345678"
    const std::string text =
        "dave:$2b$12$QCgsqtawcVCqvNBCde.lL.Pflm0LMKYQWgAfq/aiPmrPCKUZzsQw6\n"
        "bob:$2b$12$QCgsqtawcVCqvNBCde.lL.Pflm0LMKYQWgAfq/aiPmrPCKUZzsQw6\n";
    EXPECT_EQ(code_of(admin.import_htpasswd(alice, text)), errc::denied);
    auto r = admin.import_htpasswd(root, text);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->created, std::vector<std::string>{"dave"});
    EXPECT_EQ(r->skipped, std::vector<std::string>{"bob"});
    EXPECT_TRUE(services.authn.login("dave", "pw-12345678", "127.0.0.1"));
    EXPECT_EQ(code_of(admin.import_htpasswd(root, "x:{SHA}abc\n")), errc::bad_input);
}

TEST_F(AdminTest, RotatesKeysAndOldTokensStillVerify) {
    auto token = services.tokens.issue(root.principal, {});
    ASSERT_TRUE(token);
    EXPECT_EQ(code_of(admin.rotate_keys(alice)), errc::denied);
    auto kid = admin.rotate_keys(root);
    ASSERT_TRUE(kid) << kid.error().detail;
    EXPECT_TRUE(services.tokens.verify(*token));
}

TEST_F(AdminTest, SelfMeansTheSameAccountNotTheSameName) {
    const Actor old_bob = bob;
    ASSERT_TRUE(admin.delete_user(root, "bob"));
    ASSERT_TRUE(admin.create_user(root, NewUser{"bob", "password-new-bob", "", false}));
    EXPECT_EQ(code_of(admin.update_user(old_bob, "bob",
                                        UserUpdate{std::string("taken-over-1"), {}, {}, {}})),
              errc::denied);
    EXPECT_EQ(code_of(admin.get_user(old_bob, "bob")), errc::denied);
    EXPECT_EQ(code_of(admin.list_tokens(old_bob, "bob")), errc::denied);
    EXPECT_EQ(code_of(admin.create_token(old_bob, "bob", NewToken{"mine", "pull", {}})),
              errc::denied);
    auto me = admin.me(old_bob);
    ASSERT_TRUE(me);
    EXPECT_FALSE(me->user.has_value()) << "me() reads the account by id";
    EXPECT_TRUE(verify_password("password-new-bob", (*store.auth->user("bob"))->password_hash));
}

TEST_F(AdminTest, ATokenWithoutManageReadsTheAccountButDoesNotChangeIt) {
    ASSERT_TRUE(admin.create_token(bob, "bob", NewToken{"other", "pull", {}}));
    Actor scoped = bob;
    scoped.principal.scope = pull | push | del;
    EXPECT_TRUE(admin.get_user(scoped, "bob"));
    EXPECT_TRUE(admin.list_tokens(scoped, "bob"));
    EXPECT_EQ(code_of(admin.update_user(scoped, "bob",
                                        UserUpdate{std::string("stolen-pass-1"), {}, {}, {}})),
              errc::denied);
    EXPECT_EQ(code_of(admin.update_user(scoped, "bob",
                                        UserUpdate{{}, std::string("b@evil.example"), {}, {}})),
              errc::denied);
    EXPECT_EQ(code_of(admin.revoke_token(scoped, "bob", "other")), errc::denied);
    EXPECT_EQ(code_of(admin.create_token(scoped, "bob", NewToken{"more", "pull", {}})),
              errc::denied);
    EXPECT_TRUE(verify_password("password-bob", (*store.auth->user("bob"))->password_hash));
    scoped.principal.scope |= manage;
    EXPECT_TRUE(
        admin.update_user(scoped, "bob", UserUpdate{{}, std::string("b@example.org"), {}, {}}));
}

TEST_F(AdminTest, ARefusedCallersInputIsNeverRead) {
    int reads = 0;
    auto parser = [&reads]<class T>(T) {
        return [&reads]() -> Result<T> {
            ++reads;
            return fail(errc::bad_input, "malformed");
        };
    };
    EXPECT_EQ(code_of(admin.create_user(bob, parser(NewUser{}))), errc::denied);
    EXPECT_EQ(code_of(admin.update_user(bob, "alice", parser(UserUpdate{}))), errc::denied);
    EXPECT_EQ(code_of(admin.create_token(carol, "bob", parser(NewToken{}))), errc::denied);
    EXPECT_EQ(code_of(admin.create_org(alice, parser(NewOrg{}))), errc::denied);
    EXPECT_EQ(code_of(admin.update_org(bob, "acme", parser(OrgUpdate{}))), errc::denied);
    EXPECT_EQ(code_of(admin.set_member(carol, "acme", "bob", parser(std::string()))), errc::denied);
    EXPECT_EQ(code_of(admin.put_team(carol, "acme", "devs", parser(TeamSpec{}))), errc::denied);
    EXPECT_EQ(code_of(admin.create_robot(carol, "acme", parser(NewRobot{}))), errc::denied);
    EXPECT_EQ(code_of(admin.set_grant(carol, "acme/app", parser(GrantSpec{}))), errc::denied);
    EXPECT_EQ(code_of(admin.set_visibility(carol, "acme/app", parser(std::string()))),
              errc::denied);
    EXPECT_EQ(reads, 0);
    EXPECT_EQ(code_of(admin.create_user(root, parser(NewUser{}))), errc::bad_input);
    EXPECT_EQ(reads, 1);
}

TEST_F(AdminTest, ANewPasswordEndsTheRefreshTokensOfTheOldOne) {
    auto bobs = services.tokens.issue_refresh(bob.principal);
    auto alices = services.tokens.issue_refresh(alice.principal);
    ASSERT_TRUE(bobs && alices);
    ASSERT_TRUE(
        admin.update_user(bob, "bob", UserUpdate{{}, std::string("b@example.org"), {}, {}}));
    EXPECT_TRUE(services.tokens.check_refresh(*bobs)) << "an email change leaves them";
    ASSERT_TRUE(
        admin.update_user(bob, "bob", UserUpdate{std::string("password-bob-2"), {}, {}, {}}));
    EXPECT_FALSE(services.tokens.check_refresh(*bobs));
    EXPECT_TRUE(services.tokens.check_refresh(*alices));
}

TEST_F(AdminTest, ARecreatedAccountSeesNoAuditOfItsPredecessor) {
    const std::int64_t now = std::time(nullptr);
    meta::AuditRow earlier;
    earlier.at = (now - 10) * 1000;
    earlier.actor = "bob";
    earlier.actor_kind = "user";
    earlier.action = "token.create";
    earlier.object = "user:bob/token:secret-project";
    earlier.outcome = "allowed";
    ASSERT_TRUE(store.auth->append_audit({earlier}));
    EXPECT_EQ(admin.audit(bob, meta::AuditQuery{})->size(), 1u) << "the old bob sees his own entry";
    ASSERT_TRUE(admin.delete_user(root, "bob"));
    clock.now = now;  // audit entries carry wall-clock times
    auto created = admin.create_user(root, NewUser{"bob", "password-new-bob", "", false});
    ASSERT_TRUE(created);
    const Actor new_bob{user_principal(**store.auth->user("bob"), "password"), "127.0.0.1", {}};
    ASSERT_TRUE(admin.create_token(new_bob, "bob", NewToken{"laptop", "pull", {}}));
    auto seen = admin.audit(new_bob, meta::AuditQuery{});
    ASSERT_TRUE(seen);
    ASSERT_EQ(seen->size(), 1u);
    EXPECT_EQ((*seen)[0].object, "user:bob/token:laptop");
}

TEST(ParseDuration, UnitsAndErrors) {
    EXPECT_EQ(parse_duration("90d"), 90 * 86400);
    EXPECT_EQ(parse_duration("12h"), 12 * 3600);
    EXPECT_EQ(parse_duration("30m"), 1800);
    EXPECT_EQ(parse_duration("45"), 45);
    EXPECT_FALSE(parse_duration("-1d"));
    EXPECT_FALSE(parse_duration("d"));
    EXPECT_FALSE(parse_duration("1w"));
}
