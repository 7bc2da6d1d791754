// The management API over real HTTP with access control on: round trips per resource, mass
// assignment and unknown fields refused, organisation boundaries, robots and personal access
// tokens that work at /token and /v2, audit queries, key rotation.

#include <cstdlib>

#include "api_fixture.hpp"

namespace dermaga::test {

namespace {

std::string base64(std::string_view in) {
    static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out += {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63]};
    }
    if (i + 1 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        out += {tbl[v >> 18], tbl[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], '='};
    }
    return out;
}

Headers basic(std::string_view user, std::string_view password) {
    return {{"Authorization", "Basic " + base64(std::string(user) + ":" + std::string(password))}};
}

Headers with_json(Headers h) {
    h.emplace_back("Content-Type", "application/json");
    return h;
}

class MgmtTest : public ApiTest {
protected:
    void configure(app::Config& c) override {
        c.auth_enabled = true;
        ::setenv("DERMAGA_BOOTSTRAP_ADMIN_PASSWORD", "root-password-1", 1);
        ::setenv("DERMAGA_BOOTSTRAP_ADMIN_USER", "root", 1);
    }
    void SetUp() override {
        ApiTest::SetUp();
        ::unsetenv("DERMAGA_BOOTSTRAP_ADMIN_PASSWORD");
        ::unsetenv("DERMAGA_BOOTSTRAP_ADMIN_USER");
    }

    Headers root() { return basic("root", "root-password-1"); }

    HttpResponse call(std::string_view method, const std::string& target, const Headers& who,
                      const json& body = nullptr) {
        return http().request(method, target, with_json(who), body.is_null() ? "" : body.dump());
    }
    /// Expects `status`; returns the parsed body (null when empty).
    json expect(unsigned status, const HttpResponse& r) {
        EXPECT_EQ(r.status, status) << describe(r);
        return r.body.empty() ? json() : json::parse(r.body, nullptr, false);
    }

    /// Users alice (admin of acme), bob (member of acme, read), carol (admin of other).
    void seed() {
        for (auto name : {"alice", "bob", "carol"}) {
            expect(201, call("POST", "/api/v1/users", root(),
                             {{"name", name}, {"password", std::string("password-") + name}}));
        }
        expect(201, call("POST", "/api/v1/orgs", root(), {{"name", "acme"}, {"description", "ACME"}}));
        expect(201, call("POST", "/api/v1/orgs", root(), {{"name", "other"}}));
        expect(200, call("PUT", "/api/v1/orgs/acme/members/alice", root(), {{"role", "admin"}}));
        expect(200, call("PUT", "/api/v1/orgs/acme/members/bob", root(), {{"role", "read"}}));
        expect(200, call("PUT", "/api/v1/orgs/other/members/carol", root(), {{"role", "admin"}}));
    }
    Headers alice() { return basic("alice", "password-alice"); }
    Headers bob() { return basic("bob", "password-bob"); }
    Headers carol() { return basic("carol", "password-carol"); }

    /// A bearer token from /token for `who` asking `scope`.
    std::string bearer(const Headers& who, const std::string& scope) {
        auto r = http().get("/token?service=dermaga&scope=" + scope, who);
        auto j = expect(200, r);
        return j.is_object() ? j.value("token", "") : "";
    }
    unsigned start_upload(const std::string& repo, const Headers& who) {
        return http().post("/v2/" + repo + "/blobs/uploads/", "", who).status;
    }
};

}  // namespace

TEST_F(MgmtTest, AnonymousGets401WithBasicChallenge) {
    auto r = http().get("/api/v1/me");
    EXPECT_TRUE(IsOciError(r, 401, "UNAUTHORIZED"));
    EXPECT_EQ(r.header("WWW-Authenticate"), "Basic realm=\"dermaga\"");
    EXPECT_TRUE(IsOciError(http().get("/api/v1/me", basic("root", "wrong-password")), 401, "UNAUTHORIZED"));
    EXPECT_TRUE(IsOciError(call("GET", "/api/v1/nothing", root()), 404, "NOT_FOUND"));
}

