// Token attacks: every way a forged or stale bearer token could get in must be refused.

#include <gtest/gtest.h>

#include "auth/secrets.hpp"
#include "test_store.hpp"
#include "auth/token_service.hpp"

using namespace dermaga;
using namespace dermaga::auth;

namespace {

struct TokenTest : ::testing::Test {
    fixture::TestStore store;
    fixture::FakeClock clock;
    TokenService tokens{*store.auth, clock, TokenOptions{}};
    Principal alice;

    void SetUp() override {
        ASSERT_TRUE(tokens.init());
        alice.kind = Principal::Kind::user;
        alice.id = 7;
        alice.name = "alice";
    }

    /// Claims as the service would issue them, for tampering.
    Claims valid_claims() {
        Claims c;
        c.iss = "dermaga";
        c.aud = "dermaga";
        c.sub = "alice";
        c.iat = c.nbf = clock.now_unix();
        c.exp = c.iat + 300;
        c.jti = "j";
        c.access = {{"repository", "alice/app", {"pull"}}};
        c.extra["knd"] = "user";
        c.extra["uid"] = 7;
        return c;
    }

    /// The service's current signing key (as stored).
    SigningKey service_key() { return *SigningKey::from_pem(store.auth->signing_keys()->front().private_pem); }

    std::string refusal(const std::string& token) {
        auto r = tokens.verify(token);
        EXPECT_FALSE(r) << "accepted: " << token;
        return r ? std::string() : r.error().detail;
    }
};

std::string b64(const std::string& s) { return base64url(s); }

}  // namespace

TEST_F(TokenTest, IssuedTokenVerifiesWithItsGrant) {
    auto t = tokens.issue(alice, {{"repository", "alice/app", {"pull", "push"}}});
    ASSERT_TRUE(t);
    auto g = tokens.verify(*t);
    ASSERT_TRUE(g) << g.error().detail;
    EXPECT_EQ(g->principal.name, "alice");
    EXPECT_EQ(g->principal.id, 7);
    EXPECT_EQ(g->principal.kind, Principal::Kind::user);
    EXPECT_EQ(g->actions_on("repository", "alice/app"), static_cast<unsigned>(pull | push));
    EXPECT_EQ(g->actions_on("repository", "alice/other"), 0u);
}

TEST_F(TokenTest, TamperedPayloadIsRefused) {
    auto t = *tokens.issue(alice, {{"repository", "alice/app", {"pull"}}});
    auto c = valid_claims();
    c.access = {{"repository", "alice/app", {"pull", "push", "delete"}}};  // escalate
    auto forged = *encode_jwt(c, service_key());
    auto d1 = t.find('.');
    auto d2 = t.rfind('.');
    auto f1 = forged.find('.');
    auto f2 = forged.rfind('.');
    std::string spliced = t.substr(0, d1) + forged.substr(f1, f2 - f1) + t.substr(d2);
    EXPECT_NE(refusal(spliced).find("signature"), std::string::npos);
}

TEST_F(TokenTest, AlgNoneAndHmacConfusionAreRefused) {
    auto kid = service_key().kid();
    auto payload = b64(nlohmann::json{{"iss", "dermaga"}, {"aud", "dermaga"}, {"sub", "alice"}, {"iat", clock.now_unix()},
                                      {"exp", clock.now_unix() + 300}}
                           .dump());
    for (const char* alg : {"none", "None", "HS256", "RS256", "ES384"}) {
        auto header = b64(nlohmann::json{{"alg", alg}, {"kid", kid}, {"typ", "JWT"}}.dump());
        EXPECT_NE(refusal(header + "." + payload + ".").find("ES256"), std::string::npos) << alg;
        EXPECT_FALSE(tokens.verify(header + "." + payload + "." + b64(std::string(64, 'x')))) << alg;
    }
}

TEST_F(TokenTest, UnknownOrMismatchedKidIsRefused) {
    auto attacker = *SigningKey::generate();
    EXPECT_NE(refusal(*encode_jwt(valid_claims(), attacker)).find("unknown key"), std::string::npos);
    // The attacker's signature under the service's kid.
    auto forged = *encode_jwt(valid_claims(), attacker);
    auto good_kid = service_key().kid();
    auto header = b64(nlohmann::json{{"typ", "JWT"}, {"alg", "ES256"}, {"kid", good_kid}}.dump());
    auto rest = forged.substr(forged.find('.'));
    auto payload = rest.substr(1, rest.rfind('.') - 1);
    auto sig = *attacker.sign(header + "." + payload);
    EXPECT_NE(refusal(header + "." + payload + "." + b64(sig)).find("signature"), std::string::npos);
}

