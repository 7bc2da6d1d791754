#include "oci/manifest.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "oci/media_types.hpp"

using namespace dermaga;
using namespace dermaga::oci;

namespace {
const std::string d1 = "sha256:" + std::string(64, '1');
const std::string d2 = "sha256:" + std::string(64, '2');

std::string image(const std::string& extra = "") {
    return R"({"schemaVersion":2,)" + extra + R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           d1 + R"(","size":7},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + d2 +
           R"(","size":9}]})";
}
}  // namespace

TEST(ParseManifest, ImageTakesItsMediaTypeField) {
    auto m = parse_manifest(
        image(R"("mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"),
        media_type::docker_manifest);
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->media_type, media_type::docker_manifest);
    EXPECT_EQ(m->kind, ManifestKind::image);
    ASSERT_EQ(m->layers.size(), 1u);
    EXPECT_EQ(m->layers[0].size, 9);
    EXPECT_EQ(m->config->digest.str(), d1);
    EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
}

TEST(ParseManifest, OciImageWithoutMediaTypeFieldAcceptsItsContentType) {
    // umoci writes OCI manifests without "mediaType".
    auto m = parse_manifest(image(), std::string(media_type::oci_manifest) + "; charset=utf-8");
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->media_type, media_type::oci_manifest);
}

TEST(ParseManifest, InfersOciImageWithoutAnyType) {
    auto m = parse_manifest(image(), "");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->media_type, media_type::oci_manifest);
}

TEST(ParseManifest, RejectsMediaTypeContradictingContentType) {
    auto m = parse_manifest(image(R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)"),
                            media_type::docker_manifest);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, errc::manifest_invalid);
}

TEST(ParseManifest, IndexWithSubjectAndArtifactType) {
    std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","artifactType":"x/y",
      "manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d1 +
                      R"(","size":3,"platform":{"architecture":"arm64","os":"linux"}}],
      "subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + d2 + R"(","size":5}})";
    auto m = parse_manifest(idx, "application/vnd.oci.image.index.v1+json; charset=utf-8");
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->kind, ManifestKind::index);
    ASSERT_EQ(m->manifests.size(), 1u);
    EXPECT_FALSE(m->manifests[0].platform_json.empty());
    ASSERT_TRUE(m->subject);
    EXPECT_EQ(m->subject->digest.str(), d2);
    EXPECT_EQ(m->artifact_type, "x/y");
}

TEST(ParseManifest, RefusesSchema1AndGarbage) {
    auto s1 = parse_manifest(R"({"schemaVersion":1,"name":"a","tag":"b","fsLayers":[]})", "");
    ASSERT_FALSE(s1);
    EXPECT_EQ(s1.error().code, errc::unsupported);
    for (std::string bad : {std::string("not json"), std::string("[]"), std::string("{}"),
                            std::string(R"({"schemaVersion":2})"),
                            std::string(R"({"schemaVersion":2,"config":{"mediaType":"a","digest":"sha256:x","size":1}})"),
                            std::string(R"({"schemaVersion":2,"config":{"mediaType":"a","digest":")") + d1 + R"(","size":-1}})"}) {
        auto m = parse_manifest(bad, "");
        EXPECT_FALSE(m) << bad;
    }
}

namespace {
std::string index_with(const std::string& extra) {
    return R"({"schemaVersion":2,)" + extra +
           R"("manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
           d1 + R"(","size":3}]})";
}
const std::string config_field =
    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + d2 +
    R"(","size":7},)";
const std::string layers_field =
    R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" + d2 +
    R"(","size":9}],)";
}  // namespace

// CVE-2021-41190: a document that is both an image and an index is refused whatever its
// Content-Type or mediaType field claims.
TEST(ParseManifest, RefusesAmbiguousDocumentsWhateverTheirTypeSays) {
    const std::vector<std::string> bodies = {
        index_with(config_field + layers_field),  // both shapes
        index_with(R"("mediaType":"application/vnd.oci.image.index.v1+json",)" +
                   config_field),  // index + config
        index_with(R"("mediaType":"application/vnd.oci.image.index.v1+json",)" +
                   layers_field),  // index + layers
        index_with(R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)" +
                   config_field),  // image + manifests
        index_with(R"("mediaType":"application/vnd.docker.distribution.manifest.v2+json",)" +
                   config_field + layers_field),
    };
    for (const auto& body : bodies) {
        for (std::string_view ct :
             {std::string_view(), media_type::oci_manifest, media_type::oci_index,
              media_type::docker_manifest, media_type::docker_list}) {
            auto m = parse_manifest(body, ct);
            ASSERT_FALSE(m) << body << " as " << ct;
            EXPECT_EQ(m.error().code, errc::manifest_invalid);
        }
    }
}

// The media type is a function of the bytes: the same bytes can never be stored as two types,
// so a re-push with another Content-Type cannot change how a digest is served.
TEST(ParseManifest, SameBytesNeverGetTwoMediaTypes) {
    const std::vector<std::string> bodies = {
        image(), image(R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)"),
        image(R"("mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"),
        index_with(""),
        index_with(R"("mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",)")};
    for (const auto& body : bodies) {
        std::set<std::string> types;
        for (std::string_view ct :
             {std::string_view(), std::string_view("application/json"), media_type::oci_manifest,
              media_type::oci_index, media_type::docker_manifest, media_type::docker_list}) {
            if (auto m = parse_manifest(body, ct)) {
                types.insert(m->media_type);
            }
        }
        EXPECT_EQ(types.size(), 1u) << body;
    }
}

TEST(ParseManifest, DockerTypesNeedTheirMediaTypeField) {
    auto m = parse_manifest(image(), media_type::docker_manifest);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, errc::manifest_invalid);
    auto l = parse_manifest(index_with(""), media_type::docker_list);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().code, errc::manifest_invalid);
}

TEST(ParseManifest, ShapeContradictingContentTypeIsRefused) {
    EXPECT_FALSE(parse_manifest(image(), media_type::oci_index));
    EXPECT_FALSE(parse_manifest(index_with(""), media_type::oci_manifest));
    EXPECT_FALSE(parse_manifest(image(R"("mediaType":"",)"), ""));
    EXPECT_FALSE(parse_manifest(image(R"("mediaType":7,)"), ""));
    auto idx = parse_manifest(index_with(""), "");
    ASSERT_TRUE(idx) << idx.error().detail;
    EXPECT_EQ(idx->media_type, media_type::oci_index);
}
