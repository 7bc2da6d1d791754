#include "app/operator.hpp"

#include <stdexcept>

#include "app/bootstrap.hpp"
#include "app/meta_database.hpp"
#include "core/clock.hpp"
#include "meta/sql_meta_store.hpp"

namespace dermaga::app {

struct Operator::Impl {
    explicit Impl(const Config& c)
        : meta(open_meta_database(c, 2)),
          store(meta.auth_store()),
          services(make_auth_services(c, *store, clock)),
          admin(*services) {}
    SystemClock clock;
    meta::SqlMetaStore meta;
    std::unique_ptr<meta::AuthStore> store;
    std::unique_ptr<auth::Services> services;
    auth::Admin admin;
};

Operator::Operator(const Config& config) : impl_(std::make_unique<Impl>(config)) {
    if (auto r = impl_->services->tokens.init(); !r) {
        throw std::runtime_error("token signing keys: " + r.error().detail);
    }
}

Operator::~Operator() { impl_->services->audit.flush(); }

auth::Services& Operator::services() { return *impl_->services; }
auth::Admin& Operator::admin() { return impl_->admin; }

}  // namespace dermaga::app