TEST_F(TokenTest, TimeAudienceIssuerChecks) {
    auto key = service_key();
    auto c = valid_claims();
    c.exp = clock.now_unix() - 120;
    c.iat = c.nbf = c.exp - 300;
    EXPECT_NE(refusal(*encode_jwt(c, key)).find("expired"), std::string::npos);
    c = valid_claims();
    c.nbf = clock.now_unix() + 3600;
    EXPECT_NE(refusal(*encode_jwt(c, key)).find("not yet"), std::string::npos);
    c = valid_claims();
    c.aud = "other-registry";
    EXPECT_NE(refusal(*encode_jwt(c, key)).find("audience"), std::string::npos);
    c = valid_claims();
    c.iss = "evil";
    EXPECT_NE(refusal(*encode_jwt(c, key)).find("issuer"), std::string::npos);
    c = valid_claims();
    c.exp = c.iat + 86400 * 365;
    EXPECT_NE(refusal(*encode_jwt(c, key)).find("lifetime"), std::string::npos);
}

TEST_F(TokenTest, MissingIatIsRefused) {
    auto key = service_key();
    auto header = b64(nlohmann::json{{"typ", "JWT"}, {"alg", "ES256"}, {"kid", key.kid()}}.dump());
    auto payload = b64(nlohmann::json{{"iss", "dermaga"}, {"aud", "dermaga"}, {"sub", "alice"},
                                      {"exp", clock.now_unix() + 300}}
                           .dump());
    auto sig = *key.sign(header + "." + payload);
    EXPECT_NE(refusal(header + "." + payload + "." + b64(sig)).find("iat"), std::string::npos);
}

TEST_F(TokenTest, GarbageIsRefused) {
    for (std::string t : {"", "a", "a.b", "a.b.c.d", "!!.??.**", "eyJhbGciOiJFUzI1NiJ9..", "e30.e30.e30"}) {
        EXPECT_FALSE(tokens.verify(t)) << t;
    }
}

TEST_F(TokenTest, RotationKeepsOldTokensUntilTheyExpire) {
    auto old_token = *tokens.issue(alice, {});
    auto old_kid = service_key().kid();
    auto new_kid = tokens.rotate();
    ASSERT_TRUE(new_kid);
    EXPECT_NE(*new_kid, old_kid);
    EXPECT_TRUE(tokens.verify(old_token));
    auto fresh = *tokens.issue(alice, {});
    EXPECT_EQ(decode_jwt(fresh)->kid, *new_kid);
    clock.now += 400;  // the old key's tokens have all expired; it stops verifying
    auto c = valid_claims();
    auto retired = *SigningKey::from_pem(store.auth->signing_keys()->back().private_pem);
    ASSERT_EQ(retired.kid(), old_kid);
    TokenService other{*store.auth, clock, TokenOptions{}};
    ASSERT_TRUE(other.init());
    EXPECT_NE(std::string(other.verify(*encode_jwt(c, retired)) ? "" : "refused"), "");
}

TEST_F(TokenTest, RefreshTokensAreStoredHashedAndExpire) {
    auto r = tokens.issue_refresh(alice);
    ASSERT_TRUE(r);
    auto row = tokens.check_refresh(*r);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->subject_kind, "user");
    EXPECT_EQ(row->subject_id, 7);
    EXPECT_FALSE(tokens.check_refresh(*r + "x"));
    clock.now += 31 * 86400;
    EXPECT_FALSE(tokens.check_refresh(*r));
}

TEST_F(TokenTest, RetiredKeyVerifiesOnlyTokensSignedBeforeItsRetirement) {
    const auto before = *tokens.issue(alice, {});
    const auto old_key = service_key();
    clock.now += 10;
    const std::int64_t retired_at = clock.now_unix();
    ASSERT_TRUE(tokens.rotate());
    // Another node that has not re-read the keys yet may sign with the old key for a while.
    auto c = valid_claims();
    c.iat = c.nbf = retired_at + tokens.retired_grace();
    c.exp = c.iat + 300;
    clock.now = c.iat;
    EXPECT_TRUE(tokens.verify(*encode_jwt(c, old_key)));
    // After that, a token signed with it can only be a forgery with a stolen retired key.
    c.iat = c.nbf = retired_at + tokens.retired_grace() + 1;
    c.exp = c.iat + 300;
    clock.now = c.iat;
    EXPECT_EQ(refusal(*encode_jwt(c, old_key)), "invalid token: signed with a retired key");
    EXPECT_TRUE(tokens.verify(before)) << "issued before the retirement and not expired";
}

TEST_F(TokenTest, VerifyingNodeLearnsOfARotationWithinAMinute) {
    TokenService verifier{*store.auth, clock,
                          TokenOptions{}};  // loads the keys now, then only verifies
    ASSERT_TRUE(verifier.init());
    const auto old_key = service_key();
    ASSERT_TRUE(tokens.rotate());  // on another node
    clock.now += 200;
    auto c = valid_claims();  // iat now: long after the retirement
    const auto forged = *encode_jwt(c, old_key);
    auto r = verifier.verify(forged);
    ASSERT_FALSE(r) << "a node that knew the key before its retirement still accepts what it signs";
    EXPECT_EQ(r.error().detail, "invalid token: signed with a retired key");
}

TEST_F(TokenTest, DirectoryLoginsGetNoRefreshToken) {
    EXPECT_TRUE(refreshable(alice));
    auto ldap = alice;
    ldap.method = "ldap";
    EXPECT_FALSE(refreshable(ldap));
    EXPECT_FALSE(refreshable(Principal{}));
}
