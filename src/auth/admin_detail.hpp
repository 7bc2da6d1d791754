#pragma once
// Internal to auth/admin*.cpp: the audit wrappers every management operation runs in, and
// small helpers shared by the operation files.

#include <string>

#include "auth/admin.hpp"
#include "auth/errors.hpp"

namespace dermaga::auth {

/// Runs a mutation and audits its outcome: allowed, denied, or failed (with the reason). A body
/// taking `(std::string& action, std::string& object)` may name them more precisely once it
/// has read its input (a refusal comes first, so it is audited under the names given here).
template <class F>
auto Admin::mutation(const Actor& a, std::string action, std::string object, F body) {
    auto r = [&] {
        if constexpr (std::is_invocable_v<F&, std::string&, std::string&>) {
            return body(action, object);
        } else {
            return body();
        }
    }();
    if (r) {
        record(a, std::move(action), std::move(object), "allowed", {});
        return r;
    }
    r = tl::unexpected(lift(r.error()));
    const bool denied = r.error().code == errc::denied;
    record(a, std::move(action), std::move(object), denied ? "denied" : "failed", r.error().detail);
    return r;
}

/// Runs a read; only a denial is audited.
template <class F>
auto Admin::reading(const Actor& a, std::string action, std::string object, F body) -> decltype(body()) {
    auto r = body();
    if (!r) {
        r = tl::unexpected(lift(r.error()));
        if (r.error().code == errc::denied) {
            record(a, std::move(action), std::move(object), "denied", r.error().detail);
        }
    }
    return r;
}

/// Checks a user/organisation/team/robot name.
Result<void> check_name(std::string_view field, std::string_view name);
/// parse_role with a field-specific error.
Result<int> check_role(std::string_view field, std::string_view role);
/// "public" or "private".
Result<void> check_visibility(std::string_view field, std::string_view v);
/// Clears stored secrets before a row leaves auth/.
meta::UserRow redacted(meta::UserRow u);

}  // namespace dermaga::auth
