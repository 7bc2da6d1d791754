#include <gtest/gtest.h>

#include "auth/roles.hpp"
#include "auth/secrets.hpp"

using namespace dermaga::auth;

TEST(Passwords, Argon2idRoundTrip) {
    auto h = hash_password("correct horse battery");
    ASSERT_TRUE(h) << h.error().detail;
    EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
    EXPECT_TRUE(verify_password("correct horse battery", *h));
    EXPECT_FALSE(verify_password("correct horse batterY", *h));
    EXPECT_FALSE(verify_password("", *h));
    EXPECT_NE(*h, *hash_password("correct horse battery")) << "salted";
}

TEST(Passwords, PolicyRefusesShortAndHuge) {
    EXPECT_FALSE(hash_password("short"));
    EXPECT_FALSE(hash_password(std::string(1025, 'x')));
}

TEST(Passwords, BcryptFromHtpasswdVerifies) {
    // crypt_blowfish's published test vector: password "U*U".
    const std::string h = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    EXPECT_TRUE(verify_password("U*U", h));
    EXPECT_FALSE(verify_password("U*V", h));
    EXPECT_FALSE(verify_password(std::string("U*U\0x", 5), h)) << "NUL must not truncate";
}

TEST(Passwords, UnknownHashFormsNeverVerify) {
    EXPECT_FALSE(verify_password("x", "x"));
    EXPECT_FALSE(verify_password("secret", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="));
    EXPECT_FALSE(verify_password("secret", ""));
}

TEST(Htpasswd, ParsesBcryptAndRefusesWeakFormats) {
    auto ok = parse_htpasswd("# comment\nalice:$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\r\n\n");
    ASSERT_TRUE(ok) << ok.error().detail;
    ASSERT_EQ(ok->size(), 1u);
    EXPECT_EQ((*ok)[0].user, "alice");
    auto md5 = parse_htpasswd("bob:$apr1$abc$def\n");
    ASSERT_FALSE(md5);
    EXPECT_NE(md5.error().detail.find("line 1"), std::string::npos);
    EXPECT_FALSE(parse_htpasswd("nocolon\n"));
}

TEST(Secrets, RandomPrefixedAndHashed) {
    auto a = new_secret("dmg_pat_");
    auto b = new_secret("dmg_pat_");
    EXPECT_NE(a, b);
    EXPECT_EQ(a.size(), 8u + 43u);
    EXPECT_EQ(secret_hash(a).size(), 64u);
    EXPECT_EQ(secret_hash(a), secret_hash(a));
}

TEST(Roles, ActionsAndScopes) {
    EXPECT_EQ(actions_of(Role::read), static_cast<unsigned>(pull));
    EXPECT_EQ(actions_of(Role::write), static_cast<unsigned>(pull | push));
    EXPECT_EQ(actions_of(Role::del), static_cast<unsigned>(pull | push | del));
    EXPECT_EQ(actions_of(Role::admin), all_actions);
    EXPECT_EQ(parse_actions("pull,push"), static_cast<unsigned>(pull | push));
    EXPECT_EQ(parse_actions("*"), static_cast<unsigned>(pull | push | del));
    EXPECT_EQ(parse_actions("bogus"), 0u);
    EXPECT_EQ(parse_token_scopes("pull push"), static_cast<unsigned>(pull | push));
    EXPECT_FALSE(parse_token_scopes("pull root"));
    EXPECT_EQ(token_scopes_text(pull | del), "pull delete");
    EXPECT_EQ(parse_role("delete"), Role::del);
    EXPECT_FALSE(parse_role("owner"));
}
