#include "meta/meta_store.hpp"

namespace dermaga::meta {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.meta"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::not_found: return "not found";
            case errc::reference_missing: return "referenced content missing";
            case errc::conflict: return "concurrent change";
            case errc::db_error: return "database error";
        }
        return "unknown meta error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::meta
