#include "storage/blob_store.hpp"

#include <string>

namespace dermaga::storage {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.storage"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::not_found: return "blob not found";
            case errc::upload_unknown: return "upload not found";
            case errc::io_error: return "storage I/O error";
        }
        return "unknown storage error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::storage
