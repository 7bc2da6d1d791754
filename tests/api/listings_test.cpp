// GET /v2/<name>/tags/list, GET /v2/_catalog, GET /v2/<name>/referrers/<digest>
#include <algorithm>
#include <cstdio>
#include <map>

#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

/// Follows rel="next" Links from `first`, collecting `key` from every page.
std::vector<std::string> follow_pages(HttpClient& http, const std::string& first, const char* key,
                                      int& pages) {
    std::vector<std::string> all;
    std::string target = first;
    pages = 0;
    while (!target.empty() && pages < 50) {
        auto r = http.get(target);
        EXPECT_EQ(r.status, 200u) << target << "\n" << describe(r);
        if (r.status != 200) {
            break;
        }
        ++pages;
        auto doc = json::parse(r.body);
        for (const auto& v : doc[key]) {
            all.push_back(v.get<std::string>());
        }
        target = next_link(r);
    }
    return all;
}

class Tags : public ApiTest {
protected:
    const std::string repo_ = "library/tagged";
    std::string manifest_;

    void SetUp() override {
        ApiTest::SetUp();
        auto img = push_image(repo_, "", "tags");
        manifest_ = img.manifest;
    }
    void tag(std::string_view t) { push_manifest(repo_, t, manifest_); }
    std::string list_url() const { return "/v2/" + repo_ + "/tags/list"; }
};

TEST_F(Tags, ListIsSortedJsonWithName) {
    for (const char* t : {"v2", "latest", "1.0", "v10", "alpha", "_x"}) {
        tag(t);
    }
    auto r = http().get(list_url());
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_FALSE(r.has_header("Link"));
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["name"], repo_);
    EXPECT_EQ(doc["tags"], json::array({"1.0", "_x", "alpha", "latest", "v10", "v2"}));
}

TEST_F(Tags, ListOrderIgnoresCase) {
    // distribution-spec v1.1: "the tags MUST be in lexical order (i.e. case-insensitive
    // alphanumeric order)".
    for (const char* t : {"b", "A", "c", "B2"}) {
        tag(t);
    }
    auto doc = get_json(list_url());
    EXPECT_EQ(doc["tags"], json::array({"A", "b", "B2", "c"}));
}

TEST_F(Tags, PaginationWithNAndLastSetsLinkHeader) {
    for (const char* t : {"e", "d", "c", "b", "a"}) {
        tag(t);
    }
    auto r = http().get(list_url() + "?n=2");
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(json::parse(r.body)["tags"], json::array({"a", "b"}));
    EXPECT_EQ(r.header("Link"), "<" + list_url() + "?n=2&last=b>; rel=\"next\"");
    auto second = http().get(list_url() + "?n=2&last=b");
    EXPECT_EQ(json::parse(second.body)["tags"], json::array({"c", "d"}));
    auto last = http().get(list_url() + "?n=2&last=d");
    EXPECT_EQ(json::parse(last.body)["tags"], json::array({"e"}));
    EXPECT_FALSE(last.has_header("Link")) << describe(last);
}

TEST_F(Tags, FollowingLinksVisitsEveryTagOnce) {
    std::vector<std::string> expected;
    for (int i = 0; i < 23; ++i) {
        char name[8];
        std::snprintf(name, sizeof name, "t%02d", (i * 7) % 23);
        tag(name);
        expected.emplace_back(name);
    }
    std::sort(expected.begin(), expected.end());
    int pages = 0;
    auto all = follow_pages(http(), list_url() + "?n=5", "tags", pages);
    EXPECT_EQ(all, expected);
    EXPECT_EQ(pages, 5);
}

TEST_F(Tags, ExactPageBoundaryHasNoDanglingLink) {
    for (const char* t : {"a", "b", "c", "d"}) {
        tag(t);
    }
    int pages = 0;
    auto all = follow_pages(http(), list_url() + "?n=2", "tags", pages);
    EXPECT_EQ(all, (std::vector<std::string>{"a", "b", "c", "d"}));
    EXPECT_EQ(pages, 2);
}

TEST_F(Tags, NZeroReturnsAnEmptyListWithoutLink) {
    tag("a");
    auto r = http().get(list_url() + "?n=0");
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(json::parse(r.body)["tags"], json::array());
    EXPECT_FALSE(r.has_header("Link"));
}

TEST_F(Tags, LastWithoutNReturnsTheRest) {
    for (const char* t : {"a", "b", "c"}) {
        tag(t);
    }
    EXPECT_EQ(get_json(list_url() + "?last=a")["tags"], json::array({"b", "c"}));
}

