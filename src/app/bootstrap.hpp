#pragma once
// Building the access-control services from config, and the one-time creation of the first
// administrator for automated deployments.

#include <memory>

#include "app/config.hpp"
#include "auth/services.hpp"
#include "core/clock.hpp"

namespace dermaga::app {

std::unique_ptr<auth::Services> make_auth_services(const Config& c, meta::AuthStore& store, const Clock& clock);

/// When no user exists yet and DERMAGA_BOOTSTRAP_ADMIN_PASSWORD is set, creates the
/// administrator DERMAGA_BOOTSTRAP_ADMIN_USER (default "admin") with that password. Later
/// starts ignore the variables. Throws std::runtime_error on a bad name or password.
void bootstrap_admin_from_env(meta::AuthStore& store, const Clock& clock);

}  // namespace dermaga::app
