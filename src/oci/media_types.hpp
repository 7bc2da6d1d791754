#pragma once
// Media types of the OCI image-spec and the Docker image manifest v2.

#include <string_view>

namespace dermaga::oci::media_type {

inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_schema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view docker_schema1_signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view oci_empty = "application/vnd.oci.empty.v1+json";

inline bool is_index(std::string_view mt) { return mt == oci_index || mt == docker_list; }
inline bool is_image(std::string_view mt) { return mt == oci_manifest || mt == docker_manifest; }
inline bool is_manifest(std::string_view mt) { return is_index(mt) || is_image(mt); }

}  // namespace dermaga::oci::media_type
