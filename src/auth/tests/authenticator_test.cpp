// Logins over a real store: what a failed login costs whatever the reason (so timing reveals
// no account), refresh tokens of directory accounts, and store failures reaching callers as
// auth errors only.

#include "auth/authenticator.hpp"

#include <gtest/gtest.h>

#include <mutex>

#include "auth/authorizer.hpp"
#include "test_store.hpp"

using namespace dermaga;
using namespace dermaga::auth;

namespace {

/// Records every hash a login checks a password against.
struct CountingHasher final : PasswordHasher {
    bool verify(std::string_view password, std::string_view hash) const override {
        {
            std::lock_guard lock(mu);
            checked.emplace_back(hash);
        }
        return PasswordHasher::verify(password, hash);
    }
    std::vector<std::string> take() const {
        std::lock_guard lock(mu);
        return std::exchange(checked, {});
    }
    mutable std::mutex mu;
    mutable std::vector<std::string> checked;
};

/// "$argon2id$v=19$m=…,t=…,p=…": the algorithm and cost of a hash string, without salt and digest.
std::string cost_of(const std::string& hash) {
    std::size_t pos = 0;
    for (int i = 0; i < 3 && pos != std::string::npos; ++i) {
        pos = hash.find('$', pos + 1);
    }
    return hash.substr(0, pos);
}

struct AuthenticatorTest : ::testing::Test {
    fixture::TestStore store;
    fixture::FakeClock clock;
    AuditLog audit{*store.auth};
    CountingHasher hasher;
    Authenticator authn{*store.auth, clock, audit, LoginOptions{}, {}, hasher};

    meta::UserRow user(const std::string& name, const std::string& source = "local",
                       bool disabled = false) {
        meta::UserRow u;
        u.name = name;
        u.source = source;
        u.disabled = disabled;
        u.password_hash = source == "local" ? *hash_password("password-" + name) : "";
        auto row = store.auth->create_user(u);
        EXPECT_TRUE(row) << row.error().detail;
        return row.value_or(meta::UserRow{});
    }
};

}  // namespace

// docs/security.md: a wrong name and a wrong password take the same time. Rather than time
// logins (which flakes on a loaded machine), count the slow work: every failed login, whatever
// the reason, checks exactly one password hash of the algorithm and cost new passwords get.
TEST_F(AuthenticatorTest, EveryFailedLoginCostsOneHashOfTheCurrentKind) {
    const auto alice = user("alice");
    user("carol", "local", true);
    user("dave", "ldap");  // a directory account while no directory is configured
    const auto expected = cost_of(alice.password_hash);
    ASSERT_EQ(expected.rfind("$argon2id$", 0), 0u) << expected;
    struct Case {
        const char* name;
        const char* password;
        const char* why;
    };
    for (const Case& c : {Case{"alice", "wrong-password", "wrong password"},
                          Case{"nobody", "wrong-password", "unknown name"},
                          Case{"carol", "password-carol", "disabled account, right password"},
                          Case{"dave", "whatever-pass", "directory account without a directory"}}) {
        hasher.take();
        auto r = authn.login(c.name, c.password, "192.0.2.1");
        ASSERT_FALSE(r) << c.why;
        EXPECT_EQ(r.error().code, errc::unauthenticated) << c.why;
        const auto checked = hasher.take();
        ASSERT_EQ(checked.size(), 1u) << c.why;
        EXPECT_EQ(cost_of(checked[0]), expected) << c.why;
    }
    EXPECT_TRUE(authn.login("alice", "password-alice", "192.0.2.1"));
    EXPECT_EQ(hasher.take().size(), 1u);
}

TEST_F(AuthenticatorTest, DirectoryAccountsCannotRefresh) {
    const auto dave = user("dave", "ldap");
    const auto alice = user("alice");
    EXPECT_FALSE(authn.refreshed(meta::RefreshRow{"user", dave.id, clock.now_unix() + 100}))
        << "the directory would have to be asked again, and only a login can";
    EXPECT_TRUE(authn.refreshed(meta::RefreshRow{"user", alice.id, clock.now_unix() + 100}));
}

TEST_F(AuthenticatorTest, StoreFailuresReachCallersAsUnavailable) {
    const auto alice = user("alice");
    ASSERT_TRUE(store.db->write<void>(
        [](sql::Connection& c) { return c.exec("ALTER TABLE users RENAME TO users_gone"); }));
    auto login = authn.login("alice", "password-alice", "192.0.2.1");
    ASSERT_FALSE(login);
    EXPECT_EQ(login.error().code, errc::unavailable);
    Authorizer authz{*store.auth, clock};
    auto actions = authz.actions(user_principal(alice, "password"), "alice/app");
    ASSERT_FALSE(actions);
    EXPECT_EQ(actions.error().code, errc::unavailable);
}
