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

// Item 18 of issue 8: leaving a directory group takes effect at the next login.
TEST_F(Ldap, LeavingTheGroupTakesTheUserOutOfTheLinkedTeam) {
    add_org("acme");
    const std::string devs = std::string("cn=developers,") + lt::group_base;
    ASSERT_TRUE(store_->put_team(meta::TeamRow{0, "acme", "devs", 2, devs, {}}));
    const auto creds = basic("bob", lt::bob_password);
    ASSERT_EQ(http().post("/v2/acme/app/blobs/uploads/", {}, creds).status, 202u);
    const std::string member = "member: uid=bob," + std::string(lt::people_base) + "\n";
    struct PutBack {  // the directory is shared by the suite
        lt::Slapd& slapd;
        std::string ldif;
        ~PutBack() { slapd.modify(ldif); }
    } put_back{*slapd_, "dn: " + devs + "\nchangetype: modify\nadd: member\n" + member};
    ASSERT_EQ(slapd_->modify("dn: " + devs + "\nchangetype: modify\ndelete: member\n" + member),
              "");
    // The token endpoint always asks the directory: that login syncs the teams.
    ASSERT_EQ(http().get("/token?service=dermaga", creds).status, 200u);
    EXPECT_EQ(http().post("/v2/acme/app/blobs/uploads/", {}, creds).status, 403u);
    const auto teams = store_->teams("acme");
    ASSERT_TRUE(teams);
    for (const auto& t : *teams) {
        EXPECT_TRUE(t.members.empty()) << t.name;
    }
}

// A refresh token would stand for the directory's answer for 30 days without asking again.
TEST_F(Ldap, DirectoryLoginsGetNoRefreshToken) {
    auto r = http().get("/token?service=dermaga&offline_token=true&scope=repository:alice/app:pull",
                        basic("alice", lt::alice_password));
    ASSERT_EQ(r.status, 200u) << describe(r);
    auto j = json::parse(r.body);
    EXPECT_FALSE(j["token"].get<std::string>().empty());
    EXPECT_FALSE(j.contains("refresh_token"));
    auto p = http().post("/token",
                         "grant_type=password&service=dermaga&client_id=t&access_type=offline&"
                         "username=alice&password=" +
                             std::string(lt::alice_password),
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(p.status, 200u) << describe(p);
    EXPECT_FALSE(json::parse(p.body).contains("refresh_token"));
}

// Item 18: the directory down at login. Nothing listens on the configured port.
class LdapDown : public AuthApiTest {
protected:
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        c.ldap_url = "ldap://127.0.0.1:" + std::to_string(lt::free_port());
        c.ldap_user_base = lt::people_base;
        c.auth_lockout_threshold = 3;
    }
};

TEST_F(LdapDown, DirectoryLoginsAreUnavailableAndCountNoFailure) {
    add_user("alice");  // local: never asks the directory
    const auto bob = basic("bob", lt::bob_password);
    for (int i = 0; i < 4; ++i) {
        EXPECT_TRUE(IsOciError(http().get("/v2/", bob), 503, "UNAVAILABLE")) << i;
    }
    EXPECT_TRUE(IsOciError(http().get("/token?service=dermaga", bob), 503, "UNAVAILABLE"));
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 200u);
    EXPECT_GE(audit("login", "error", 5).size(), 5u);
    meta::AuditQuery q;
    q.action = "login";
    q.outcome = "failed";
    EXPECT_TRUE(store_->query_audit(q)->empty())
        << "an unreachable directory is not a wrong password";
    q.outcome = "lockout";
    EXPECT_TRUE(store_->query_audit(q)->empty());
}

}  // namespace
}  // namespace dermaga::test