TEST_F(MgmtTest, UserRoundTrip) {
    auto me = expect(200, call("GET", "/api/v1/me", root()));
    EXPECT_EQ(me["name"], "root");
    EXPECT_EQ(me["admin"], true);
    auto u = expect(201, call("POST", "/api/v1/users", root(),
                              {{"name", "dave"}, {"password", "password-dave"}, {"email", "d@example.com"}}));
    EXPECT_EQ(u["name"], "dave");
    EXPECT_FALSE(u.contains("password_hash"));
    EXPECT_EQ(u.dump().find("argon2"), std::string::npos);
    EXPECT_EQ(expect(200, call("GET", "/api/v1/users/dave", root()))["email"], "d@example.com");
    auto list = expect(200, call("GET", "/api/v1/users", root()));
    EXPECT_EQ(list.size(), 2u);
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/users", root(), {{"name", "dave"}, {"password", "password-dave"}}),
                           409, "CONFLICT"));
    // The user changes their own password; the old one stops working.
    expect(200, call("PATCH", "/api/v1/users/dave", basic("dave", "password-dave"), {{"password", "password-new1"}}));
    EXPECT_EQ(call("GET", "/api/v1/me", basic("dave", "password-new1")).status, 200u);
    EXPECT_EQ(expect(200, call("PATCH", "/api/v1/users/dave", root(), {{"disabled", true}}))["disabled"], true);
    EXPECT_EQ(call("GET", "/api/v1/me", basic("dave", "password-new1")).status, 401u);
    EXPECT_EQ(call("DELETE", "/api/v1/users/dave", root()).status, 204u);
    EXPECT_TRUE(IsOciError(call("GET", "/api/v1/users/dave", root()), 404, "NOT_FOUND"));
    // The last administrator stays.
    EXPECT_TRUE(IsOciError(call("DELETE", "/api/v1/users/root", root()), 409, "CONFLICT"));
}

