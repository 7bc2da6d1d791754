#pragma once
// Who is calling. Turns credentials into a Principal:
//  - a user's password (Argon2id, or bcrypt imported from htpasswd), or an external directory
//    (LDAP) for accounts it owns;
//  - a personal access token ("dmg_pat_...") given as the password of its owner;
//  - a robot secret ("dmg_robot_...") given as the password of "<org>+<robot>";
//  - a verified client certificate whose CN names an enabled user.
// Failed logins are counted per user name and per client address in the AuthStore (shared by
// every node); past the threshold the key is locked for a while. Every result is audited.

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/audit_log.hpp"
#include "auth/roles.hpp"
#include "auth/secrets.hpp"
#include "core/clock.hpp"
#include "meta/auth_store.hpp"
#include "metrics/metric.hpp"

namespace dermaga::auth {

/// An identity confirmed by an external directory.
struct ExternalIdentity {
    std::string username;
    std::string email;
    std::vector<std::string> group_dns;
};
/// nullopt: wrong credentials. Error: the directory is unavailable.
using ExternalLogin = std::function<Result<std::optional<ExternalIdentity>>(std::string_view, std::string_view)>;

struct LoginOptions {
    std::int64_t window = 900;          ///< failures count within this many seconds
    std::int64_t user_threshold = 10;   ///< failures for one user name before it is locked
    std::int64_t ip_threshold = 100;    ///< failures from one address before it is locked
    std::int64_t lock_seconds = 900;
    std::int64_t slow_after = 3;        ///< failures after which answers are delayed
};

constexpr std::string_view pat_prefix = "dmg_pat_";
constexpr std::string_view robot_prefix = "dmg_robot_";

/// How a caller authenticated (the `method` label of the authentication metrics).
enum class AuthMethod { password, token, robot, certificate, bearer, refresh };
/// What came of it: accepted, wrong credentials, refused while locked out, or a backend error.
enum class AuthOutcome { success, failure, locked, error };

class Authenticator {
public:
    /// Every login costs one `hasher` check whether or not the name exists.
    Authenticator(meta::AuthStore& store, const Clock& clock, AuditLog& audit, LoginOptions options,
                  ExternalLogin external = {},
                  const PasswordHasher& hasher = PasswordHasher::standard());

    /// Checks a user name and password/secret. Blocking (the slow hash runs here). Errors:
    /// errc::unauthenticated (detail: "slow" when the caller should delay its answer),
    /// errc::locked (detail: seconds until retry), errc::unavailable.
    Result<Principal> login(std::string_view user, std::string_view secret, std::string_view address);
    /// login() for credentials sent with every request (HTTP Basic): a credential verified in
    /// the last minute is re-checked against its stored form instead of re-hashed.
    Result<Principal> basic(std::string_view user, std::string_view secret, std::string_view address);
    /// A verified client certificate's CN. Errors: errc::unauthenticated.
    Result<Principal> certificate(std::string_view cn, std::string_view address);
    /// The principal a refresh token stands for, if still valid. Errors: unauthenticated.
    Result<Principal> refreshed(const meta::RefreshRow& row);

    /// Counts one authentication by a way this class does not see (a bearer token). Lock-free.
    void record(AuthMethod m, AuthOutcome o) { attempts.inc(m, o); }

    /// Credentials presented (each request's, and each login at the token endpoint).
    metrics::Counter attempts{{"dermaga_auth_attempts",
                               "Authentications by method and outcome (one per request or login with credentials).",
                               {{"method", {"password", "token", "robot", "certificate", "bearer", "refresh"}},
                                {"outcome", {"success", "failure", "locked", "error"}}}}};
    /// Failed logins that locked a user name or a client address.
    metrics::Counter lockouts{{"dermaga_auth_lockouts", "Lockouts after repeated failed logins, by what was locked.",
                               {{"key", {"user", "address"}}}}};

private:
    struct Checked {
        Principal principal;
        std::string fingerprint;  ///< the stored credential form it was checked against
    };
    Result<Checked> check(std::string_view user, std::string_view secret);
    /// login(), keeping what the credential was checked against.
    Result<Checked> login_checked(std::string_view user, std::string_view secret, std::string_view address);
    /// The remembered check under `key` while it is fresh.
    std::optional<Checked> recall(const std::string& key, std::int64_t now);
    void remember(const std::string& key, Checked checked, std::int64_t now);
    Result<Checked> check_user(std::string_view user, std::string_view secret);
    /// `hasher_` on `hash`, or on a stand-in hash when `hash` is empty (then false).
    bool slow_check(std::string_view secret, std::string_view hash);
    Result<Principal> revalidate(const Checked& c);
    // The public checks without counting; each public one counts its outcome.
    Result<Principal> login_uncounted(std::string_view user, std::string_view secret, std::string_view address);
    Result<Principal> basic_uncounted(std::string_view user, std::string_view secret, std::string_view address);
    Result<Principal> certificate_uncounted(std::string_view cn, std::string_view address);
    Result<Principal> refreshed_uncounted(const meta::RefreshRow& row);
    Result<Principal> counted(AuthMethod m, Result<Principal> r);
    void audit(std::string_view actor, std::string_view kind, std::string_view address, std::string_view outcome,
               std::string_view detail);

    meta::AuthStore& store_;
    const Clock& clock_;
    AuditLog& audit_;
    LoginOptions options_;
    ExternalLogin external_;
    const PasswordHasher& hasher_;
    std::once_flag stand_in_once_;
    std::string stand_in_;

    struct CacheEntry {
        Checked checked;
        std::int64_t until = 0;
    };
    std::mutex mu_;
    std::unordered_map<std::string, CacheEntry> cache_;
};

/// A Principal for a user row.
Principal user_principal(const meta::UserRow& u, std::string method);

/// The method a user name and secret stand for: a robot ("org+name"), a personal access
/// token (its prefix), or a password (local or directory).
AuthMethod credential_method(std::string_view user, std::string_view secret);

}  // namespace dermaga::auth
