#include "registry/errors.hpp"

#include <string>

namespace dermaga::registry {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.registry"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::blob_unknown: return "blob unknown to registry";
            case errc::blob_upload_invalid: return "blob upload invalid";
            case errc::blob_upload_unknown: return "blob upload unknown to registry";
            case errc::digest_invalid: return "provided digest did not match uploaded content";
            case errc::manifest_blob_unknown: return "manifest references a manifest or blob unknown to registry";
            case errc::manifest_invalid: return "manifest invalid";
            case errc::manifest_too_large: return "manifest too large";
            case errc::manifest_unknown: return "manifest unknown to registry";
            case errc::name_invalid: return "invalid repository name";
            case errc::name_unknown: return "repository name not known to registry";
            case errc::tag_invalid: return "invalid tag";
            case errc::size_invalid: return "provided length did not match content length";
            case errc::range_invalid: return "requested range not satisfiable";
            case errc::pagination_invalid: return "invalid number of results requested";
            case errc::unsupported: return "the operation is unsupported";
            case errc::denied: return "requested access to the resource is denied";
            case errc::too_many_requests: return "too many requests";
            case errc::unavailable: return "storage temporarily unavailable";
        }
        return "unknown registry error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::registry
