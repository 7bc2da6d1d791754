#pragma once
// Store failures in auth terms. Nothing above auth/ sees a meta:: error: every store result
// auth/ passes on is lifted here first, so the HTTP error table maps auth::errc only.

#include "auth/secrets.hpp"
#include "core/result.hpp"

namespace dermaga::auth {

/// A store failure as an auth error: not_found and conflict keep their meaning, anything else
/// is unavailable (the detail is kept). auth errors pass through unchanged.
Error lift(const Error& e);

/// `r` with its error lifted.
template <class T>
Result<T> lifted(Result<T> r) {
    if (!r) {
        return tl::unexpected(lift(r.error()));
    }
    return r;
}

}  // namespace dermaga::auth
