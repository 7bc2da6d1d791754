#include "core/error.hpp"

#include <string>

namespace dermaga::core {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.core"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::digest_invalid: return "invalid digest";
            case errc::digest_unsupported: return "unsupported digest algorithm";
            case errc::name_invalid: return "invalid repository name";
            case errc::tag_invalid: return "invalid tag";
            case errc::reference_invalid: return "invalid reference";
        }
        return "unknown core error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::core
