// Credentials that must stop working: a bearer token is re-checked against the account and the
// credential it was obtained with on every use, on /v2 and /api/v1 alike (deleted, re-created,
// disabled, revoked, expired, demoted); a token's scopes narrow account changes; and a caller
// without permission is refused before anything it sent is validated.

#include <chrono>
#include <ctime>
#include <thread>

#include "auth/secrets.hpp"
#include "auth_fixture.hpp"

namespace dermaga::test {
namespace {

class Credentials : public PeopleApiTest {
protected:
    HttpResponse call(std::string_view method, const std::string& target, const Headers& who,
                      const json& body = nullptr) {
        return send(method, target, who, body.is_null() ? "" : body.dump());
    }
    HttpResponse send(std::string_view method, const std::string& target, Headers who,
                      std::string_view body) {
        who.emplace_back("Content-Type", "application/json");
        return http().request(method, target, who, body);
    }
    /// A personal access token for `user` made through the API with the user's password.
    std::string new_pat(const std::string& user, const std::string& name,
                        const std::string& scopes) {
        auto r = call("POST", "/api/v1/users/" + user + "/tokens", as(user),
                      {{"name", name}, {"scopes", scopes}});
        EXPECT_EQ(r.status, 201u) << describe(r);
        auto j = json::parse(r.body, nullptr, false);
        return j.is_object() ? j.value("secret", "") : "";
    }
    unsigned start_upload(const std::string& repo, const Headers& who) {
        return http().post("/v2/" + repo + "/blobs/uploads/", {}, who).status;
    }
    /// Sleeps until the wall clock has reached `unix_seconds`.
    static void wait_until(std::int64_t unix_seconds) {
        while (std::time(nullptr) < unix_seconds) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
};

// Item 1 of issue 8: tokens are bound to the account's id, not its name.
TEST_F(Credentials, RecreatedUserIsNotReachableWithTheOldAccountsToken) {
    const auto t = bearer(token(as("alice"), "repository:alice/app:pull,push"));
    ASSERT_EQ(http().get("/api/v1/me", t).status, 200u);
    ASSERT_EQ(call("DELETE", "/api/v1/users/alice", as("root")).status, 204u);
    auto created = call("POST", "/api/v1/users", as("root"),
                        {{"name", "alice"}, {"password", "someone-else-9"}});
    ASSERT_EQ(created.status, 201u) << describe(created);

    EXPECT_EQ(http().get("/api/v1/me", t).status, 401u);
    EXPECT_EQ(http().get("/api/v1/users/alice", t).status, 401u);
    EXPECT_EQ(call("PATCH", "/api/v1/users/alice", t, {{"password", "taken-over-1"}}).status, 401u);
    EXPECT_EQ(call("POST", "/api/v1/users/alice/tokens", t, {{"name", "mine"}, {"scopes", "pull"}})
                  .status,
              401u);
    EXPECT_EQ(http().get("/api/v1/users/alice/tokens", t).status, 401u);
    EXPECT_EQ(start_upload("alice/app", t), 401u);
    // The new account is untouched.
    EXPECT_EQ(http().get("/api/v1/me", basic("alice", "someone-else-9")).status, 200u);
    EXPECT_EQ(http().get("/api/v1/me", basic("alice", "taken-over-1")).status, 401u);
    EXPECT_EQ(json::parse(call("GET", "/api/v1/users/alice/tokens", as("root")).body).size(), 0u);
}

// Item 2: disabled means nothing works, at once, on every route.
TEST_F(Credentials, DisabledAccountsBearerTokenWorksNowhere) {
    add_org("acme");
    ASSERT_TRUE(store_->set_member("acme", "bob", 1));
    const auto t =
        bearer(token(as("bob"), "repository:bob/app:pull,push&scope=registry:catalog:*"));
    ASSERT_EQ(http().get("/api/v1/me", t).status, 200u);
    ASSERT_EQ(http().get("/api/v1/orgs/acme/members", t).status, 200u);
    ASSERT_EQ(http().get("/v2/", t).status, 200u);
    ASSERT_EQ(http().get("/v2/_catalog", t).status, 200u);
    ASSERT_EQ(call("PATCH", "/api/v1/users/bob", as("root"), {{"disabled", true}}).status, 200u);

    EXPECT_EQ(http().get("/api/v1/me", t).status, 401u);
    EXPECT_EQ(http().get("/api/v1/orgs/acme/members", t).status, 401u);
    EXPECT_EQ(
        call("POST", "/api/v1/users/bob/tokens", t, {{"name", "x"}, {"scopes", "pull"}}).status,
        401u);
    EXPECT_EQ(call("PATCH", "/api/v1/users/bob", t, {{"password", "changed-pass-1"}}).status, 401u);
    EXPECT_EQ(http().get("/v2/", t).status, 401u);
    EXPECT_EQ(http().get("/v2/_catalog", t).status, 401u);
    EXPECT_EQ(start_upload("bob/app", t), 401u);
}

// Item 3: revoking a personal access token revokes what was obtained with it.
TEST_F(Credentials, RevokedPersonalTokenEndsTheBearerAndRefreshTokensObtainedWithIt) {
    const auto pat = new_pat("alice", "ci", "pull push manage");
    auto r =
        http().get("/token?service=dermaga&offline_token=true&scope=repository:alice/app:pull,push",
                   basic("alice", pat));
    ASSERT_EQ(r.status, 200u) << describe(r);
    const auto j = json::parse(r.body);
    const auto t = bearer(j["token"].get<std::string>());
    const auto refresh = j["refresh_token"].get<std::string>();
    ASSERT_EQ(start_upload("alice/app", t), 202u);
    ASSERT_EQ(http().get("/api/v1/me", t).status, 200u);
    ASSERT_EQ(call("DELETE", "/api/v1/users/alice/tokens/ci", as("alice")).status, 204u);

    EXPECT_EQ(start_upload("alice/app", t), 401u);
    EXPECT_EQ(http().get("/v2/alice/app/tags/list", t).status, 401u);
    EXPECT_EQ(http().get("/api/v1/me", t).status, 401u);
    EXPECT_EQ(
        call("POST", "/api/v1/users/alice/tokens", t, {{"name", "again"}, {"scopes", "pull push"}})
            .status,
        401u);
    EXPECT_EQ(
        http()
            .post("/token", "grant_type=refresh_token&service=dermaga&refresh_token=" + refresh,
                  {{"Content-Type", "application/x-www-form-urlencoded"}})
            .status,
        401u);
}

// Item 3 and item 18: expiry is refused at once, for Basic and for bearer tokens obtained before.
TEST_F(Credentials, ExpiredRobotAndPersonalTokenAreRefusedOnBasicAndBearer) {
    add_org("acme");
    const std::int64_t expires = std::time(nullptr) + 2;
    const auto robot_secret = auth::new_secret("dmg_robot_");
    ASSERT_TRUE(store_->create_robot(meta::RobotRow{
        0, "acme", 0, "ci", auth::secret_hash(robot_secret), 2, "", 1, expires, false}));
    const auto pat = auth::new_secret("dmg_pat_");
    const auto alice = **store_->user("alice");
    ASSERT_TRUE(store_->create_token(meta::TokenRow{
        0, alice.id, "alice", "ci", auth::secret_hash(pat), "pull push", 1, expires, 0, false}));
    const auto robot = basic("acme+ci", robot_secret);
    const auto robot_bearer = bearer(token(robot, "repository:acme/app:pull,push"));
    const auto owner = basic("alice", pat);
    const auto owner_bearer = bearer(token(owner, "repository:alice/app:pull,push"));
    ASSERT_EQ(start_upload("acme/app", robot), 202u);
    ASSERT_EQ(start_upload("acme/app", robot_bearer), 202u);
    ASSERT_EQ(start_upload("alice/app", owner), 202u);
    ASSERT_EQ(start_upload("alice/app", owner_bearer), 202u);
    ASSERT_EQ(http().get("/api/v1/me", owner_bearer).status, 200u);
    ASSERT_LT(std::time(nullptr), expires) << "the machine was too slow to test before the expiry";

    wait_until(expires);
    EXPECT_EQ(start_upload("acme/app", robot), 401u);
    EXPECT_EQ(start_upload("acme/app", robot_bearer), 401u);
    EXPECT_EQ(http().get("/v2/acme/app/tags/list", robot_bearer).status, 401u);
    EXPECT_EQ(start_upload("alice/app", owner), 401u);
    EXPECT_EQ(start_upload("alice/app", owner_bearer), 401u);
    EXPECT_EQ(http().get("/v2/alice/app/tags/list", owner_bearer).status, 401u);
    EXPECT_EQ(http().get("/api/v1/me", owner_bearer).status, 401u);
}

// Item 4: a token's scopes narrow everything; account changes need `manage`.
TEST_F(Credentials, PullOnlyTokenCannotChangeTheAccount) {
    const auto pull_only = basic("alice", new_pat("alice", "read", "pull"));
    new_pat("alice", "other", "pull push");
    const auto pull_bearer = bearer(token(pull_only, "repository:alice/app:pull"));
    for (const auto& who : {pull_only, pull_bearer}) {
        EXPECT_TRUE(
            IsOciError(call("PATCH", "/api/v1/users/alice", who, {{"password", "stolen-pass-1"}}),
                       403, "DENIED"));
        EXPECT_TRUE(
            IsOciError(call("PATCH", "/api/v1/users/alice", who, {{"email", "a@evil.example"}}),
                       403, "DENIED"));
        EXPECT_TRUE(
            IsOciError(call("DELETE", "/api/v1/users/alice/tokens/other", who), 403, "DENIED"));
        EXPECT_TRUE(IsOciError(
            call("POST", "/api/v1/users/alice/tokens", who, {{"name", "x"}, {"scopes", "pull"}}),
            403, "DENIED"));
        EXPECT_EQ(http().get("/api/v1/users/alice", who).status, 200u)
            << "reading the own record is not a change";
    }
    EXPECT_EQ(http().get("/api/v1/me", as("alice")).status, 200u) << "password unchanged";
    EXPECT_EQ(json::parse(http().get("/api/v1/users/alice", as("alice")).body)["email"], "");
    auto tokens = json::parse(http().get("/api/v1/users/alice/tokens", as("alice")).body);
    ASSERT_EQ(tokens.size(), 2u);
    EXPECT_EQ(tokens[0]["revoked"], false);
    EXPECT_EQ(tokens[1]["revoked"], false);
    // With `manage` (or the password) the same change is allowed.
    const auto manage = basic("alice", new_pat("alice", "admin", "pull manage"));
    EXPECT_EQ(call("PATCH", "/api/v1/users/alice", manage, {{"email", "a@example.org"}}).status,
              200u);
}

// Item 5: authorise, then validate.
TEST_F(Credentials, RefusedCallersGetForbiddenWhateverTheyPosted) {
    add_org("acme");
    struct Case {
        const char* method;
        const char* target;
        const char* body;
    };
    const Case cases[] = {
        {"POST", "/api/v1/users", "{bad"},
        {"POST", "/api/v1/orgs", R"({"name":5})"},
        {"PATCH", "/api/v1/orgs/acme", R"({"description":[]})"},
        {"PUT", "/api/v1/orgs/acme/members/bob", "[1]"},
        {"PUT", "/api/v1/orgs/acme/teams/devs", R"({"role":7})"},
        {"POST", "/api/v1/orgs/acme/robots", R"({"unknown":1})"},
        {"PUT", "/api/v1/repositories/acme/app/permissions", R"({"role":true})"},
        {"PUT", "/api/v1/repositories/acme/app/visibility", "{"},
        {"GET", "/api/v1/repositories/Not..A..Name/permissions", ""},
        {"GET", "/api/v1/repositories/Not..A..Name/visibility", ""},
        {"PATCH", "/api/v1/users/alice", "{bad"},
        {"POST", "/api/v1/users/alice/tokens", R"({"name":"x","scopes":"fly"})"},
    };
    for (const auto& c : cases) {
        EXPECT_TRUE(IsOciError(send(c.method, c.target, as("bob"), c.body), 403, "DENIED"))
            << c.method << " " << c.target;
        EXPECT_TRUE(IsOciError(send(c.method, c.target, as("root"), c.body), 400, "BAD_REQUEST"))
            << "the body is malformed: " << c.method << " " << c.target;
    }
}

// The same class elsewhere: a re-created robot, a demoted organisation admin.
TEST_F(Credentials, RecreatedRobotIsNotTheOldOne) {
    add_org("acme");
    auto created =
        call("POST", "/api/v1/orgs/acme/robots", as("root"), {{"name", "ci"}, {"role", "write"}});
    ASSERT_EQ(created.status, 201u);
    const auto old_secret = json::parse(created.body)["secret"].get<std::string>();
    const auto old_bearer =
        bearer(token(basic("acme+ci", old_secret), "repository:acme/app:pull,push"));
    ASSERT_EQ(start_upload("acme/app", old_bearer), 202u);
    ASSERT_EQ(call("DELETE", "/api/v1/orgs/acme/robots/ci", as("root")).status, 204u);
    ASSERT_EQ(
        call("POST", "/api/v1/orgs/acme/robots", as("root"), {{"name", "ci"}, {"role", "write"}})
            .status,
        201u);
    EXPECT_EQ(start_upload("acme/app", old_bearer), 401u);
    EXPECT_EQ(start_upload("acme/app", basic("acme+ci", old_secret)), 401u);
}

TEST_F(Credentials, DemotedOrganisationAdminsTokenManagesNothing) {
    add_org("acme");
    ASSERT_TRUE(store_->set_member("acme", "alice", 4));
    const auto t = bearer(token(as("alice"), "repository:acme/app:pull"));
    ASSERT_EQ(call("PUT", "/api/v1/orgs/acme/teams/devs", t, {{"role", "read"}}).status, 200u);
    ASSERT_EQ(call("PUT", "/api/v1/orgs/acme/members/alice", as("root"), {{"role", "read"}}).status,
              200u);
    EXPECT_TRUE(IsOciError(call("PUT", "/api/v1/orgs/acme/teams/devs", t, {{"role", "admin"}}), 403,
                           "DENIED"));
    EXPECT_TRUE(
        IsOciError(call("POST", "/api/v1/orgs/acme/robots", t, {{"name", "x"}, {"role", "write"}}),
                   403, "DENIED"));
    EXPECT_TRUE(IsOciError(
        call("PUT", "/api/v1/repositories/acme/app/visibility", t, {{"visibility", "public"}}), 403,
        "DENIED"));
}

}  // namespace
}  // namespace dermaga::test
