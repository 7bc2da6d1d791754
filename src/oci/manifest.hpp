#pragma once
// Parsing and validation of pushed manifests. We never re-serialise: the bytes a client pushed
// are the bytes we store and serve; parsing only extracts what the registry must know.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/digest.hpp"
#include "core/result.hpp"

namespace dermaga::oci {

enum class errc {
    manifest_invalid = 1,  ///< not JSON, wrong schema, bad descriptor, media type conflict
    unsupported,           ///< a manifest format we refuse (Docker schema 1)
};
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// A content descriptor (image-spec descriptor.md).
struct Descriptor {
    std::string media_type;
    Digest digest;
    std::int64_t size = 0;
    std::string artifact_type;    ///< may be empty
    std::string annotations_json; ///< raw JSON object text, empty when absent
    std::string platform_json;    ///< raw JSON object text, empty when absent
};

enum class ManifestKind { image, index };

/// What the registry needs from a manifest.
struct ParsedManifest {
    std::string media_type;  ///< the effective media type (served as Content-Type)
    ManifestKind kind = ManifestKind::image;
    std::optional<Descriptor> config;   ///< images only
    std::vector<Descriptor> layers;     ///< images only
    std::vector<Descriptor> manifests;  ///< indexes only
    std::optional<Descriptor> subject;
    std::string artifact_type;     ///< artifactType, else config.mediaType for images
    std::string annotations_json;  ///< raw JSON of "annotations", empty when absent
};

/// Parses and validates manifest bytes. `content_type` is the request's Content-Type (may be
/// empty). The media type is taken from Content-Type when it names a manifest type, else from
/// the "mediaType" field, else inferred from the shape. A "mediaType" field that contradicts a
/// manifest Content-Type is an error.
/// Errors: oci::errc::manifest_invalid, oci::errc::unsupported (schema 1).
Result<ParsedManifest> parse_manifest(std::string_view bytes, std::string_view content_type);

}  // namespace dermaga::oci

template <>
struct std::is_error_code_enum<dermaga::oci::errc> : std::true_type {};
