// Access control beyond the matrix: the challenge, the token endpoint (GET, POST, refresh),
// lockout, upload sessions bound to their opener, mounts needing read access, catalog
// filtering, re-created namespaces, credential changes and the audit trail.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <thread>

#include "auth/secrets.hpp"
#include "auth_fixture.hpp"

namespace dermaga::test {
namespace {

class Auth : public PeopleApiTest {};

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

/// The parameters of a `Bearer k="v",…` challenge.
std::map<std::string, std::string> challenge_params(std::string_view h) {
    std::map<std::string, std::string> out;
    h.remove_prefix(std::min(h.size(), std::string_view("Bearer ").size()));
    while (!h.empty()) {
        auto eq = h.find('=');
        if (eq == std::string_view::npos || eq + 1 >= h.size() || h[eq + 1] != '"') {
            break;
        }
        auto close = h.find('"', eq + 2);
        if (close == std::string_view::npos) {
            break;
        }
        out[std::string(h.substr(0, eq))] = std::string(h.substr(eq + 2, close - eq - 2));
        h.remove_prefix(std::min(h.size(), close + 2));  // past `",`
    }
    return out;
}

/// What a client following a challenge does: one GET of the realm with every scope it names.
std::string follow_challenge(HttpClient& http, const HttpResponse& r, const Headers& creds) {
    auto p = challenge_params(r.header("WWW-Authenticate"));
    const auto realm = p["realm"];
    std::string target = realm.substr(realm.find("/token")) + "?service=" + p["service"];
    std::string scopes = p["scope"];
    for (std::size_t start = 0; start < scopes.size();) {
        auto end = std::min(scopes.find(' ', start), scopes.size());
        target += "&scope=" + scopes.substr(start, end - start);
        start = end + 1;
    }
    auto t = http.get(target, creds);
    EXPECT_EQ(t.status, 200u) << describe(t);
    auto j = json::parse(t.body, nullptr, false);
    return j.is_object() && j.contains("token") ? j["token"].get<std::string>() : std::string();
}

// A cross-repository mount through the token flow: the challenge names the source's pull scope
// too, so the token a client gets by following it lets the mount happen (201). A caller who may
// not read the source gets a token without it, and a plain upload.
TEST_F(Auth, MountChallengeNamesTheSourceSoTheTokenFlowMounts) {
    auto lib = push_image_as(as("bob"), "bob/lib", "v1", "lib");
    const auto layer = sha256(lib.layer);
    ASSERT_TRUE(store_->set_grant(meta::GrantRow{"bob/lib", "user", "alice", 1}));
    const std::string target = "/v2/alice/app/blobs/uploads/?mount=" + layer + "&from=bob/lib";

    auto first = http().post(target);
    ASSERT_EQ(first.status, 401u) << describe(first);
    EXPECT_EQ(challenge_params(first.header("WWW-Authenticate"))["scope"],
              "repository:alice/app:pull,push repository:bob/lib:pull");
    const auto t = follow_challenge(http(), first, as("alice"));
    auto payload = jwt_payload(t);
    ASSERT_EQ(payload["access"].size(), 2u) << payload.dump();
    auto mounted = http().post(target, {}, bearer(t));
    ASSERT_EQ(mounted.status, 201u) << describe(mounted);
    EXPECT_EQ(http().get("/v2/alice/app/blobs/" + layer, bearer(t)).body, lib.layer);

    // A challenge for the same request with a token lacking the target's push names both too.
    auto pull_only =
        http().post(target, {}, bearer(token(as("alice"), "repository:alice/app:pull")));
    ASSERT_EQ(pull_only.status, 401u);
    EXPECT_EQ(challenge_params(pull_only.header("WWW-Authenticate"))["scope"],
              "repository:alice/app:pull,push repository:bob/lib:pull");

    // carol may push to her repository but not read bob/lib: the token she gets leaves it out
    // and the mount falls back to an upload.
    add_user("carol");
    const std::string carols = "/v2/carol/app/blobs/uploads/?mount=" + layer + "&from=bob/lib";
    auto refused = http().post(carols);
    ASSERT_EQ(refused.status, 401u);
    const auto ct = follow_challenge(http(), refused, as("carol"));
    auto fallback = http().post(carols, {}, bearer(ct));
    EXPECT_EQ(fallback.status, 202u) << describe(fallback);
    EXPECT_EQ(http().head("/v2/carol/app/blobs/" + layer, bearer(ct)).status, 404u);
}

// Mount without `from` (automatic content discovery) with access control on: the blob is
// mounted only from a repository the caller may read, as the one authorisation decision
// decides it (roles, and the token's scopes); otherwise the answer is the same plain upload as
// for a blob that exists nowhere.
TEST_F(Auth, MountWithoutFromOnlyDiscoversReadableRepositories) {
    auto secret = push_image_as(as("bob"), "bob/secret", "v1", "s");
    const auto layer = sha256(secret.layer);
    const auto nowhere = absent_digest("discovery");
    auto hidden = http().post("/v2/alice/app/blobs/uploads/?mount=" + layer, {}, as("alice"));
    auto absent = http().post("/v2/alice/app/blobs/uploads/?mount=" + nowhere, {}, as("alice"));
    ASSERT_EQ(hidden.status, 202u) << describe(hidden);
    ASSERT_EQ(absent.status, 202u) << describe(absent);
    auto names = [](const HttpResponse& r) {
        std::vector<std::string> n;
        for (const auto& [k, v] : r.headers) {
            n.push_back(k);
        }
        std::sort(n.begin(), n.end());
        return n;
    };
    EXPECT_EQ(names(hidden), names(absent)) << "no hint that the blob exists elsewhere";
    EXPECT_EQ(hidden.header("Range"), absent.header("Range"));
    EXPECT_EQ(hidden.body, absent.body);
    EXPECT_EQ(http().head("/v2/alice/app/blobs/" + layer, as("alice")).status, 404u);

    // A token without the source's scope finds nothing either, even once alice may read it.
    ASSERT_TRUE(store_->set_grant(meta::GrantRow{"bob/secret", "user", "alice", 1}));
    auto narrow = token(as("alice"), "repository:alice/app:pull,push");
    EXPECT_EQ(http().post("/v2/alice/app/blobs/uploads/?mount=" + layer, {}, bearer(narrow)).status,
              202u);
    EXPECT_EQ(http().head("/v2/alice/app/blobs/" + layer, as("alice")).status, 404u);

    auto r = http().post("/v2/alice/app/blobs/uploads/?mount=" + layer, {}, as("alice"));
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Location"), "/v2/alice/app/blobs/" + layer);
    EXPECT_EQ(http().get("/v2/alice/app/blobs/" + layer, as("alice")).body, secret.layer);
    EXPECT_FALSE(audit("blob.mount", "allowed").empty());
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
    const auto rows = store_->query_audit(q);  // kept: iterating *temporary would dangle
    ASSERT_TRUE(rows);
    for (const auto& row : *rows) {
        EXPECT_EQ(row.detail.find("password-1"), std::string::npos) << row.detail;
    }
}

// Item 18 of issue 8: the lockout's promises, each tested.
class Lockout : public AuthApiTest {
protected:
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        c.auth_lockout_threshold = 3;
        c.auth_lockout_ip_threshold = 4;
        c.auth_lockout_duration = 2;
    }
};

TEST_F(Lockout, ALockedNameIsFreeAgainAfterTheDuration) {
    add_user("bob");
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(http().get("/v2/", basic("bob", "guess-" + std::to_string(i))).status, 401u) << i;
    }
    auto locked = http().get("/v2/", as("bob"));
    ASSERT_TRUE(IsOciError(locked, 429, "TOOMANYREQUESTS"));
    const auto retry = std::stoll(locked.header("Retry-After"));
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 2);
    // The server's clock read no later than ours: by now + Retry-After the lock has passed.
    const auto free_at = std::time(nullptr) + retry;
    EXPECT_EQ(http().get("/v2/", as("bob")).status, 429u) << "still locked, right password or not";
    while (std::time(nullptr) < free_at) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(http().get("/v2/", as("bob")).status, 200u);
}

TEST_F(Lockout, AnAddressIsLockedForEveryNameAndOnlyThatAddress) {
    add_user("alice");
    auto elsewhere = new_client();
    elsewhere->set_local_address("127.0.0.2");
    for (int i = 0; i < 4; ++i) {  // four names, one guess each: no name reaches its threshold
        ASSERT_EQ(elsewhere->get("/v2/", basic("user" + std::to_string(i), "guess-guess")).status,
                  401u)
            << i;
    }
    EXPECT_TRUE(IsOciError(elsewhere->get("/v2/", as("alice")), 429, "TOOMANYREQUESTS"))
        << "the address is locked, whatever the name";
    EXPECT_EQ(http().get("/v2/", as("alice")).status, 200u) << "from another address alice is not";
    EXPECT_FALSE(audit("login", "lockout").empty());
    EXPECT_EQ(audit("login", "lockout")[0].detail.rfind("ip:127.0.0.2 locked", 0), 0u);
}

}  // namespace
}  // namespace dermaga::test
