// The decision point over a real store: namespaces, roles via membership, teams and grants,
// visibility, robots and token scopes.

#include <gtest/gtest.h>

#include "auth/authenticator.hpp"
#include "auth/authorizer.hpp"
#include "test_store.hpp"

using namespace dermaga;
using namespace dermaga::auth;

namespace {

struct AuthorizerTest : ::testing::Test {
    fixture::TestStore store;
    fixture::FakeClock clock;
    Authorizer authz{*store.auth, clock};

    Principal user(const std::string& name, bool admin = false) {
        meta::UserRow u;
        u.name = name;
        u.admin = admin;
        u.password_hash = *hash_password("password-" + name);
        u.created_at = clock.now_unix();
        auto row = store.auth->create_user(u);
        EXPECT_TRUE(row) << row.error().detail;
        return user_principal(*row, "password");
    }
    unsigned can(const Principal& p, const std::string& repo) {
        auto r = authz.actions(p, repo);
        EXPECT_TRUE(r) << r.error().detail;
        return r.value_or(0);
    }
};

}  // namespace

TEST_F(AuthorizerTest, OwnNamespaceAdminOthersNothing) {
    auto alice = user("alice");
    auto bob = user("bob");
    EXPECT_EQ(can(alice, "alice/app"), all_actions);
    EXPECT_EQ(can(bob, "alice/app"), 0u);
    EXPECT_EQ(can(Principal{}, "alice/app"), 0u);
    EXPECT_EQ(can(alice, "nobody/app"), 0u) << "unowned namespaces are admin-only";
    EXPECT_EQ(can(user("root", true), "nobody/app"), all_actions);
}

TEST_F(AuthorizerTest, OrgRolesTeamsAndRepoGrants) {
    auto alice = user("alice");
    auto bob = user("bob");
    auto carol = user("carol");
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "acme", "org", "private", "", clock.now_unix()}));
    ASSERT_TRUE(store.auth->set_member("acme", "alice", 4));
    ASSERT_TRUE(store.auth->put_team(meta::TeamRow{0, "acme", "devs", 2, "", {}}));
    ASSERT_TRUE(store.auth->add_team_member("acme", "devs", "bob"));
    ASSERT_TRUE(store.auth->set_grant(meta::GrantRow{"acme/secret", "user", "carol", 1}));
    EXPECT_EQ(can(alice, "acme/app"), all_actions);
    EXPECT_EQ(can(bob, "acme/app"), static_cast<unsigned>(pull | push));
    EXPECT_EQ(can(carol, "acme/app"), 0u);
    EXPECT_EQ(can(carol, "acme/secret"), static_cast<unsigned>(pull));
    EXPECT_EQ(*authz.org_role(alice, "acme"), Role::admin);
    EXPECT_EQ(*authz.org_role(bob, "acme"), Role::write);
    EXPECT_EQ(*authz.org_role(carol, "acme"), Role::none);
    // Removing bob from the organisation takes his team role with it.
    ASSERT_TRUE(store.auth->remove_member("acme", "bob"));
    EXPECT_EQ(can(bob, "acme/app"), 0u);
}

TEST_F(AuthorizerTest, VisibilityDefaultsAndOverrides) {
    auto bob = user("bob");
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "pub", "org", "public", "", clock.now_unix()}));
    EXPECT_EQ(can(Principal{}, "pub/app"), static_cast<unsigned>(pull));
    EXPECT_EQ(can(bob, "pub/app"), static_cast<unsigned>(pull));
    ASSERT_TRUE(store.auth->set_visibility("pub/hidden", "private"));
    EXPECT_EQ(can(Principal{}, "pub/hidden"), 0u);
    ASSERT_TRUE(store.auth->set_visibility("bob/shared", "public"));
    EXPECT_EQ(can(Principal{}, "bob/shared"), static_cast<unsigned>(pull));
    EXPECT_EQ(can(Principal{}, "bob/other"), 0u);
}

