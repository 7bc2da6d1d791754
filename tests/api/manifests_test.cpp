// PUT/GET/HEAD/DELETE /v2/<name>/manifests/<reference>
#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

class Manifests : public ApiTest {
protected:
    const std::string repo_ = "library/app";
    const std::string config_json_ = R"({"architecture":"arm64","os":"linux"})";
    const std::string layer_bytes_ = std::string(1000, 'L');
    Desc config_desc_;
    Desc layer_desc_;

    void SetUp() override {
        ApiTest::SetUp();
        push_blob(repo_, config_json_);
        push_blob(repo_, layer_bytes_);
        config_desc_ = desc_of(oci_config, config_json_);
        layer_desc_ = desc_of(oci_layer, layer_bytes_);
    }
    std::string url(std::string_view ref) const {
        return "/v2/" + repo_ + "/manifests/" + std::string(ref);
    }
    std::string manifest(std::string_view extra = {}) const {
        return image_manifest(config_desc_, {layer_desc_}, oci_manifest, extra);
    }
    HttpResponse put(std::string_view ref, std::string_view body,
                     std::string_view content_type = oci_manifest) {
        Headers h;
        if (!content_type.empty()) {
            h.emplace_back("Content-Type", std::string(content_type));
        }
        return http().put(url(ref), body, h);
    }
    std::vector<std::string> tags() {
        auto doc = get_json("/v2/" + repo_ + "/tags/list");
        return doc.is_object() && doc["tags"].is_array()
                   ? doc["tags"].get<std::vector<std::string>>()
                   : std::vector<std::string>{};
    }
};

TEST_F(Manifests, PutByTagReturns201WithLocationAndDigest) {
    const auto body = manifest();
    auto r = put("latest", body);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Docker-Content-Digest"), sha256(body));
    EXPECT_EQ(r.header("Location"), url(sha256(body)));
    EXPECT_EQ(http().get(r.header("Location")).body, body);  // usable as given
}

TEST_F(Manifests, GetByTagAndDigestServesTheExactPushedBytes) {
    // Odd whitespace, key order, escapes and raw UTF-8: any re-serialisation would show.
    const std::string odd =
        "  {\"layers\" :[ " + std::string("{\"size\":1000,\"digest\":\"") + layer_desc_.digest +
        "\",\n\n\"mediaType\":\"" + std::string(oci_layer) +
        "\"}],\r\n\t\"config\":{\"mediaType\":\"" + std::string(oci_config) +
        "\",\"size\":" + std::to_string(config_json_.size()) + ",\"digest\":\"" +
        config_desc_.digest + "\"}  ,\"schemaVersion\":2, \"mediaType\":\"" +
        std::string(oci_manifest) + "\",\"annotations\":{\"k\":\"caf\\u00e9 \xc3\xa9 \\/\"}}\n\n";
    const auto digest = sha256(odd);
    auto p = put("odd", odd);
    ASSERT_EQ(p.status, 201u) << describe(p);
    for (const auto& ref : {std::string("odd"), digest}) {
        auto r = http().get(url(ref));
        ASSERT_EQ(r.status, 200u) << describe(r);
        EXPECT_TRUE(r.body == odd) << "served bytes differ from pushed bytes:\n" << r.body;
        EXPECT_EQ(r.header("Content-Type"), oci_manifest);
        EXPECT_EQ(r.header("Docker-Content-Digest"), digest);
        EXPECT_EQ(r.header("Content-Length"), std::to_string(odd.size()));
    }
}

TEST_F(Manifests, HeadReturnsLengthDigestAndTypeWithoutBody) {
    const auto body = manifest();
    ASSERT_EQ(put("latest", body).status, 201u);
    for (const auto& ref : {std::string("latest"), sha256(body)}) {
        auto r = http().head(url(ref));
        ASSERT_EQ(r.status, 200u) << describe(r);
        EXPECT_TRUE(r.body.empty());
        EXPECT_EQ(r.header("Content-Length"), std::to_string(body.size()));
        EXPECT_EQ(r.header("Docker-Content-Digest"), sha256(body));
        EXPECT_EQ(r.header("Content-Type"), oci_manifest);
    }
}

TEST_F(Manifests, PutByDigestStoresAnUntaggedManifest) {
    const auto body = manifest();
    auto r = put(sha256(body), body);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Docker-Content-Digest"), sha256(body));
    EXPECT_EQ(http().get(url(sha256(body))).body, body);
    EXPECT_TRUE(tags().empty());
}

