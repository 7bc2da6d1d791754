#include "oci/manifest.hpp"

#include <gtest/gtest.h>

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

TEST(ParseManifest, ImageWithoutMediaTypeFieldTakesContentType) {
    auto m = parse_manifest(image(), media_type::docker_manifest);
    ASSERT_TRUE(m) << m.error().detail;
    EXPECT_EQ(m->media_type, media_type::docker_manifest);
    EXPECT_EQ(m->kind, ManifestKind::image);
    ASSERT_EQ(m->layers.size(), 1u);
    EXPECT_EQ(m->layers[0].size, 9);
    EXPECT_EQ(m->config->digest.str(), d1);
    EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
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
