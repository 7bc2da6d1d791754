#include "auth/errors.hpp"

#include "meta/meta_store.hpp"

namespace dermaga::auth {

Error lift(const Error& e) {
    if (e.code.category() == category()) {
        return e;
    }
    if (e.code == meta::errc::not_found) {
        return Error{make_error_code(errc::not_found), "no such " + e.detail};
    }
    if (e.code == meta::errc::conflict) {
        return Error{make_error_code(errc::conflict), e.detail};
    }
    return Error{make_error_code(errc::unavailable), e.detail};
}

}  // namespace dermaga::auth