TEST_F(AuthorizerTest, RobotsStayInTheirOrganisation) {
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "acme", "org", "private", "", clock.now_unix()}));
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "other", "org", "private", "", clock.now_unix()}));
    auto r = store.auth->create_robot(meta::RobotRow{0, "acme", 0, "ci", "h1", 2, "", clock.now_unix(), 0, false});
    ASSERT_TRUE(r);
    Principal robot;
    robot.kind = Principal::Kind::robot;
    robot.id = r->id;
    robot.name = "acme+ci";
    EXPECT_EQ(can(robot, "acme/app"), static_cast<unsigned>(pull | push));
    EXPECT_EQ(can(robot, "other/app"), 0u);
    auto cross = store.auth->set_grant(meta::GrantRow{"other/app", "robot", "acme+ci", 4});
    EXPECT_FALSE(cross) << "a robot cannot be granted roles outside its organisation";
}

TEST_F(AuthorizerTest, TokenScopeNarrowsEvenAdmins) {
    auto root = user("root", true);
    root.scope = pull;
    EXPECT_EQ(can(root, "any/thing"), static_cast<unsigned>(pull));
}

TEST_F(AuthorizerTest, RecreatedNamespaceDoesNotInheritGrants) {
    auto alice = user("alice");
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "acme", "org", "private", "", clock.now_unix()}));
    ASSERT_TRUE(store.auth->set_grant(meta::GrantRow{"acme/app", "user", "alice", 3}));
    ASSERT_TRUE(*store.auth->delete_org("acme"));
    ASSERT_TRUE(store.auth->create_org(meta::NamespaceRow{0, "acme", "org", "private", "", clock.now_unix()}));
    EXPECT_EQ(can(alice, "acme/app"), 0u);
}

TEST_F(AuthorizerTest, ExpiredOrRevokedCredentialsGetNothing) {
    auto alice = user("alice");
    ASSERT_TRUE(store.auth->create_org(
        meta::NamespaceRow{0, "pub", "org", "public", "", clock.now_unix()}));
    const auto expires = clock.now_unix() + 100;
    auto t = store.auth->create_token(meta::TokenRow{
        0, alice.id, "alice", "ci", "h-ci", "pull push", clock.now_unix(), expires, 0, false});
    ASSERT_TRUE(t);
    auto via_token = alice;
    via_token.token_id = t->id;
    via_token.scope = pull | push;
    EXPECT_EQ(can(via_token, "alice/app"), static_cast<unsigned>(pull | push));
    ASSERT_TRUE(authz.current(via_token).value().has_value());
    clock.now = expires;
    EXPECT_EQ(can(via_token, "alice/app"), 0u);
    EXPECT_EQ(can(via_token, "pub/app"), 0u) << "not even public pulls";
    EXPECT_FALSE(authz.current(via_token).value().has_value());
    EXPECT_EQ(*authz.org_role(via_token, "pub"), Role::none);
    EXPECT_TRUE(authz.readable(via_token, "", 10)->names.empty());
    EXPECT_EQ(can(alice, "alice/app"), all_actions) << "the account itself is unaffected";

    auto r = store.auth->create_robot(meta::RobotRow{
        0, "pub", 0, "ci", "h1", 2, "", clock.now_unix(), clock.now_unix() + 60, false});
    ASSERT_TRUE(r);
    Principal robot;
    robot.kind = Principal::Kind::robot;
    robot.id = r->id;
    EXPECT_EQ(can(robot, "pub/app"), static_cast<unsigned>(pull | push));
    clock.now += 60;
    EXPECT_EQ(can(robot, "pub/app"), 0u);
    EXPECT_FALSE(authz.current(robot).value().has_value());
}

TEST_F(AuthorizerTest, CurrentReadsTheAccountByIdNotByItsClaims) {
    auto root = user("root", true);
    auto claims = root;
    claims.admin = false;  // a token from before a promotion, or a forged claim either way
    EXPECT_TRUE(authz.current(claims).value()->admin);
    auto row = **store.auth->user_by_id(root.id);
    row.admin = false;
    ASSERT_TRUE(store.auth->update_user(row));
    claims.admin = true;
    EXPECT_FALSE(authz.current(claims).value()->admin);
    EXPECT_EQ(can(claims, "any/thing"), 0u);

    auto alice = user("alice");
    ASSERT_TRUE(*store.auth->delete_user("alice"));
    auto again = user("alice");
    EXPECT_FALSE(authz.current(alice).value().has_value()) << "same name, another account";
    EXPECT_EQ(can(alice, "alice/app"), 0u);
    EXPECT_EQ(can(again, "alice/app"), all_actions);
    EXPECT_TRUE(authz.current(Principal{}).value().has_value()) << "anonymous stands as it is";
}
