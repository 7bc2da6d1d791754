#include <string>

#include "auth/ldap/directory.hpp"

namespace dermaga::auth::ldap {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.auth.ldap"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::unavailable:
                return "LDAP server unavailable";
            case errc::misconfigured:
                return "LDAP misconfigured";
            case errc::ambiguous_user:
                return "LDAP user search matched more than one entry";
        }
        return "unknown LDAP error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::auth::ldap