TEST_F(MgmtTest, InputIsValidatedFieldByField) {
    seed();
    auto r = call("POST", "/api/v1/users", root(), {{"name", "x"}, {"password", "password-x"}, {"isAdmin", true}});
    ASSERT_TRUE(IsOciError(r, 400, "BAD_REQUEST"));
    EXPECT_EQ(json::parse(r.body)["errors"][0]["detail"], "unknown field \"isAdmin\"");
    r = call("POST", "/api/v1/users", root(), {{"name", "x"}, {"password", 12345678}});
    ASSERT_TRUE(IsOciError(r, 400, "BAD_REQUEST"));
    EXPECT_NE(r.body.find("password"), std::string::npos);
    r = call("POST", "/api/v1/users", root(), {{"name", "x"}, {"password", "short"}});
    ASSERT_TRUE(IsOciError(r, 400, "BAD_REQUEST"));
    EXPECT_EQ(r.body.find("short"), std::string::npos) << "passwords are never echoed";
    EXPECT_TRUE(IsOciError(http().request("POST", "/api/v1/orgs", with_json(root()), "[1]"), 400, "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(http().request("POST", "/api/v1/orgs", with_json(root()), "{bad"), 400, "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(call("PUT", "/api/v1/orgs/acme/members/bob", root(), {{"role", "owner"}}), 400,
                           "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/orgs", root(), {{"name", "Bad Name"}}), 400, "BAD_REQUEST"));
    std::string big(70 * 1024, 'x');
    EXPECT_EQ(http().request("POST", "/api/v1/orgs", with_json(root()), big).status, 413u);
}

TEST_F(MgmtTest, MassAssignmentAndOrganisationBoundaries) {
    seed();
    // An organisation admin may not create (admin) users nor promote themself.
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/users", alice(),
                                {{"name", "x"}, {"password", "password-x"}, {"admin", true}}),
                           403, "DENIED"));
    EXPECT_TRUE(IsOciError(call("PATCH", "/api/v1/users/alice", alice(), {{"admin", true}}), 403, "DENIED"));
    EXPECT_EQ(expect(200, call("GET", "/api/v1/users/alice", alice()))["admin"], false);
    // alice manages acme …
    expect(200, call("PUT", "/api/v1/orgs/acme/teams/devs", alice(), {{"role", "write"}}));
    EXPECT_EQ(call("PUT", "/api/v1/orgs/acme/teams/devs/members/bob", alice()).status, 204u);
    auto teams = expect(200, call("GET", "/api/v1/orgs/acme/teams", alice()));
    ASSERT_EQ(teams.size(), 1u);
    EXPECT_EQ(teams[0]["members"], json::array({"bob"}));
    EXPECT_EQ(expect(200, call("PATCH", "/api/v1/orgs/acme", alice(), {{"description", "new"}}))["description"],
              "new");
    // … but not other, and carol not acme.
    EXPECT_TRUE(IsOciError(call("PUT", "/api/v1/orgs/other/members/alice", alice(), {{"role", "admin"}}), 403,
                           "DENIED"));
    EXPECT_TRUE(IsOciError(call("PUT", "/api/v1/orgs/acme/members/carol", carol(), {{"role", "admin"}}), 403,
                           "DENIED"));
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/orgs/acme/robots", carol(), {{"name", "x"}, {"role", "write"}}),
                           403, "DENIED"));
    EXPECT_TRUE(IsOciError(call("PUT", "/api/v1/repositories/acme/app/visibility", carol(),
                                {{"visibility", "public"}}),
                           403, "DENIED"));
    EXPECT_TRUE(IsOciError(call("DELETE", "/api/v1/orgs/acme", alice()), 403, "DENIED"));
    // Plain members read the organisation but do not change it.
    EXPECT_EQ(expect(200, call("GET", "/api/v1/orgs/acme/members", bob())).size(), 2u);
    EXPECT_TRUE(IsOciError(call("DELETE", "/api/v1/orgs/acme/teams/devs", bob()), 403, "DENIED"));
    EXPECT_EQ(call("DELETE", "/api/v1/orgs/acme/teams/devs/members/bob", alice()).status, 204u);
    EXPECT_EQ(call("DELETE", "/api/v1/orgs/acme/teams/devs", alice()).status, 204u);
    EXPECT_EQ(call("DELETE", "/api/v1/orgs/acme/members/bob", alice()).status, 204u);
    EXPECT_EQ(call("DELETE", "/api/v1/orgs/other", root()).status, 204u);
}

TEST_F(MgmtTest, RepositoryPermissionsAndVisibility) {
    seed();
    EXPECT_EQ(call("PUT", "/api/v1/repositories/acme/team/app/permissions", alice(),
                   {{"subject_kind", "user"}, {"subject", "carol"}, {"role", "write"}})
                  .status,
              204u);
    auto grants = expect(200, call("GET", "/api/v1/repositories/acme/team/app/permissions", alice()));
    ASSERT_EQ(grants.size(), 1u);
    EXPECT_EQ(grants[0]["subject"], "carol");
    EXPECT_EQ(grants[0]["role"], "write");
    EXPECT_EQ(start_upload("acme/team/app", carol()), 202u);
    EXPECT_EQ(start_upload("acme/other", carol()), 403u);
    EXPECT_EQ(call("PUT", "/api/v1/repositories/acme/team/app/permissions", alice(),
                   {{"subject_kind", "user"}, {"subject", "carol"}, {"role", "none"}})
                  .status,
              204u);
    EXPECT_EQ(start_upload("acme/team/app", carol()), 403u);
    auto v = expect(200, call("GET", "/api/v1/repositories/acme/app/visibility", alice()));
    EXPECT_EQ(v["visibility"], "inherit");
    EXPECT_EQ(v["effective"], "private");
    EXPECT_EQ(http().get("/v2/acme/app/tags/list").status, 401u);
    v = expect(200, call("PUT", "/api/v1/repositories/acme/app/visibility", alice(), {{"visibility", "public"}}));
    EXPECT_EQ(v["effective"], "public");
    // Anonymous pulls are allowed now: the answer is the one for a repository nobody pushed to.
    EXPECT_TRUE(IsOciError(http().get("/v2/acme/app/tags/list"), 404, "NAME_UNKNOWN"));
}

