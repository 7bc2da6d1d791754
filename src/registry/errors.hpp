#pragma once
// registry::errc: failures with their OCI meaning. api/oci_errors.cpp maps each to an HTTP
// status and OCI error code in one table; nothing else picks a status.

#include <system_error>

namespace dermaga::registry {

enum class errc {
    blob_unknown = 1,
    blob_upload_invalid,
    blob_upload_unknown,
    digest_invalid,
    manifest_blob_unknown,
    manifest_invalid,
    manifest_too_large,
    manifest_unknown,
    name_invalid,
    name_unknown,
    tag_invalid,
    size_invalid,
    range_invalid,
    pagination_invalid,
    unsupported,
    denied,
    too_many_requests,
    unavailable,  ///< storage or database failure; detail logged, not shown
};

const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace dermaga::registry

template <>
struct std::is_error_code_enum<dermaga::registry::errc> : std::true_type {};