TEST_F(Tags, UnknownRepositoryReturns404NameUnknown) {
    EXPECT_TRUE(IsOciError(http().get("/v2/no/such/repo/tags/list"), 404, "NAME_UNKNOWN"));
}

TEST_F(Tags, InvalidNReturns400PaginationNumberInvalid) {
    for (const char* n : {"abc", "-1", "1.5", "", "10001", "99999999999999999999999999"}) {
        auto r = http().get(list_url() + "?n=" + n);
        EXPECT_TRUE(IsOciError(r, 400, "PAGINATION_NUMBER_INVALID")) << "n=" << n;
    }
}

class Catalog : public ApiTest {};

TEST_F(Catalog, ListsOnlyRepositoriesWithManifests) {
    push_image("zeta", "latest", "z");
    push_image("alpha/beta", "v1", "ab");
    push_image("alpha", "v1", "a");
    push_blob("blobs-only", "just a blob");
    auto r = http().get("/v2/_catalog");
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(json::parse(r.body)["repositories"], json::array({"alpha", "alpha/beta", "zeta"}));
}

TEST_F(Catalog, EmptyRegistryListsNothing) {
    EXPECT_EQ(get_json("/v2/_catalog")["repositories"], json::array());
}

TEST_F(Catalog, PaginationFollowsLinkHeaders) {
    std::vector<std::string> expected;
    for (const char* name : {"r/e", "r/d", "r/c", "r/b", "r/a"}) {
        push_image(name, "latest", name);
        expected.emplace_back(name);
    }
    std::sort(expected.begin(), expected.end());
    auto first = http().get("/v2/_catalog?n=2");
    ASSERT_EQ(first.status, 200u);
    EXPECT_EQ(first.header("Link"), "</v2/_catalog?n=2&last=r/b>; rel=\"next\"");
    int pages = 0;
    auto all = follow_pages(http(), "/v2/_catalog?n=2", "repositories", pages);
    EXPECT_EQ(all, expected);
    EXPECT_EQ(pages, 3);
}

TEST_F(Catalog, RepositoryWhoseManifestsWereDeletedIsNotListed) {
    auto img = push_image("gone", "latest", "g");
    push_image("kept", "latest", "k");
    ASSERT_EQ(http().del("/v2/gone/manifests/" + img.digest).status, 202u);
    EXPECT_EQ(get_json("/v2/_catalog")["repositories"], json::array({"kept"}));
}

TEST_F(Catalog, InvalidNReturns400PaginationNumberInvalid) {
    EXPECT_TRUE(IsOciError(http().get("/v2/_catalog?n=abc"), 400, "PAGINATION_NUMBER_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/_catalog?n=10001"), 400, "PAGINATION_NUMBER_INVALID"));
}

class Referrers : public ApiTest {
protected:
    const std::string repo_ = "library/app";
    Image subject_;

    void SetUp() override {
        ApiTest::SetUp();
        subject_ = push_image(repo_, "latest", "subject");
        push_blob(repo_, "{}");
    }
    std::string subject_field(const Image& s) const {
        return R"(,"subject":{"mediaType":")" + std::string(oci_manifest) + R"(","digest":")" +
               s.digest + R"(","size":)" + std::to_string(s.manifest.size()) + "}";
    }
    /// Pushes an artifact referring to the subject; returns its manifest bytes.
    std::string push_artifact(std::string_view extra,
                              std::string_view config_media_type = oci_empty,
                              std::string_view repo = {}) {
        const std::string r = repo.empty() ? repo_ : std::string(repo);
        const auto body = image_manifest(Desc{std::string(config_media_type), sha256("{}"), 2, {}},
                                         {desc_of(oci_empty, "{}")}, oci_manifest,
                                         std::string(extra) + subject_field(subject_));
        push_manifest(r, sha256(body), body);
        return body;
    }
    std::string url(const std::string& digest) const {
        return "/v2/" + repo_ + "/referrers/" + digest;
    }
};

TEST_F(Referrers, UnknownDigestReturnsAnEmptyIndex) {
    auto r = http().get(url(absent_digest()));
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Content-Type"), oci_index);
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["schemaVersion"], 2);
    EXPECT_EQ(doc["mediaType"], oci_index);
    EXPECT_EQ(doc["manifests"], json::array());
    EXPECT_EQ(http().get("/v2/no/such/repo/referrers/" + absent_digest()).status, 200u);
}

