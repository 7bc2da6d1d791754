// Directory against a private slapd started by this binary (see slapd.hpp).

#include "auth/ldap/directory.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "slapd.hpp"

namespace dermaga::auth::ldap {
namespace {

namespace t = testing;
using std::chrono::steady_clock;

t::Slapd& server() {
    static t::Slapd s;
    return s;
}

// Why the test slapd is not running; every directory test fails with it (never skips).
std::string& startup_failure() {
    static std::string why;
    return why;
}

class SlapdEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        // Non-fatal, so that every test still runs and fails with the reason below.
        startup_failure() = server().start();
        EXPECT_EQ(startup_failure(), "");
    }
    void TearDown() override { server().stop(); }
};

const auto* const slapd_env = ::testing::AddGlobalTestEnvironment(new SlapdEnvironment);

Config service_config() {
    Config c;
    c.url = server().url();
    c.bind_dn = t::reader_dn;
    c.bind_password = t::reader_password;
    c.user_base = t::people_base;
    c.group_base = t::group_base;
    return c;
}

Config anonymous_config() {
    Config c = service_config();
    c.bind_dn.clear();
    c.bind_password.clear();
    return c;
}

// Fails the test unless `r` is an error with `code` whose detail mentions no password.
void expect_error(const Result<std::optional<Identity>>& r, errc code) {
    ASSERT_FALSE(r.has_value()) << "expected an error, got a "
                                << (r.value() ? "user " + r.value()->dn : "nullopt");
    EXPECT_EQ(r.error().code, make_error_code(code)) << r.error().detail;
    for (const char* secret :
         {t::reader_password, t::alice_password, "wrong-reader-pw", "hunter2-secret"}) {
        EXPECT_EQ(r.error().detail.find(secret), std::string::npos) << r.error().detail;
    }
}

void expect_rejected(const Result<std::optional<Identity>>& r) {
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_FALSE(r.value().has_value()) << "unexpectedly authenticated as " << r.value()->dn;
}

class LdapDirectory : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(server().running()) << "the test slapd is not running: " << startup_failure();
    }
};

TEST_F(LdapDirectory, CorrectPasswordYieldsIdentityWithSortedGroups) {
    auto r = Directory(service_config()).authenticate("alice", t::alice_password);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    ASSERT_TRUE(r->has_value());
    const Identity& id = **r;
    EXPECT_EQ(id.username, "alice");
    EXPECT_EQ(id.dn, "uid=alice,ou=people,dc=example,dc=org");
    EXPECT_EQ(id.email, "alice@example.org");
    EXPECT_EQ(id.groups, (std::vector<std::string>{"developers", "ops"}));
    EXPECT_EQ(id.group_dns, (std::vector<std::string>{"cn=developers,ou=groups,dc=example,dc=org",
                                                      "cn=ops,ou=groups,dc=example,dc=org"}));
}

TEST_F(LdapDirectory, UsernameIsSpelledAsTheDirectorySpellsIt) {
    auto r = Directory(service_config()).authenticate("BoB", t::bob_password);
    ASSERT_TRUE(r.has_value() && r->has_value());
    EXPECT_EQ((*r)->username, "bob");
    EXPECT_EQ((*r)->groups, (std::vector<std::string>{"developers"}));
}

TEST_F(LdapDirectory, UserWithoutGroupsOrMail) {
    auto r = Directory(service_config()).authenticate("carol", t::carol_password);
    ASSERT_TRUE(r.has_value() && r->has_value());
    EXPECT_TRUE((*r)->groups.empty());
    EXPECT_TRUE((*r)->email.empty());
}

TEST_F(LdapDirectory, WrongPasswordIsRejected) {
    Directory d(service_config());
    expect_rejected(d.authenticate("alice", "not-alices-password"));
    expect_rejected(d.authenticate("alice", t::bob_password));
    expect_rejected(d.authenticate("bob", t::alice_password));
}

TEST_F(LdapDirectory, UnknownUserIsRejected) {
    expect_rejected(Directory(service_config()).authenticate("zed", t::alice_password));
}

