#pragma once
// The API suite's fixture: a real App in process on 127.0.0.1:0 with a fresh temporary data
// directory per test, a real HTTP client, and helpers that push content the way clients do.
// Digests are computed here with OpenSSL, independently of the server's own code.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "app/app.hpp"
#include "oci/media_types.hpp"
#include "http_client.hpp"

namespace dermaga::test {

using json = nlohmann::json;

// Media types -------------------------------------------------------------------------------
using dermaga::oci::media_type::docker_list;
using dermaga::oci::media_type::docker_manifest;
using dermaga::oci::media_type::oci_empty;
using dermaga::oci::media_type::oci_index;
using dermaga::oci::media_type::oci_manifest;
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// Digests -----------------------------------------------------------------------------------
/// "sha256:<hex>" of `bytes`.
std::string sha256(std::string_view bytes);
/// "sha512:<hex>" of `bytes`.
std::string sha512(std::string_view bytes);
/// A well-formed sha256 digest of content nobody pushed.
std::string absent_digest(std::string_view salt = "absent");

// Manifest builders -------------------------------------------------------------------------
/// A content descriptor. `extra` is appended verbatim inside the object (",\"k\":v").
struct Desc {
    std::string media_type;
    std::string digest;
    std::size_t size = 0;
    std::string extra;
};
Desc desc_of(std::string_view media_type, std::string_view bytes, std::string extra = {});

/// An image manifest with unusual but valid whitespace. Empty `media_type` omits the field;
/// `extra` is appended verbatim after the layers (",\"k\":v").
std::string image_manifest(const Desc& config, const std::vector<Desc>& layers,
                           std::string_view media_type = oci_manifest, std::string_view extra = {});
/// An image index (or Docker manifest list) over `manifests`.
std::string index_manifest(const std::vector<Desc>& manifests,
                           std::string_view media_type = oci_index, std::string_view extra = {});

/// An image whose blobs and manifest have been pushed.
struct Image {
    std::string config;
    std::string layer;
    std::string manifest;
    std::string digest;  ///< of the manifest
    Desc descriptor;     ///< of the manifest, for indexes and subjects
};

// Assertions --------------------------------------------------------------------------------
/// Checks the status, a JSON Content-Type and an OCI error envelope whose first error has
/// `code` and a string message.
::testing::AssertionResult IsOciError(const HttpResponse& r, unsigned status,
                                      std::string_view code);
/// Prints a response for failure messages.
std::string describe(const HttpResponse& r);
/// Points `config` at the S3 endpoint in DERMAGA_TEST_S3_* (set by tests/servers/rgw-env.sh),
/// under key prefix `prefix`; leaves it on the filesystem store when the endpoint is unset.
void use_test_s3(app::Config& config, const std::string& prefix);

/// Appends a query parameter to a URL that may already have a query.
std::string with_query(const std::string& url, std::string_view param);
/// The target inside a `Link: <target>; rel="next"` header; empty when there is none.
std::string next_link(const HttpResponse& r);

// Fixture -----------------------------------------------------------------------------------
// The metadata engine is sql::testing::test_engine() ($DERMAGA_TEST_META): SQLite in the
// test's data directory, or a fresh schema of a private PostgreSQL 15 started once for the
// process. ctest runs the suite once with each.

class ApiTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;
    /// Override to change the configuration before the server starts.
    virtual void configure(app::Config& config) { (void)config; }

    /// Stops the App and starts a new one on the same data directory (a new port).
    void restart_app();
    std::uint16_t port() const { return port_; }
    /// The metrics listener's port (0 without metrics.addr).
    std::uint16_t metrics_port() const;
    HttpClient& http() { return *client_; }
    std::unique_ptr<HttpClient> new_client() const;

    /// POST then PUT ?digest=; expects 201. Returns the digest.
    std::string push_blob(std::string_view repo, std::string_view bytes);
    /// PUT a manifest; expects 201 and a matching Docker-Content-Digest. Returns the digest.
    std::string push_manifest(std::string_view repo, std::string_view reference,
                              std::string_view body, std::string_view content_type = oci_manifest);
    /// Pushes config, layer and an OCI manifest under `tag` (by digest when `tag` is empty).
    Image push_image(std::string_view repo, std::string_view tag, std::string_view seed,
                     std::string_view manifest_media_type = oci_manifest);
    /// GETs and parses a JSON body; ADD_FAILUREs on a non-200 answer.
    json get_json(const std::string& target);

    app::Config config_;
    std::filesystem::path dir_;

private:
    void start_app();

    std::unique_ptr<app::App> app_;
    std::unique_ptr<HttpClient> client_;
    std::uint16_t port_ = 0;
};

}  // namespace dermaga::test
