#pragma once
// A private slapd for tests: temp directory, free port on 127.0.0.1, mdb backend, fixture
// directory loaded with slapadd. Never touches a system slapd instance.

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace dermaga::auth::ldap::testing {

inline constexpr const char* suffix = "dc=example,dc=org";
inline constexpr const char* people_base = "ou=people,dc=example,dc=org";
inline constexpr const char* group_base = "ou=groups,dc=example,dc=org";
inline constexpr const char* admin_dn = "cn=admin,dc=example,dc=org";  ///< the directory's root
inline constexpr const char* admin_password = "admin-Secret-00";
inline constexpr const char* reader_dn = "cn=reader,dc=example,dc=org";
inline constexpr const char* reader_password = "reader-Secret-77";
inline constexpr const char* alice_password = "alice-Secret-11";
inline constexpr const char* bob_password = "bob-Secret-22";
inline constexpr const char* carol_password = "carol-Secret-33";
inline constexpr const char* mallory_password = "mallory-Secret-44";
/// Mallory's DN holds filter metacharacters and an escaped backslash.
inline constexpr const char* mallory_dn = "cn=mallory (*)\\5C,ou=people,dc=example,dc=org";

/// Finds an executable in /usr/sbin, /usr/bin, /sbin or PATH; empty if absent.
std::string find_program(const std::string& name);

/// A port on 127.0.0.1 that was free a moment ago.
int free_port();

class Slapd {
public:
    Slapd() = default;
    Slapd(const Slapd&) = delete;
    Slapd& operator=(const Slapd&) = delete;
    ~Slapd() { stop(); }

    /// Starts slapd (DERMAGA_TEST_SLAPD overrides the binary). Empty on success, else why not.
    std::string start();
    /// Stops our slapd by PID and removes its directory. Idempotent.
    void stop();

    bool running() const { return pid_ > 0; }
    /// Applies an LDIF change (ldapmodify as the directory root). Empty on success, else why not.
    std::string modify(const std::string& ldif);
    std::string url() const { return "ldap://127.0.0.1:" + std::to_string(port_); }
    std::string tls_url() const { return "ldaps://127.0.0.1:" + std::to_string(tls_port_); }
    /// The self-signed certificate slapd presents on both URLs (CN and SAN 127.0.0.1).
    std::string ca_file() const { return (dir_ / "cert.pem").string(); }

private:
    std::string try_start(const std::string& slapd);

    pid_t pid_ = -1;
    int port_ = 0;
    int tls_port_ = 0;
    std::filesystem::path dir_;
};

}  // namespace dermaga::auth::ldap::testing
