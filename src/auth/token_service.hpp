#pragma once
// Issues and verifies the registry's bearer tokens (Docker token authentication, ES256 JWTs)
// and refresh tokens. Signing keys live in the AuthStore so every node signs and verifies
// with the same set; a key is generated on first start and rotated on demand.

#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/roles.hpp"
#include "core/clock.hpp"
#include "meta/auth_store.hpp"
#include "metrics/metric.hpp"

namespace dermaga::auth {

struct TokenOptions {
    std::string issuer = "dermaga";
    std::string service = "dermaga";
    std::int64_t ttl = 300;              ///< access token lifetime, seconds
    std::int64_t refresh_ttl = 30 * 86400;
    std::int64_t leeway = 30;            ///< clock skew tolerated on nbf/exp/iat
};

/// A verified bearer token: who, and what it grants.
struct Grant {
    Principal principal;
    std::vector<AccessEntry> access;
    /// The actions granted on repository `name` (0 when none).
    unsigned actions_on(std::string_view type, std::string_view name) const;
};

/// Whether `p` may have a refresh token: anyone logged in, except through a directory (LDAP),
/// whose password and groups only the directory can check again.
bool refreshable(const Principal& p);

class TokenService {
public:
    TokenService(meta::AuthStore& store, const Clock& clock, TokenOptions options);

    /// Loads the keys, generating the first one when there is none. Blocking.
    Result<void> init();
    /// Generates a new signing key and retires the others. A retired key verifies only tokens
    /// issued (iat) before its retirement plus retired_grace(), the time other nodes may take to
    /// learn of the rotation, and nothing once those have expired (retired_key_end).
    Result<std::string> rotate();

    const TokenOptions& options() const noexcept { return options_; }

    /// A signed access token for `p` granting `access`. Blocking only when keys reload.
    Result<std::string> issue(const Principal& p, const std::vector<AccessEntry>& access);
    /// Verifies signature (by kid), alg, issuer, audience, iat/nbf/exp, and that a retired key
    /// signed it before its retirement. Keys are re-read from the store every minute and on an
    /// unknown kid. Errors: errc::unauthenticated with the reason; errc::unavailable when the
    /// keys cannot be read. Verified tokens are remembered until they expire.
    Result<Grant> verify(std::string_view token);
    /// A token verify() accepted before and that has not expired; never blocks, so it may run
    /// on an I/O thread. nullopt: call verify().
    std::optional<Grant> verified(std::string_view token);

    /// A new refresh token for `p` (users, robots, or the personal access token used).
    Result<std::string> issue_refresh(const Principal& p);
    /// The subject of a live refresh token: ("user"|"robot"|"pat", id). Errors: unauthenticated.
    Result<meta::RefreshRow> check_refresh(std::string_view token);

    /// Seconds after its retirement during which a key may still sign (on nodes that have not
    /// re-read the keys yet).
    std::int64_t retired_grace() const;
    /// When a key retired at `retired_at` stops verifying anything.
    std::int64_t retired_key_end(std::int64_t retired_at) const;

    enum class TokenKind { access, refresh };
    /// Tokens handed out by issue() and issue_refresh().
    metrics::Counter issued{{"dermaga_auth_tokens_issued", "Tokens issued by the token endpoint, by kind.",
                             {{"kind", {"access", "refresh"}}}}};

private:
    Result<void> reload_locked();
    meta::AuthStore& store_;
    const Clock& clock_;
    TokenOptions options_;
    std::mutex mu_;
    std::vector<std::pair<SigningKey, std::int64_t>> keys_;  ///< with retired_at; newest first
    std::int64_t loaded_at_ = 0;

    struct Remembered {
        Grant grant;
        std::int64_t exp = 0;
    };
    std::mutex cache_mu_;
    std::unordered_map<std::string, Remembered> cache_;  ///< by the whole token text
};

}  // namespace dermaga::auth
