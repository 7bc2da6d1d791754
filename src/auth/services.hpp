#pragma once
// Everything access control needs at run time, built once by app/ and shared by api/ and cli/.

#include <string>

#include "auth/audit_log.hpp"
#include "auth/authenticator.hpp"
#include "auth/authorizer.hpp"
#include "auth/token_service.hpp"
#include "metrics/registry.hpp"

namespace dermaga::auth {

struct Options {
    bool enabled = true;
    std::string realm;  ///< token endpoint URL in challenges; empty: derived from the request's Host
    bool certificate_users = true;  ///< a verified client certificate's CN logs in that user
    TokenOptions token;
    LoginOptions login;
};

class Services {
public:
    Services(meta::AuthStore& store, const Clock& clock, Options options,
             ExternalLogin external = {})
        : store(store),
          clock(clock),
          options(std::move(options)),
          audit(store),
          tokens(store, clock, this->options.token),
          authn(store, clock, audit, this->options.login, std::move(external)),
          authz(store, clock) {}

    /// Shows authentication attempts, lockouts and tokens issued in `registry`.
    void register_metrics(metrics::Registry& registry) const {
        registry.add(authn.attempts);
        registry.add(authn.lockouts);
        registry.add(tokens.issued);
    }

    meta::AuthStore& store;
    const Clock& clock;
    const Options options;
    AuditLog audit;
    TokenService tokens;
    Authenticator authn;
    Authorizer authz;
};

}  // namespace dermaga::auth