TEST_F(LdapDirectory, EmptyPasswordIsRefusedWithoutContactingTheServer) {
    expect_rejected(Directory(service_config()).authenticate("alice", ""));
    // Pointed at a port where nothing listens: still a plain rejection, never unavailable.
    Config c = service_config();
    c.url = "ldap://127.0.0.1:" + std::to_string(t::free_port());
    expect_rejected(Directory(c).authenticate("alice", ""));
}

TEST_F(LdapDirectory, FilterInjectionNeverMatchesOtherUsers) {
    Directory d(service_config());
    using namespace std::string_literals;
    for (std::string name : {"*"s, "alice)(uid=*"s, "*)(|(uid=*"s, "al*"s, "*lice"s, "alice)"s,
                             "(uid=alice)"s, "alice\\"s, "ali\\63e"s, "alice\\2a"s, "\\2a"s,
                             std::string("alice\0", 6), std::string("\0*", 2)}) {
        SCOPED_TRACE(name);
        expect_rejected(d.authenticate(name, t::alice_password));
    }
    // The same holds in a filter with several {user} assertions.
    Config c = service_config();
    c.user_filter = "(&(objectClass=inetOrgPerson)(|(uid={user})(mail={user})))";
    for (std::string name : {"*", "*)(uid=*", "alice)(|(uid=*"}) {
        SCOPED_TRACE(name);
        expect_rejected(Directory(c).authenticate(name, t::alice_password));
    }
}

TEST_F(LdapDirectory, DnInGroupFilterIsEscaped) {
    // Mallory's DN contains "(*)\": unescaped, the group filter would be malformed or match
    // more; escaped it matches exactly the groups listing that DN.
    auto r = Directory(service_config()).authenticate("mallory", t::mallory_password);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->dn, t::mallory_dn);
    EXPECT_EQ((*r)->groups, (std::vector<std::string>{"ops"}));
}

TEST_F(LdapDirectory, ServiceAccountSearchSeesWhatAnonymousCannot) {
    // The fixture ACL shows "mail" only to bound users.
    auto with_service = Directory(service_config()).authenticate("alice", t::alice_password);
    ASSERT_TRUE(with_service.has_value() && with_service->has_value());
    EXPECT_EQ((*with_service)->email, "alice@example.org");
}

TEST_F(LdapDirectory, AnonymousSearchWorks) {
    auto r = Directory(anonymous_config()).authenticate("alice", t::alice_password);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ((*r)->dn, "uid=alice,ou=people,dc=example,dc=org");
    EXPECT_EQ((*r)->email, "");
    EXPECT_EQ((*r)->groups, (std::vector<std::string>{"developers", "ops"}));
    expect_rejected(Directory(anonymous_config()).authenticate("alice", "nope"));
}

TEST_F(LdapDirectory, GroupLookupOffWhenGroupBaseEmpty) {
    Config c = service_config();
    c.group_base.clear();
    auto r = Directory(c).authenticate("alice", t::alice_password);
    ASSERT_TRUE(r.has_value() && r->has_value());
    EXPECT_TRUE((*r)->groups.empty());
    EXPECT_TRUE((*r)->group_dns.empty());
}

TEST_F(LdapDirectory, AmbiguousFilterIsAnError) {
    Config c = service_config();
    c.user_filter = "(objectClass=inetOrgPerson)";
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::ambiguous_user);
}

TEST_F(LdapDirectory, WrongServicePasswordIsMisconfiguredAndNotEchoed) {
    Config c = service_config();
    c.bind_password = "wrong-reader-pw";
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::misconfigured);
}

TEST_F(LdapDirectory, BadConfigIsMisconfigured) {
    Config c = service_config();
    c.user_base = "ou=nowhere,dc=example,dc=org";
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::misconfigured);
    c = service_config();
    c.url = "http://127.0.0.1:1";
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::misconfigured);
    c = service_config();
    c.user_filter = "uid={user}";
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::misconfigured);
    c = service_config();
    c.bind_password.clear();  // would be an unauthenticated service bind
    expect_error(Directory(c).authenticate("alice", t::alice_password), errc::misconfigured);
}

