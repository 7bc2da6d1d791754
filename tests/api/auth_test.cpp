// Access control beyond the matrix: the challenge, the token endpoint (GET, POST, refresh),
// lockout, upload sessions bound to their opener, mounts needing read access, catalog
// filtering, re-created namespaces, credential changes and the audit trail.

#include <thread>

#include "auth/secrets.hpp"
#include "auth_fixture.hpp"

namespace dermaga::test {
namespace {

class Auth : public AuthApiTest {
protected:
    void SetUp() override {
        AuthApiTest::SetUp();
        add_user("alice");
        add_user("bob");
        add_user("root", true);
    }
};

TEST_F(Auth, BaseEndpointChallengesThenAcceptsCredentials) {
    auto r = http().get("/v2/");
    EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED"));
    const auto challenge = r.header("WWW-Authenticate");
    EXPECT_EQ(challenge, "Bearer realm=\"http://127.0.0.1:" + std::to_string(port()) + "/token\",service=\"dermaga\"");
    EXPECT_EQ(r.header("Docker-Distribution-API-Version"), "registry/2.0");
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 200u);
    EXPECT_EQ(http().get("/v2/", basic("alice", "wrong-password")).status, 401u);
    EXPECT_EQ(http().get("/v2/", bearer(token(as("alice"), ""))).status, 200u);
    EXPECT_EQ(http().get("/v2/", bearer("not.a.token")).status, 401u);
    EXPECT_EQ(http().get("/v2/", {{"Authorization", "Digest abc"}}).status, 401u);
}

TEST_F(Auth, PushChallengeNamesTheScope) {
    auto r = http().post("/v2/alice/app/blobs/uploads/");
    EXPECT_EQ(r.status, 401u);
    EXPECT_NE(r.header("WWW-Authenticate").find("scope=\"repository:alice/app:pull,push\""), std::string::npos);
}

TEST_F(Auth, TokenEndpointGetPostAndRefresh) {
    // GET with offline_token returns a refresh token for docker login.
    auto r = http().get("/token?service=dermaga&offline_token=true&client_id=test&scope=repository:alice/app:push,pull",
                        as("alice"));
    ASSERT_EQ(r.status, 200u) << describe(r);
    auto j = json::parse(r.body);
    EXPECT_EQ(j["token"], j["access_token"]);
    EXPECT_EQ(j["expires_in"], 300);
    EXPECT_TRUE(j.contains("issued_at"));
    ASSERT_TRUE(j.contains("refresh_token"));
    auto payload = jwt_payload(j["token"]);
    EXPECT_EQ(payload["sub"], "alice");
    EXPECT_EQ(payload["aud"], "dermaga");
    EXPECT_EQ(payload["access"][0]["actions"], json::array({"pull", "push"}));
    // POST refresh_token grant.
    const std::string form = "grant_type=refresh_token&service=dermaga&client_id=test&refresh_token=" +
                             j["refresh_token"].get<std::string>() + "&scope=repository%3Aalice%2Fapp%3Apull";
    auto p = http().post("/token", form, {{"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(p.status, 200u) << describe(p);
    auto pj = json::parse(p.body);
    EXPECT_EQ(jwt_payload(pj["access_token"])["access"][0]["actions"], json::array({"pull"}));
    // POST password grant; a wrong password is 401.
    auto pw = http().post("/token",
                          "grant_type=password&service=dermaga&client_id=t&access_type=offline&username=alice&password=" +
                              password_of("alice"),
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(pw.status, 200u) << describe(pw);
    EXPECT_TRUE(json::parse(pw.body).contains("refresh_token"));
    auto bad = http().post("/token", "grant_type=password&service=dermaga&username=alice&password=nope-nope",
                           {{"Content-Type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(bad.status, 401u);
    EXPECT_EQ(http().post("/token", "grant_type=client_credentials").status, 400u);
    EXPECT_EQ(http().post("/token", "grant_type=refresh_token&refresh_token=dmg_refresh_forged").status, 401u);
    EXPECT_EQ(http().get("/token?service=somebody-else", as("alice")).status, 400u);
}

TEST_F(Auth, RepeatedFailuresLockTheAccountAndShowInTheAudit) {
    for (int i = 0; i < 10; ++i) {
        auto r = http().get("/token?service=dermaga", basic("bob", "guess-" + std::to_string(i)));
        ASSERT_EQ(r.status, 401u) << i;
    }
    auto locked = http().get("/token?service=dermaga", as("bob"));
    EXPECT_TRUE(IsOciError(locked, 429, "TOOMANYREQUESTS"));
    EXPECT_FALSE(locked.header("Retry-After").empty());
    EXPECT_EQ(http().get("/v2/", as("bob")).status, 429u) << "Basic on /v2 is locked too";
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 200u) << "other users are unaffected";
    EXPECT_FALSE(audit("login", "lockout").empty());
    EXPECT_GE(audit("login", "failed", 10).size(), 10u);
    EXPECT_FALSE(audit("login", "locked").empty());
    // An administrator lifts it.
    EXPECT_EQ(http().post("/api/v1/users/bob/unlock", {}, as("alice")).status, 403u);
    EXPECT_EQ(http().post("/api/v1/users/bob/unlock", {}, as("root")).status, 204u);
    EXPECT_EQ(http().get("/v2/", as("bob")).status, 200u);
    EXPECT_FALSE(audit("user.unlock", "allowed").empty());
}

TEST_F(Auth, UploadSessionBelongsToItsOpener) {
    add_org("acme");
    ASSERT_TRUE(store_->set_member("acme", "alice", 2));
    ASSERT_TRUE(store_->set_member("acme", "bob", 2));
    auto start = http().post("/v2/acme/app/blobs/uploads/", {}, as("alice"));
    ASSERT_EQ(start.status, 202u);
    const auto loc = start.header("Location");
    EXPECT_TRUE(IsOciError(http().patch(loc, "stolen", as("bob")), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(loc, as("bob")), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().del(loc, as("bob")), 404, "BLOB_UPLOAD_UNKNOWN"));
    EXPECT_EQ(http().patch(loc, "mine", as("alice")).status, 202u);
    EXPECT_EQ(http().get(loc, as("alice")).status, 204u);
}

TEST_F(Auth, MountNeedsReadOnTheSource) {
    auto secret = push_image_as(as("bob"), "bob/secret", "v1", "s");
    const auto layer = sha256(secret.layer);
    auto r = http().post("/v2/alice/app/blobs/uploads/?mount=" + layer + "&from=bob/secret", {}, as("alice"));
    EXPECT_EQ(r.status, 202u) << "falls back to an upload instead of leaking bob's blob";
    EXPECT_EQ(http().head("/v2/alice/app/blobs/" + layer, as("alice")).status, 404u);
    ASSERT_TRUE(store_->set_grant(meta::GrantRow{"bob/secret", "user", "alice", 1}));
    r = http().post("/v2/alice/app/blobs/uploads/?mount=" + layer + "&from=bob/secret", {}, as("alice"));
    EXPECT_EQ(r.status, 201u) << describe(r);
    // With a bearer token the source must be in the token as well.
    auto t = token(as("alice"), "repository:alice/other:pull,push");
    r = http().post("/v2/alice/other/blobs/uploads/?mount=" + layer + "&from=bob/secret", {}, bearer(t));
    EXPECT_EQ(r.status, 202u);
}

TEST_F(Auth, CatalogListsOnlyWhatTheCallerMayRead) {
    push_image_as(as("alice"), "alice/a", "v1", "a");
    push_image_as(as("bob"), "bob/b", "v1", "b");
    push_image_as(as("root"), "pub/x", "v1", "x");
    ASSERT_TRUE(store_->set_visibility("pub/x", "public"));
    auto names = [&](const HttpResponse& r) {
        EXPECT_EQ(r.status, 200u) << describe(r);
        return json::parse(r.body)["repositories"];
    };
    EXPECT_EQ(names(http().get("/v2/_catalog", as("alice"))), json::array({"alice/a", "pub/x"}));
    EXPECT_EQ(names(http().get("/v2/_catalog", as("root"))), json::array({"alice/a", "bob/b", "pub/x"}));
    auto anon = http().get("/v2/_catalog");
    EXPECT_EQ(anon.status, 401u);
    EXPECT_NE(anon.header("WWW-Authenticate").find("registry:catalog:*"), std::string::npos);
    EXPECT_EQ(names(http().get("/v2/_catalog", bearer(token({}, "registry:catalog:*")))), json::array({"pub/x"}));
    EXPECT_EQ(http().get("/v2/_catalog", bearer(token(as("alice"), "repository:alice/a:pull"))).status, 401u);
    // Paging over a filtered catalog still walks everything visible.
    auto first = http().get("/v2/_catalog?n=1", as("alice"));
    EXPECT_EQ(names(first), json::array({"alice/a"}));
    auto next = next_link(first);
    ASSERT_FALSE(next.empty());
    EXPECT_EQ(names(http().get(next, as("alice"))), json::array({"pub/x"}));
}

TEST_F(Auth, RecreatedNamespaceRefusesOldTokens) {
    add_org("tmp");
    ASSERT_TRUE(store_->set_member("tmp", "alice", 4));
    auto t = token(as("alice"), "repository:tmp/app:pull,push");
    EXPECT_EQ(http().post("/v2/tmp/app/blobs/uploads/", {}, bearer(t)).status, 202u);
    ASSERT_TRUE(*store_->delete_org("tmp"));
    add_org("tmp");  // someone else's now
    EXPECT_EQ(http().post("/v2/tmp/app/blobs/uploads/", {}, bearer(t)).status, 401u);
}

TEST_F(Auth, NamespaceWithRepositoriesCannotBeDeleted) {
    add_org("keep");
    push_image_as(as("root"), "keep/app", "v1", "k");
    auto r = store_->delete_org("keep");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("repositories"), std::string::npos);
}

TEST_F(Auth, PasswordChangeAndDisableTakeEffectAtOnce) {
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 200u);  // now cached
    auto u = **store_->user("alice");
    u.password_hash = *auth::hash_password("a-new-password-2");
    ASSERT_TRUE(store_->update_user(u));
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 401u);
    EXPECT_EQ(http().get("/v2/", basic("alice", "a-new-password-2")).status, 200u);
    u.disabled = true;
    ASSERT_TRUE(store_->update_user(u));
    EXPECT_EQ(http().get("/v2/", basic("alice", "a-new-password-2")).status, 401u);
}

TEST_F(Auth, BearerTokensDieWithTheirAccountOrAdminRole) {
    auto t = token(as("alice"), "repository:alice/app:pull,push");
    auto root_t = token(as("root"), "repository:bob/app:pull,push");
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/", {}, bearer(t)).status, 202u);
    EXPECT_EQ(http().post("/v2/bob/app/blobs/uploads/", {}, bearer(root_t)).status, 202u);
    auto alice = **store_->user("alice");
    alice.disabled = true;
    ASSERT_TRUE(store_->update_user(alice));
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/", {}, bearer(t)).status, 401u);
    auto root = **store_->user("root");
    root.admin = false;
    ASSERT_TRUE(store_->update_user(root));
    EXPECT_EQ(http().post("/v2/bob/app/blobs/uploads/", {}, bearer(root_t)).status, 401u);
}

TEST_F(Auth, RobotAndPersonalTokenCredentials) {
    add_org("acme");
    const auto secret = auth::new_secret("dmg_robot_");
    ASSERT_TRUE(store_->create_robot(meta::RobotRow{0, "acme", 0, "ci", auth::secret_hash(secret), 2, "", 1, 0, false}));
    EXPECT_EQ(http().post("/v2/acme/app/blobs/uploads/", {}, basic("acme+ci", secret)).status, 202u);
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/", {}, basic("acme+ci", secret)).status, 403u);
    EXPECT_EQ(http().get("/v2/", basic("acme+ci", secret + "x")).status, 401u);
    EXPECT_EQ(http().get("/v2/", basic("acme+other", secret)).status, 401u);
    const auto pat = auth::new_secret("dmg_pat_");
    auto alice = **store_->user("alice");
    ASSERT_TRUE(store_->create_token(meta::TokenRow{0, alice.id, "alice", "ci", auth::secret_hash(pat), "pull push", 1,
                                                    4'000'000'000, 0, false}));
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/", {}, basic("alice", pat)).status, 202u);
    EXPECT_EQ(http().get("/v2/", basic("bob", pat)).status, 401u) << "a token works only for its owner";
    ASSERT_TRUE(*store_->revoke_token(alice.id, "ci"));
    EXPECT_EQ(http().get("/v2/", basic("alice", pat)).status, 401u) << "revoked at once";
}

TEST_F(Auth, MutationsAndDenialsAreAudited) {
    auto img = push_image_as(as("alice"), "alice/app", "v1", "m");
    EXPECT_EQ(http().del("/v2/alice/app/manifests/v1", as("bob")).status, 403u);
    EXPECT_EQ(http().del("/v2/alice/app/manifests/v1", as("alice")).status, 202u);
    auto pushes = audit("manifest.push", "allowed");
    ASSERT_FALSE(pushes.empty());
    EXPECT_EQ(pushes[0].actor, "alice");
    EXPECT_EQ(pushes[0].object, "alice/app@v1");
    EXPECT_EQ(pushes[0].address, "127.0.0.1");
    EXPECT_GE(audit("blob.push", "allowed", 2).size(), 2u);
    auto denied = audit("access", "denied");
    ASSERT_FALSE(denied.empty());
    EXPECT_EQ(denied[0].actor, "bob");
    EXPECT_EQ(denied[0].object, "alice/app");
    auto deleted = audit("tag.delete", "allowed");
    ASSERT_FALSE(deleted.empty());
    EXPECT_EQ(deleted[0].actor, "alice");
    // Secrets never reach the audit trail.
    meta::AuditQuery q;
    q.limit = 1000;
    for (const auto& row : *store_->query_audit(q)) {
        EXPECT_EQ(row.detail.find("password-1"), std::string::npos) << row.detail;
    }
}

}  // namespace
}  // namespace dermaga::test
