#include "api/oci_errors.hpp"

#include "auth/secrets.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "registry/errors.hpp"

namespace dermaga::api {

namespace {

using registry::errc;

OciError from_registry(errc e) {
    switch (e) {
        case errc::blob_unknown: return {404, "BLOB_UNKNOWN", "blob unknown to registry"};
        case errc::blob_upload_invalid: return {400, "BLOB_UPLOAD_INVALID", "blob upload invalid"};
        case errc::blob_upload_unknown: return {404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"};
        case errc::digest_invalid: return {400, "DIGEST_INVALID", "provided digest did not match uploaded content"};
        case errc::manifest_blob_unknown:
            return {400, "MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry"};
        case errc::manifest_invalid: return {400, "MANIFEST_INVALID", "manifest invalid"};
        case errc::manifest_too_large: return {413, "MANIFEST_INVALID", "manifest too large"};
        case errc::manifest_unknown: return {404, "MANIFEST_UNKNOWN", "manifest unknown to registry"};
        case errc::name_invalid: return {400, "NAME_INVALID", "invalid repository name"};
        case errc::name_unknown: return {404, "NAME_UNKNOWN", "repository name not known to registry"};
        case errc::tag_invalid: return {400, "TAG_INVALID", "manifest tag did not match URI"};
        case errc::size_invalid: return {400, "SIZE_INVALID", "provided length did not match content length"};
        case errc::range_invalid: return {416, "BLOB_UPLOAD_INVALID", "requested range not satisfiable"};
        case errc::pagination_invalid:
            return {400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"};
        case errc::unsupported: return {405, "UNSUPPORTED", "the operation is unsupported"};
        case errc::denied: return {403, "DENIED", "requested access to the resource is denied"};
        case errc::too_many_requests: return {429, "TOOMANYREQUESTS", "too many requests"};
        case errc::unavailable: return {503, "UNAVAILABLE", "storage temporarily unavailable"};
    }
    return {500, "UNKNOWN", "unknown error"};
}

OciError from_core(core::errc e) {
    switch (e) {
        case core::errc::digest_invalid:
        case core::errc::digest_unsupported: return {400, "DIGEST_INVALID", "invalid digest"};
        case core::errc::name_invalid: return {400, "NAME_INVALID", "invalid repository name"};
        case core::errc::tag_invalid:
        case core::errc::reference_invalid: return {400, "TAG_INVALID", "invalid tag"};
    }
    return {500, "UNKNOWN", "unknown error"};
}

OciError from_http(http::errc e) {
    switch (e) {
        case http::errc::body_too_large: return {413, "SIZE_INVALID", "request body too large"};
        case http::errc::timeout: return {408, "BLOB_UPLOAD_INVALID", "request body not received in time"};
        case http::errc::client_closed:
        case http::errc::bad_body: return {400, "BLOB_UPLOAD_INVALID", "request body incomplete or malformed"};
        case http::errc::tls_config: break;  // start-up and reload only, never a request's
    }
    return {500, "UNKNOWN", "unknown error"};
}

/// Access control and management API failures (the /api/v1 envelope is the same).
OciError from_auth(auth::errc e) {
    switch (e) {
        case auth::errc::bad_input: return {400, "BAD_REQUEST", "invalid request"};
        case auth::errc::unauthenticated: return {401, "UNAUTHORIZED", "authentication required"};
        case auth::errc::locked: return {429, "TOOMANYREQUESTS", "too many failed logins; try again later"};
        case auth::errc::denied: return {403, "DENIED", "requested access to the resource is denied"};
        case auth::errc::not_found: return {404, "NOT_FOUND", "not found"};
        case auth::errc::conflict: return {409, "CONFLICT", "conflict"};
        case auth::errc::unavailable: return {503, "UNAVAILABLE", "service temporarily unavailable"};
    }
    return {500, "UNKNOWN", "unknown error"};
}

}  // namespace

OciError classify(const Error& e) {
    const auto& cat = e.code.category();
    if (cat == registry::category()) {
        return from_registry(static_cast<errc>(e.code.value()));
    }
    if (cat == core::category()) {
        return from_core(static_cast<core::errc>(e.code.value()));
    }
    if (cat == http::category()) {
        return from_http(static_cast<http::errc>(e.code.value()));
    }
    if (cat == auth::category()) {
        return from_auth(static_cast<auth::errc>(e.code.value()));
    }
    return {500, "UNKNOWN", "unknown error"};
}

http::Response error_response(unsigned status, std::string_view code, std::string_view message,
                              std::string_view detail) {
    http::Response r;
    r.status = status;
    r.set("Content-Type", "application/json");
    std::string body = R"({"errors":[{"code":)";
    log::append_json_string(body, code);
    body += R"(,"message":)";
    log::append_json_string(body, message);
    if (!detail.empty()) {
        body += R"(,"detail":)";
        log::append_json_string(body, detail);
    }
    body += "}]}";
    r.body = std::move(body);
    return r;
}

http::Response error_response(const Error& e) {
    auto c = classify(e);
    return error_response(c.status, c.code, c.message, e.detail);
}

}  // namespace dermaga::api