TEST_F(Referrers, ListsReferrersWithArtifactTypeAndAnnotations) {
    const auto sbom = push_artifact(
        R"(,"artifactType":"application/vnd.example.sbom.v1","annotations":{"org.example.format":"spdx","n":"1"})");
    const auto sig =
        push_artifact("", "application/vnd.example.sig.config.v1+json");  // type from config
    // An index referrer without artifactType: the descriptor must omit it.
    const auto index =
        index_manifest({subject_.descriptor}, oci_index,
                       subject_field(subject_) + R"(,"annotations":{"kind":"index"})");
    push_manifest(repo_, sha256(index), index, oci_index);

    auto r = http().get(url(subject_.digest));
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("Content-Type"), oci_index);
    EXPECT_FALSE(r.has_header("OCI-Filters-Applied"));
    auto doc = json::parse(r.body);
    EXPECT_EQ(doc["schemaVersion"], 2);
    ASSERT_EQ(doc["manifests"].size(), 3u) << r.body;
    std::map<std::string, json> by_digest;
    for (const auto& d : doc["manifests"]) {
        by_digest[d["digest"].get<std::string>()] = d;
    }
    ASSERT_TRUE(by_digest.count(sha256(sbom)) && by_digest.count(sha256(sig)) &&
                by_digest.count(sha256(index)));
    const auto& s = by_digest[sha256(sbom)];
    EXPECT_EQ(s["mediaType"], oci_manifest);
    EXPECT_EQ(s["size"], sbom.size());
    EXPECT_EQ(s["artifactType"], "application/vnd.example.sbom.v1");
    EXPECT_EQ(s["annotations"], json({{"org.example.format", "spdx"}, {"n", "1"}}));
    const auto& g = by_digest[sha256(sig)];
    EXPECT_EQ(g["artifactType"], "application/vnd.example.sig.config.v1+json");
    EXPECT_FALSE(g.contains("annotations"));
    const auto& i = by_digest[sha256(index)];
    EXPECT_EQ(i["mediaType"], oci_index);
    EXPECT_EQ(i["size"], index.size());
    EXPECT_FALSE(i.contains("artifactType")) << i.dump();
    EXPECT_EQ(i["annotations"], json({{"kind", "index"}}));
}

TEST_F(Referrers, ArtifactTypeFilterSetsOciFiltersApplied) {
    const auto sbom = push_artifact(R"(,"artifactType":"application/vnd.example.sbom.v1")");
    push_artifact(R"(,"artifactType":"application/vnd.example.sig.v1")");
    auto r = http().get(url(subject_.digest) + "?artifactType=application/vnd.example.sbom.v1");
    ASSERT_EQ(r.status, 200u) << describe(r);
    EXPECT_EQ(r.header("OCI-Filters-Applied"), "artifactType");
    EXPECT_EQ(r.header("Content-Type"), oci_index);
    auto doc = json::parse(r.body);
    ASSERT_EQ(doc["manifests"].size(), 1u) << r.body;
    EXPECT_EQ(doc["manifests"][0]["digest"], sha256(sbom));
    // Percent-encoded filter value.
    auto enc = http().get(url(subject_.digest) + "?artifactType=application%2Fvnd.example.sig.v1");
    EXPECT_EQ(json::parse(enc.body)["manifests"].size(), 1u);
    auto none = http().get(url(subject_.digest) + "?artifactType=application/none");
    EXPECT_EQ(none.header("OCI-Filters-Applied"), "artifactType");
    EXPECT_EQ(json::parse(none.body)["manifests"], json::array());
}

TEST_F(Referrers, ReferrersInAnotherRepositoryAreNotListed) {
    push_blob("library/other", "{}");
    push_artifact(R"(,"artifactType":"application/vnd.example.sbom.v1")", oci_empty,
                  "library/other");
    auto doc = get_json(url(subject_.digest));
    EXPECT_EQ(doc["manifests"], json::array());
}

TEST_F(Referrers, DeletedReferrerIsNoLongerListed) {
    const auto a = push_artifact(R"(,"artifactType":"application/vnd.example.a")");
    const auto b = push_artifact(R"(,"artifactType":"application/vnd.example.b")");
    ASSERT_EQ(http().del("/v2/" + repo_ + "/manifests/" + sha256(a)).status, 202u);
    auto doc = get_json(url(subject_.digest));
    ASSERT_EQ(doc["manifests"].size(), 1u);
    EXPECT_EQ(doc["manifests"][0]["digest"], sha256(b));
}

TEST_F(Referrers, InvalidDigestReturns400DigestInvalid) {
    EXPECT_TRUE(
        IsOciError(http().get("/v2/" + repo_ + "/referrers/sha256:abc"), 400, "DIGEST_INVALID"));
    EXPECT_TRUE(
        IsOciError(http().get("/v2/" + repo_ + "/referrers/latest"), 400, "DIGEST_INVALID"));
}

}  // namespace
}  // namespace dermaga::test
