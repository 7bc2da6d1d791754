#pragma once
// core::errc: failures of the core value types (parsing of digests and names).

#include <system_error>

namespace dermaga::core {

enum class errc {
    digest_invalid = 1,
    digest_unsupported,
    name_invalid,
    tag_invalid,
    reference_invalid,
};

const std::error_category& category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), category()};
}

}  // namespace dermaga::core

template <>
struct std::is_error_code_enum<dermaga::core::errc> : std::true_type {};