TEST_F(Manifests, PutByDigestWithTagParametersAppliesEveryTag) {
    const auto body = manifest();
    auto r = http().put(url(sha256(body)) + "?tag=a&tag=b", body,
                        {{"Content-Type", std::string(oci_manifest)}});
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(tags(), (std::vector<std::string>{"a", "b"}));
    for (const char* t : {"a", "b"}) {
        auto g = http().get(url(t));
        EXPECT_EQ(g.status, 200u) << t;
        EXPECT_EQ(g.header("Docker-Content-Digest"), sha256(body));
    }
}

TEST_F(Manifests, PutByTagWithTagParametersAppliesBoth) {
    const auto body = manifest();
    ASSERT_EQ(
        http()
            .put(url("latest") + "?tag=v1.0", body, {{"Content-Type", std::string(oci_manifest)}})
            .status,
        201u);
    EXPECT_EQ(tags(), (std::vector<std::string>{"latest", "v1.0"}));
}

TEST_F(Manifests, InvalidTagParameterReturns400TagInvalid) {
    const auto body = manifest();
    auto r = http().put(url(sha256(body)) + "?tag=ok&tag=-bad", body,
                        {{"Content-Type", std::string(oci_manifest)}});
    EXPECT_TRUE(IsOciError(r, 400, "TAG_INVALID"));
    EXPECT_EQ(http().get(url("ok")).status, 404u);
}

TEST_F(Manifests, OciIndexRoundTrips) {
    auto amd = push_image(repo_, "", "amd64");
    auto arm = push_image(repo_, "", "arm64");
    amd.descriptor.extra = R"(, "platform": {"architecture":"amd64","os":"linux"})";
    arm.descriptor.extra = R"(, "platform": {"architecture":"arm64","os":"linux","variant":"v8"})";
    const auto index = index_manifest({amd.descriptor, arm.descriptor}, oci_index);
    auto r = put("multi", index, oci_index);
    ASSERT_EQ(r.status, 201u) << describe(r);
    auto g = http().get(url("multi"));
    ASSERT_EQ(g.status, 200u);
    EXPECT_TRUE(g.body == index);
    EXPECT_EQ(g.header("Content-Type"), oci_index);
    EXPECT_EQ(g.header("Docker-Content-Digest"), sha256(index));
    // Children stay reachable by digest.
    EXPECT_EQ(http().get(url(amd.digest)).body, amd.manifest);
}

TEST_F(Manifests, DockerSchema2ManifestRoundTrips) {
    auto img = push_image(repo_, "docker", "docker-seed", docker_manifest);
    auto g = http().get(url("docker"));
    ASSERT_EQ(g.status, 200u) << describe(g);
    EXPECT_TRUE(g.body == img.manifest);
    EXPECT_EQ(g.header("Content-Type"), docker_manifest);
    EXPECT_EQ(g.header("Docker-Content-Digest"), img.digest);
}

TEST_F(Manifests, DockerManifestListRoundTrips) {
    auto a = push_image(repo_, "", "list-a", docker_manifest);
    auto b = push_image(repo_, "", "list-b", docker_manifest);
    a.descriptor.extra = R"(,"platform":{"architecture":"amd64","os":"linux"})";
    b.descriptor.extra = R"(,"platform":{"architecture":"ppc64le","os":"linux"})";
    const auto list = index_manifest({a.descriptor, b.descriptor}, docker_list);
    ASSERT_EQ(put("list", list, docker_list).status, 201u);
    auto g = http().get(url("list"));
    ASSERT_EQ(g.status, 200u);
    EXPECT_TRUE(g.body == list);
    EXPECT_EQ(g.header("Content-Type"), docker_list);
}