TEST_F(MgmtTest, RobotPushesToItsOrganisationOnly) {
    seed();
    auto robot = expect(201, call("POST", "/api/v1/orgs/acme/robots", alice(),
                                  {{"name", "ci"}, {"role", "write"}, {"expires_in", "30d"}}));
    const std::string secret = robot.value("secret", "");
    ASSERT_EQ(secret.rfind("dmg_robot_", 0), 0u);
    EXPECT_EQ(robot["login"], "acme+ci");
    auto listed = expect(200, call("GET", "/api/v1/orgs/acme/robots", alice()));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_FALSE(listed[0].contains("secret")) << "shown once";
    auto token = bearer(basic("acme+ci", secret), "repository:acme/app:pull,push");
    ASSERT_FALSE(token.empty());
    EXPECT_EQ(start_upload("acme/app", {{"Authorization", "Bearer " + token}}), 202u);
    auto elsewhere = bearer(basic("acme+ci", secret), "repository:other/app:pull,push");
    EXPECT_EQ(start_upload("other/app", {{"Authorization", "Bearer " + elsewhere}}), 401u);
    EXPECT_EQ(start_upload("other/app", basic("acme+ci", secret)), 403u);
    EXPECT_EQ(call("DELETE", "/api/v1/orgs/acme/robots/ci", alice()).status, 204u);
    EXPECT_EQ(start_upload("acme/app", basic("acme+ci", secret)), 401u);
}

TEST_F(MgmtTest, PersonalAccessTokensAreScopedAndRevocable) {
    seed();
    expect(200, call("PUT", "/api/v1/orgs/acme/members/bob", root(), {{"role", "write"}}));
    auto t = expect(201, call("POST", "/api/v1/users/bob/tokens", bob(),
                              {{"name", "laptop"}, {"scopes", "pull"}, {"expires_in", 86400}}));
    const std::string pat = t.value("secret", "");
    ASSERT_EQ(pat.rfind("dmg_pat_", 0), 0u);
    EXPECT_EQ(t["scopes"], "pull");
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/users/bob/tokens", bob(), {{"name", "x"}, {"scopes", "fly"}}), 400,
                           "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/users/bob/tokens", bob(),
                                {{"name", "x"}, {"scopes", "pull"}, {"expires_in", "400d"}}),
                           400, "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(call("GET", "/api/v1/users/bob/tokens", alice()), 403, "DENIED"));
    EXPECT_TRUE(
        IsOciError(http().get("/v2/acme/app/tags/list", basic("bob", pat)), 404, "NAME_UNKNOWN"))
        << "pull allowed, no repository";
    EXPECT_EQ(start_upload("acme/app", basic("bob", pat)), 403u) << "push is outside the token's scopes";
    EXPECT_EQ(start_upload("acme/app", bob()), 202u) << "the account itself may push";
    auto tokens = expect(200, call("GET", "/api/v1/users/bob/tokens", bob()));
    ASSERT_EQ(tokens.size(), 1u);
    EXPECT_FALSE(tokens[0].contains("secret"));
    EXPECT_EQ(call("DELETE", "/api/v1/users/bob/tokens/laptop", bob()).status, 204u);
    EXPECT_EQ(http().get("/v2/acme/app/tags/list", basic("bob", pat)).status, 401u) << "revoked at once";
    EXPECT_TRUE(IsOciError(call("DELETE", "/api/v1/users/bob/tokens/laptop", bob()), 404, "NOT_FOUND"));
}

