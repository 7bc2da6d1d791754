// LDAP login end to end: the server authenticates directory users against a private slapd,
// provisions them on first login and keeps LDAP-linked team memberships in step.

#include "auth/ldap/tests/slapd.hpp"
#include "auth_fixture.hpp"

namespace dermaga::test {
namespace {

namespace lt = auth::ldap::testing;

class Ldap : public AuthApiTest {
protected:
    static void SetUpTestSuite() {
        slapd_ = new lt::Slapd();
        start_error_ = slapd_->start();
    }
    static void TearDownTestSuite() {
        delete slapd_;
        slapd_ = nullptr;
    }
    void SetUp() override {
        ASSERT_TRUE(start_error_.empty()) << "slapd could not start: " << start_error_;
        AuthApiTest::SetUp();
    }
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        c.ldap_url = slapd_->url();
        c.ldap_bind_dn = lt::reader_dn;
        c.ldap_bind_password = lt::reader_password;
        c.ldap_user_base = lt::people_base;
        c.ldap_group_base = lt::group_base;
    }

    static inline lt::Slapd* slapd_ = nullptr;
    static inline std::string start_error_;
};

TEST_F(Ldap, DirectoryUserLogsInAndIsProvisioned) {
    EXPECT_EQ(http().get("/v2/", basic("alice", lt::alice_password)).status, 200u);
    auto u = store_->user("alice");
    ASSERT_TRUE(u && *u);
    EXPECT_EQ((*u)->source, "ldap");
    EXPECT_EQ((*u)->email, "alice@example.org");
    EXPECT_TRUE((*u)->password_hash.empty()) << "the directory keeps the password";
    EXPECT_EQ(http().get("/v2/", basic("alice", "wrong-password")).status, 401u);
    EXPECT_EQ(http().get("/v2/", basic("nobody", "whatever-pass")).status, 401u);
    EXPECT_EQ(http().get("/v2/", basic("alice", "")).status, 401u);
    EXPECT_EQ(http().get("/v2/", basic("*", lt::alice_password)).status, 401u);
    // Token endpoint too, and alice owns her namespace.
    auto t = token(basic("alice", lt::alice_password), "repository:alice/app:pull,push");
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/", {}, bearer(t)).status, 202u);
}

TEST_F(Ldap, GroupMembershipSyncsIntoLinkedTeams) {
    add_org("acme");
    const std::string devs = std::string("cn=developers,") + lt::group_base;
    ASSERT_TRUE(store_->put_team(meta::TeamRow{0, "acme", "devs", 2, devs, {}}));
    ASSERT_TRUE(store_->put_team(meta::TeamRow{0, "acme", "admins", 4, std::string("cn=admins,") + lt::group_base, {}}));
    auto creds = basic("bob", lt::bob_password);
    EXPECT_EQ(http().post("/v2/acme/app/blobs/uploads/", {}, creds).status, 202u) << "developers → devs (write)";
    EXPECT_EQ(http().del("/v2/acme/app/manifests/v1", creds).status, 403u) << "not in admins";
    auto teams = *store_->teams("acme");
    for (const auto& t : teams) {
        bool member = std::find(t.members.begin(), t.members.end(), "bob") != t.members.end();
        EXPECT_EQ(member, t.name == "devs") << t.name;
    }
    // carol belongs to no group: no team, no access.
    EXPECT_EQ(http().post("/v2/acme/app/blobs/uploads/", {}, basic("carol", lt::carol_password)).status, 403u);
}

TEST_F(Ldap, LocalAccountsAreNotShadowedByTheDirectory) {
    add_user("bob");  // a local bob exists: the directory's bob password must not work for him
    EXPECT_EQ(http().get("/v2/", basic("bob", lt::bob_password)).status, 401u);
    EXPECT_EQ(http().get("/v2/", as("bob")).status, 200u);
}

}  // namespace
}  // namespace dermaga::test