TEST_F(Manifests, ArtifactManifestWithEmptyConfigRoundTrips) {
    const auto empty = push_blob(repo_, "{}");
    ASSERT_EQ(empty, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    const std::string sbom = R"({"spdxVersion":"SPDX-2.3"})";
    push_blob(repo_, sbom);
    const auto body =
        image_manifest(desc_of(oci_empty, "{}"), {desc_of("application/spdx+json", sbom)},
                       oci_manifest, R"(, "artifactType": "application/vnd.example.sbom.v1")");
    auto r = put("sbom", body);
    ASSERT_EQ(r.status, 201u) << describe(r);
    auto g = http().get(url("sbom"));
    EXPECT_TRUE(g.body == body);
    EXPECT_EQ(g.header("Content-Type"), oci_manifest);
}

TEST_F(Manifests, ManifestWithoutMediaTypeIsServedWithThePushedContentType) {
    // umoci writes OCI manifests and indexes without "mediaType".
    const auto image = image_manifest(config_desc_, {layer_desc_}, /*media_type=*/"");
    ASSERT_EQ(put("plain", image, oci_manifest).status, 201u);
    EXPECT_EQ(http().get(url("plain")).header("Content-Type"), oci_manifest);
    EXPECT_EQ(http().head(url("plain")).header("Content-Type"), oci_manifest);

    Desc child{std::string(oci_manifest), sha256(image), image.size(), {}};
    const auto index = index_manifest({child}, "");
    ASSERT_EQ(put("index", index, oci_index).status, 201u);
    EXPECT_EQ(http().get(url("index")).header("Content-Type"), oci_index);
}

TEST_F(Manifests, DockerManifestWithoutMediaTypeFieldReturns400ManifestInvalid) {
    // Docker's formats require the field (Distribution refuses them without it too); without
    // it the same bytes could be served as an OCI manifest or a Docker one.
    const auto docker = image_manifest(desc_of(docker_config, config_json_),
                                       {desc_of(docker_layer, layer_bytes_)}, "");
    EXPECT_TRUE(IsOciError(put("docker", docker, docker_manifest), 400, "MANIFEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(url("docker")), 404, "MANIFEST_UNKNOWN"));
}

// CVE-2021-41190: a document that is both an image manifest and an index is refused whatever
// its Content-Type and mediaType say, and nothing of it is stored.
TEST_F(Manifests, AmbiguousManifestReturns400ManifestInvalid) {
    Desc child{std::string(oci_manifest), sha256(manifest()), manifest().size(), {}};
    ASSERT_EQ(put(child.digest, manifest()).status, 201u);
    const std::string manifests_field =
        R"(, "manifests": [{"mediaType": ")" + std::string(oci_manifest) + R"(", "digest": ")" +
        child.digest + R"(", "size": )" + std::to_string(child.size) + "}]";
    const std::string config_field = R"(, "config": {"mediaType": ")" + std::string(oci_config) +
                                     R"(", "digest": ")" + config_desc_.digest + R"(", "size": )" +
                                     std::to_string(config_desc_.size) + "}";
    const std::string layers_field = R"(, "layers": [{"mediaType": ")" + std::string(oci_layer) +
                                     R"(", "digest": ")" + layer_desc_.digest + R"(", "size": )" +
                                     std::to_string(layer_desc_.size) + "}]";
    const std::vector<std::string> bodies = {
        image_manifest(config_desc_, {layer_desc_}, "", manifests_field),  // both, no type
        image_manifest(config_desc_, {layer_desc_}, oci_manifest,
                       manifests_field),  // image + manifests
        image_manifest(config_desc_, {layer_desc_}, docker_manifest, manifests_field),
        index_manifest({child}, oci_index, config_field),  // index + config
        index_manifest({child}, oci_index, layers_field),  // index + layers
        index_manifest({child}, docker_list, config_field + layers_field),
    };
    for (const auto& body : bodies) {
        for (std::string_view ct :
             {std::string_view(), oci_manifest, oci_index, docker_manifest, docker_list}) {
            EXPECT_TRUE(IsOciError(put("ambiguous", body, ct), 400, "MANIFEST_INVALID"))
                << ct << "\n"
                << body;
            EXPECT_TRUE(IsOciError(put(sha256(body), body, ct), 400, "MANIFEST_INVALID"))
                << ct << "\n"
                << body;
            EXPECT_TRUE(IsOciError(http().get(url(sha256(body))), 404, "MANIFEST_UNKNOWN"));
        }
    }
    EXPECT_TRUE(IsOciError(http().get(url("ambiguous")), 404, "MANIFEST_UNKNOWN"));
}

