#pragma once
// Password hashing and machine secrets.
//  - Passwords: Argon2id (libsodium's crypto_pwhash_str), verified in constant time. bcrypt
//    strings imported from htpasswd files verify too (libcrypt).
//  - Machine secrets (robot secrets, personal access tokens, refresh tokens): 256 random bits,
//    stored as their SHA-256 only.

#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dermaga::auth {

enum class errc {
    bad_input = 1,     ///< a request or file that is malformed (detail says how)
    unauthenticated,   ///< credentials missing or wrong
    locked,            ///< too many failed logins; detail = seconds to wait
    denied,            ///< authenticated but not allowed
    not_found,
    conflict,
    unavailable,       ///< a dependency (LDAP, the database) failed
};
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// An Argon2id hash string for `password`. Slow by design (tens of ms): call off the io threads.
Result<std::string> hash_password(std::string_view password);
/// Checks `password` against an Argon2id or bcrypt ($2a$/$2b$/$2y$) hash; false for any other
/// or empty hash.
bool verify_password(std::string_view password, std::string_view hash);
/// The slow password hash behind logins, as an object so that what a login costs can be
/// observed (the timing tests count its calls). The default uses hash_password and
/// verify_password. Implementations are thread-safe.
class PasswordHasher {
public:
    virtual ~PasswordHasher() = default;
    virtual Result<std::string> hash(std::string_view password) const {
        return hash_password(password);
    }
    virtual bool verify(std::string_view password, std::string_view hash) const {
        return verify_password(password, hash);
    }
    /// The process-wide default.
    static const PasswordHasher& standard();
};

/// Whether a password meets the minimum (8 to 1024 bytes). Errors: errc::bad_input.
Result<void> check_password_policy(std::string_view password);

struct HtpasswdEntry {
    std::string user;
    std::string hash;
};
/// Parses an htpasswd file. Only bcrypt entries are accepted (the other htpasswd formats are
/// weak); errors name the line.
Result<std::vector<HtpasswdEntry>> parse_htpasswd(std::string_view text);

/// A new secret: `prefix` + 43 base64url characters (256 bits).
std::string new_secret(std::string_view prefix);
/// The stored form of a machine secret: lowercase hex SHA-256.
std::string secret_hash(std::string_view secret);

}  // namespace dermaga::auth

template <>
struct std::is_error_code_enum<dermaga::auth::errc> : std::true_type {};