TEST_F(MgmtTest, AuditQueriesFilterPageAndExport) {
    seed();
    call("PUT", "/api/v1/orgs/acme/members/carol", carol(), {{"role", "admin"}});  // denied
    auto denied = expect(200, call("GET", "/api/v1/audit?outcome=denied&action=member.set", root()));
    ASSERT_EQ(denied.size(), 1u);
    EXPECT_EQ(denied[0]["actor"], "carol");
    EXPECT_EQ(denied[0]["object"], "org:acme/member:carol");
    auto page1 = expect(200, call("GET", "/api/v1/audit?limit=3", root()));
    ASSERT_EQ(page1.size(), 3u);
    auto before = page1[2]["id"].get<std::int64_t>();
    auto page2 = expect(200, call("GET", "/api/v1/audit?limit=3&before=" + std::to_string(before), root()));
    ASSERT_FALSE(page2.empty());
    EXPECT_LT(page2[0]["id"].get<std::int64_t>(), before);
    auto by_root = expect(200, call("GET", "/api/v1/audit?actor=root&object=org:acme", root()));
    EXPECT_GE(by_root.size(), 3u);
    for (const auto& e : by_root) {
        EXPECT_EQ(e["actor"], "root");
    }
    EXPECT_TRUE(expect(200, call("GET", "/api/v1/audit?since=2999-01-01T00:00:00Z", root())).empty());
    EXPECT_TRUE(IsOciError(call("GET", "/api/v1/audit?since=yesterday", root()), 400, "BAD_REQUEST"));
    EXPECT_TRUE(IsOciError(call("GET", "/api/v1/audit?limit=5000", root()), 400, "BAD_REQUEST"));
    auto lines = call("GET", "/api/v1/audit?format=jsonl&limit=5", root());
    ASSERT_EQ(lines.status, 200u);
    EXPECT_EQ(lines.header("Content-Type"), "application/x-ndjson");
    std::size_t n = 0;
    for (std::size_t pos = 0; pos < lines.body.size(); ++n) {
        auto nl = lines.body.find('\n', pos);
        ASSERT_NE(nl, std::string::npos);
        EXPECT_TRUE(json::parse(lines.body.substr(pos, nl - pos)).contains("action"));
        pos = nl + 1;
    }
    EXPECT_EQ(n, 5u);
    // bob sees only his own entries.
    for (const auto& e : expect(200, call("GET", "/api/v1/audit", bob()))) {
        EXPECT_EQ(e["actor"], "bob");
    }
}

TEST_F(MgmtTest, KeysRotateAndOldTokensStillVerify) {
    seed();
    auto token = bearer(alice(), "repository:acme/app:pull,push");
    ASSERT_FALSE(token.empty());
    EXPECT_TRUE(IsOciError(call("POST", "/api/v1/keys/rotate", alice()), 403, "DENIED"));
    auto k = expect(200, call("POST", "/api/v1/keys/rotate", root()));
    EXPECT_FALSE(k.value("kid", "").empty());
    EXPECT_EQ(start_upload("acme/app", {{"Authorization", "Bearer " + token}}), 202u);
    EXPECT_EQ(expect(200, call("GET", "/api/v1/me", {{"Authorization", "Bearer " + token}}))["name"], "alice");
}

TEST_F(MgmtTest, ImportsHtpasswd) {
    const std::string text = "dave:$2b$12$QCgsqtawcVCqvNBCde.lL.Pflm0LMKYQWgAfq/aiPmrPCKUZzsQw6\n";
    auto r = http().request("POST", "/api/v1/users/import-htpasswd", root(), text);
    auto j = expect(200, r);
    EXPECT_EQ(j["created"], json::array({"dave"}));
    EXPECT_EQ(expect(200, call("GET", "/api/v1/me", basic("dave", "pw-12345678")))["name"], "dave");
}

class MgmtOffTest : public ApiTest {};

TEST_F(MgmtOffTest, WithoutAccessControlTheApiIsAbsent) {
    auto r = http().get("/api/v1/users");
    ASSERT_TRUE(IsOciError(r, 404, "NOT_FOUND"));
    EXPECT_NE(r.body.find("access control"), std::string::npos);
}

}  // namespace dermaga::test
