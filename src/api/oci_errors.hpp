#pragma once
// The one table from failures to HTTP status + OCI error code, and the JSON error envelope:
//   {"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"…"}]}

#include <string_view>

#include "core/result.hpp"
#include "http/message.hpp"

namespace dermaga::api {

struct OciError {
    unsigned status;
    std::string_view code;
    std::string_view message;
};

/// Looks up the status and code of any error from core, http or registry. Unknown errors map
/// to 500 UNKNOWN.
OciError classify(const Error& e);

/// The complete error response for `e` (its detail goes into "detail").
http::Response error_response(const Error& e);

/// An error response for conditions the router itself detects (unknown route, bad method).
http::Response error_response(unsigned status, std::string_view code, std::string_view message,
                              std::string_view detail = {});

}  // namespace dermaga::api