// The media type a digest is served with is decided by its first push; a later push of the
// same bytes with another Content-Type is refused and changes nothing.
TEST_F(Manifests, RepushWithAnotherContentTypeNeverChangesTheServedType) {
    const auto body = image_manifest(config_desc_, {layer_desc_}, /*media_type=*/"");
    const auto digest = sha256(body);
    ASSERT_EQ(put("first", body, oci_manifest).status, 201u);
    for (std::string_view ct : {docker_manifest, docker_list, oci_index}) {
        EXPECT_TRUE(IsOciError(put("second", body, ct), 400, "MANIFEST_INVALID")) << ct;
        EXPECT_TRUE(IsOciError(put(digest, body, ct), 400, "MANIFEST_INVALID")) << ct;
    }
    ASSERT_EQ(put("third", body, "").status, 201u);  // no Content-Type: the same type
    for (const auto& ref : {std::string("first"), std::string("third"), digest}) {
        EXPECT_EQ(http().get(url(ref)).header("Content-Type"), oci_manifest) << ref;
        EXPECT_EQ(http().head(url(ref)).header("Content-Type"), oci_manifest) << ref;
    }
    EXPECT_TRUE(IsOciError(http().get(url("second")), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, ContentTypeParametersAreNotServedBack) {
    const auto body = manifest();
    ASSERT_EQ(put("params", body, std::string(oci_manifest) + "; charset=utf-8").status, 201u);
    EXPECT_EQ(http().get(url("params")).header("Content-Type"), oci_manifest);
}

TEST_F(Manifests, Schema1ManifestIsRefused) {
    const std::string schema1 =
        R"({"schemaVersion":1,"name":"library/app","tag":"old","architecture":"amd64",
        "fsLayers":[{"blobSum":")" +
        layer_desc_.digest + R"("}],"history":[{"v1Compatibility":"{}"}],
        "signatures":[]})";
    for (const char* ct : {"application/vnd.docker.distribution.manifest.v1+prettyjws",
                           "application/vnd.docker.distribution.manifest.v1+json", ""}) {
        auto r = put("old", schema1, ct);
        // Refused as content: 405 Method Not Allowed would claim PUT itself is unsupported here
        // (and would need an Allow header). Distribution answers 400 MANIFEST_INVALID.
        EXPECT_EQ(r.status, 400u) << ct << "\n" << describe(r);
        EXPECT_TRUE(IsOciError(r, r.status, "MANIFEST_INVALID") ||
                    IsOciError(r, r.status, "UNSUPPORTED"))
            << describe(r);
    }
    EXPECT_TRUE(IsOciError(http().get(url("old")), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, MediaTypeContradictingContentTypeReturns400ManifestInvalid) {
    const auto docker_body = image_manifest(config_desc_, {layer_desc_}, docker_manifest);
    EXPECT_TRUE(IsOciError(put("x", docker_body, oci_manifest), 400, "MANIFEST_INVALID"));
    const auto oci_body = manifest();
    EXPECT_TRUE(IsOciError(put("x", oci_body, oci_index), 400, "MANIFEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(url("x")), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, MalformedManifestReturns400ManifestInvalid) {
    const std::vector<std::string> bad = {
        "not json",
        "[]",
        R"({"schemaVersion":3,"config":{},"layers":[]})",
        R"({"schemaVersion":2,"mediaType":")" + std::string(oci_manifest) + R"(","layers":[]})",
        image_manifest(Desc{std::string(oci_config), "sha256:short", 3, {}}, {layer_desc_}),
        R"({"schemaVersion":2,"config":{"mediaType":"a/b","digest":")" + config_desc_.digest +
            R"(","size":-1},"layers":[]})",
        R"({"schemaVersion":2,"mediaType":"application/vnd.example.not-a-manifest"})",
    };
    for (const auto& body : bad) {
        EXPECT_TRUE(IsOciError(put("bad", body, ""), 400, "MANIFEST_INVALID")) << body;
    }
    EXPECT_TRUE(IsOciError(http().get(url("bad")), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, MissingLayerReturnsManifestBlobUnknown) {
    const auto body =
        image_manifest(config_desc_, {layer_desc_, desc_of(oci_layer, "never uploaded")});
    EXPECT_TRUE(IsOciError(put("missing", body), 400, "MANIFEST_BLOB_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url("missing")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url(sha256(body))), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, MissingConfigReturnsManifestBlobUnknown) {
    const auto body = image_manifest(desc_of(oci_config, R"({"missing":true})"), {layer_desc_});
    EXPECT_TRUE(IsOciError(put("missing", body), 400, "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(Manifests, BlobLinkedOnlyToAnotherRepositoryCountsAsMissing) {
    push_blob("library/other", "foreign layer");
    const auto body = image_manifest(config_desc_, {desc_of(oci_layer, "foreign layer")});
    EXPECT_TRUE(IsOciError(put("foreign", body), 400, "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(Manifests, IndexWithMissingChildManifestReturnsManifestBlobUnknown) {
    auto present = push_image(repo_, "", "present");
    Desc missing{std::string(oci_manifest), absent_digest("child"), 123, {}};
    const auto index = index_manifest({present.descriptor, missing}, oci_index);
    EXPECT_TRUE(IsOciError(put("index", index, oci_index), 400, "MANIFEST_BLOB_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url("index")), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, IndexChildFromAnotherRepositoryCountsAsMissing) {
    auto foreign = push_image("library/other", "", "foreign");
    const auto index = index_manifest({foreign.descriptor}, oci_index);
    EXPECT_TRUE(IsOciError(put("index", index, oci_index), 400, "MANIFEST_BLOB_UNKNOWN"));
}

TEST_F(Manifests, PutByDigestWithWrongDigestReturns400DigestInvalid) {
    const auto body = manifest();
    const auto wrong = sha256(body + " ");
    EXPECT_TRUE(IsOciError(put(wrong, body), 400, "DIGEST_INVALID"));
    EXPECT_EQ(http().get(url(wrong)).status, 404u);
    EXPECT_EQ(http().get(url(sha256(body))).status, 404u);
}

TEST_F(Manifests, PutByDigestAcceptsSha512) {
    const auto body = manifest();
    auto r = put(sha512(body), body);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("Docker-Content-Digest"), sha512(body));
    auto g = http().get(url(sha512(body)));
    EXPECT_EQ(g.status, 200u);
    EXPECT_TRUE(g.body == body);
    EXPECT_EQ(g.header("Docker-Content-Digest"), sha512(body));
}

TEST_F(Manifests, SubjectIsAcknowledgedWithOciSubjectHeader) {
    auto subject = push_image(repo_, "base", "subject");
    push_blob(repo_, "{}");
    const auto sig = image_manifest(
        desc_of(oci_empty, "{}"), {desc_of(oci_empty, "{}")}, oci_manifest,
        R"(,"artifactType":"application/vnd.example.sig","subject":)" +
            std::string("{\"mediaType\":\"") + std::string(oci_manifest) + "\",\"digest\":\"" +
            subject.digest + "\",\"size\":" + std::to_string(subject.manifest.size()) + "}");
    auto r = put(sha256(sig), sig);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("OCI-Subject"), subject.digest);
}

TEST_F(Manifests, SubjectNeedNotExistYet) {
    push_blob(repo_, "{}");
    const auto missing = absent_digest("subject");
    const auto sig = image_manifest(
        desc_of(oci_empty, "{}"), {desc_of(oci_empty, "{}")}, oci_manifest,
        R"(,"artifactType":"application/vnd.example.sig","subject":{"mediaType":")" +
            std::string(oci_manifest) + R"(","digest":")" + missing + R"(","size":10})");
    auto r = put(sha256(sig), sig);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(r.header("OCI-Subject"), missing);
}

TEST_F(Manifests, ManifestWithoutSubjectHasNoOciSubjectHeader) {
    auto r = put("latest", manifest());
    ASSERT_EQ(r.status, 201u);
    EXPECT_FALSE(r.has_header("OCI-Subject"));
}

TEST_F(Manifests, UnknownManifestReturns404ManifestUnknown) {
    EXPECT_TRUE(IsOciError(http().get(url("nope")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url(absent_digest())), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(
        IsOciError(http().get("/v2/no/such/repo/manifests/latest"), 404, "MANIFEST_UNKNOWN"));
    EXPECT_EQ(http().head(url("nope")).status, 404u);
    EXPECT_EQ(http().head(url(absent_digest())).status, 404u);
}

TEST_F(Manifests, ManifestOfAnotherRepositoryIsNotServed) {
    const auto body = manifest();
    ASSERT_EQ(put("latest", body).status, 201u);
    EXPECT_EQ(http().get("/v2/library/other/manifests/latest").status, 404u);
    EXPECT_EQ(http().get("/v2/library/other/manifests/" + sha256(body)).status, 404u);
}

TEST_F(Manifests, DeletingATagLeavesTheManifestReachableByDigest) {
    const auto body = manifest();
    ASSERT_EQ(
        http()
            .put(url("latest") + "?tag=stable", body, {{"Content-Type", std::string(oci_manifest)}})
            .status,
        201u);
    auto d = http().del(url("latest"));
    EXPECT_EQ(d.status, 202u) << describe(d);
    EXPECT_TRUE(IsOciError(http().get(url("latest")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_EQ(http().get(url(sha256(body))).body, body);
    EXPECT_EQ(http().get(url("stable")).status, 200u);
    EXPECT_EQ(tags(), (std::vector<std::string>{"stable"}));
}

TEST_F(Manifests, DeletingByDigestRemovesItsTags) {
    const auto body = manifest();
    ASSERT_EQ(
        http().put(url("a") + "?tag=b", body, {{"Content-Type", std::string(oci_manifest)}}).status,
        201u);
    auto d = http().del(url(sha256(body)));
    EXPECT_EQ(d.status, 202u) << describe(d);
    EXPECT_TRUE(IsOciError(http().get(url(sha256(body))), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url("a")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get(url("b")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(tags().empty());
}

TEST_F(Manifests, DeletingUnknownManifestReturns404ManifestUnknown) {
    EXPECT_TRUE(IsOciError(http().del(url("nope")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().del(url(absent_digest())), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().del("/v2/no/such/manifests/" + absent_digest()), 404,
                           "MANIFEST_UNKNOWN"));
}

TEST_F(Manifests, PushingATagAgainMovesIt) {
    const auto first = manifest();
    const auto second = manifest(R"(,"annotations":{"v":"2"})");
    ASSERT_EQ(put("latest", first).status, 201u);
    ASSERT_EQ(put("latest", second).status, 201u);
    EXPECT_EQ(http().get(url("latest")).header("Docker-Content-Digest"), sha256(second));
    EXPECT_EQ(http().get(url(sha256(first))).body, first);
    EXPECT_EQ(tags(), (std::vector<std::string>{"latest"}));
}

TEST_F(Manifests, RepushingTheSameManifestIsIdempotent) {
    const auto body = manifest();
    ASSERT_EQ(put("latest", body).status, 201u);
    auto again = put("latest", body);
    EXPECT_EQ(again.status, 201u) << describe(again);
    EXPECT_EQ(http().get(url("latest")).body, body);
}

TEST_F(Manifests, SameManifestInTwoRepositoriesIsIndependent) {
    const std::string other = "library/copy";
    push_blob(other, config_json_);
    push_blob(other, layer_bytes_);
    const auto body = manifest();
    ASSERT_EQ(put("latest", body).status, 201u);
    push_manifest(other, "latest", body);
    ASSERT_EQ(http().del(url(sha256(body))).status, 202u);
    auto g = http().get("/v2/" + other + "/manifests/latest");
    EXPECT_EQ(g.status, 200u);
    EXPECT_TRUE(g.body == body);
}

// limits.max_manifest_bytes lowered to make "too large" cheap to send.
class ManifestLimits : public Manifests {
    void configure(app::Config& c) override { c.max_manifest_bytes = 4096; }
};

TEST_F(ManifestLimits, OversizeManifestReturns413) {
    ASSERT_EQ(put("small", manifest()).status, 201u);
    const auto big = manifest(R"(,"annotations":{"pad":")" + std::string(5000, 'p') + "\"}");
    ASSERT_GT(big.size(), 4096u);
    auto r = put("big", big);
    EXPECT_TRUE(IsOciError(r, 413, "MANIFEST_INVALID"));
    // Chunked transfer encoding: the size is only known while reading.
    auto c = http().request("PUT", url("big"), {{"Content-Type", std::string(oci_manifest)}}, big,
                            Framing::chunked);
    EXPECT_TRUE(IsOciError(c, 413, "MANIFEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(url("big")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_EQ(http().get(url("small")).body, manifest());
}

TEST_F(ManifestLimits, ManifestAtTheLimitIsAccepted) {
    auto body = manifest(R"(,"annotations":{"pad":""})");
    const auto pad = 4096 - body.size();
    body = manifest(R"(,"annotations":{"pad":")" + std::string(pad, 'p') + "\"}");
    ASSERT_EQ(body.size(), 4096u);
    auto r = put("edge", body);
    EXPECT_EQ(r.status, 201u) << describe(r);
}

}  // namespace
}  // namespace dermaga::test