TEST_F(LdapDirectory, ServerDownIsUnavailable) {
    Config c = service_config();
    c.url = "ldap://127.0.0.1:" + std::to_string(t::free_port());
    c.timeout = std::chrono::seconds(2);
    auto start = steady_clock::now();
    expect_error(Directory(c).authenticate("alice", "hunter2-secret"), errc::unavailable);
    EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
}

// A socket that accepts TCP connections (the kernel completes them) but never answers.
class SilentServer {
public:
    SilentServer() {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        listen(fd_, 16);
        socklen_t len = sizeof addr;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
    }
    ~SilentServer() { close(fd_); }
    int fd() const { return fd_; }
    std::string url() const { return "ldap://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    int port_ = 0;
};

TEST_F(LdapDirectory, SilentServerTimesOutAsUnavailable) {
    SilentServer silent;
    for (const Config& base : {service_config(), anonymous_config()}) {
        Config c = base;
        c.url = silent.url();
        c.timeout = std::chrono::seconds(1);
        auto start = steady_clock::now();
        expect_error(Directory(c).authenticate("alice", "hunter2-secret"), errc::unavailable);
        auto took = steady_clock::now() - start;
        EXPECT_GE(took, std::chrono::milliseconds(900));
        EXPECT_LT(took, std::chrono::milliseconds(2500));
    }
}

// Accepts connections and resets them at once, so libldap writes to a dead socket.
class ResettingServer {
public:
    ResettingServer() : thread_([this] { run(); }) {}
    ~ResettingServer() {
        stop_ = true;
        shutdown(listener_.fd(), SHUT_RDWR);
        thread_.join();
    }
    std::string url() const { return listener_.url(); }

private:
    void run() {
        while (!stop_) {
            int fd = accept(listener_.fd(), nullptr, nullptr);
            if (fd < 0) {
                return;
            }
            linger reset{1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            close(fd);
        }
    }
    SilentServer listener_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST_F(LdapDirectory, ResetConnectionIsUnavailable) {
    // The process must survive too: SIGPIPE is not ignored in this test binary.
    ResettingServer resetting;
    for (const Config& base : {service_config(), anonymous_config()}) {
        Config c = base;
        c.url = resetting.url();
        for (int i = 0; i < 20; ++i) {
            expect_error(Directory(c).authenticate("alice", "hunter2-secret"), errc::unavailable);
        }
    }
}

TEST_F(LdapDirectory, LdapsAndStartTlsVerifyTheServerWithCaFile) {
    Config ldaps = service_config();
    ldaps.url = server().tls_url();
    ldaps.ca_file = server().ca_file();
    Config start_tls = service_config();
    start_tls.start_tls = true;
    start_tls.ca_file = server().ca_file();
    for (const Config& c : {ldaps, start_tls}) {
        SCOPED_TRACE(c.url);
        auto r = Directory(c).authenticate("alice", t::alice_password);
        ASSERT_TRUE(r.has_value()) << r.error().detail;
        ASSERT_TRUE(r->has_value());
        EXPECT_EQ((*r)->groups, (std::vector<std::string>{"developers", "ops"}));
        expect_rejected(Directory(c).authenticate("alice", "wrong"));
    }
}

TEST_F(LdapDirectory, UntrustedCertificateIsUnavailable) {
    Config ldaps = service_config();
    ldaps.url = server().tls_url();  // no ca_file: the self-signed certificate is not trusted
    Config start_tls = service_config();
    start_tls.start_tls = true;
    for (const Config& c : {ldaps, start_tls}) {
        SCOPED_TRACE(c.url);
        expect_error(Directory(c).authenticate("alice", t::alice_password), errc::unavailable);
    }
}

TEST_F(LdapDirectory, ConcurrentCallsAreIndependent) {
    Directory d(service_config());
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&, i] {
            bool alice = i % 2 == 0;
            auto r =
                alice ? d.authenticate("alice", t::alice_password) : d.authenticate("bob", "wrong");
            if (r.has_value() && r->has_value() == alice) {
                ++good;
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(good.load(), 8);
}

}  // namespace
}  // namespace dermaga::auth::ldap
