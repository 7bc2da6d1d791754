// Hostile and malformed input: bad names, tags, digests, paths, methods, headers and non-HTTP
// bytes. Every test starts with stored content and an open upload, and TearDown checks that
// both are still intact afterwards.
#include <cctype>
#include <chrono>

#include "api_fixture.hpp"

namespace dermaga::test {
namespace {

std::string upper(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return s;
}

class BadInput : public ApiTest {
protected:
    const std::string repo_ = "library/app";
    const std::string blob_ = "precious bytes";
    Image image_;
    std::string blob_digest_;
    std::string upload_;

    void SetUp() override {
        ApiTest::SetUp();
        image_ = push_image(repo_, "latest", "seed");
        blob_digest_ = push_blob(repo_, blob_);
        auto r = http().post("/v2/" + repo_ + "/blobs/uploads/");
        upload_ = r.header("Location");
        ASSERT_EQ(http().patch(upload_, "partial").status, 202u);
    }

    void TearDown() override {
        // The stored data survived whatever the test sent.
        auto c = new_client();
        auto blob = c->get("/v2/" + repo_ + "/blobs/" + blob_digest_);
        EXPECT_EQ(blob.status, 200u) << describe(blob);
        EXPECT_EQ(blob.body, blob_);
        auto layer = c->get("/v2/" + repo_ + "/blobs/" + sha256(image_.layer));
        EXPECT_EQ(layer.body, image_.layer);
        auto m = c->get("/v2/" + repo_ + "/manifests/latest");
        EXPECT_EQ(m.status, 200u) << describe(m);
        EXPECT_TRUE(m.body == image_.manifest);
        EXPECT_EQ(m.header("Docker-Content-Digest"), image_.digest);
        EXPECT_EQ(json::parse(c->get("/v2/" + repo_ + "/tags/list").body)["tags"],
                  json::array({"latest"}));
        EXPECT_EQ(json::parse(c->get("/v2/_catalog").body)["repositories"], json::array({repo_}));
        auto up = c->get(upload_);
        EXPECT_EQ(up.status, 204u) << describe(up);
        EXPECT_EQ(up.header("Range"), "0-6");
        c.reset();
        ApiTest::TearDown();
    }

    std::string blob_url(std::string_view digest) const {
        return "/v2/" + repo_ + "/blobs/" + std::string(digest);
    }
    std::string manifest_url(std::string_view ref) const {
        return "/v2/" + repo_ + "/manifests/" + std::string(ref);
    }
    std::string raw(std::string_view bytes, HttpClient::HalfClose hc = HttpClient::HalfClose::no,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        return HttpClient::raw_exchange("127.0.0.1", port(), bytes, hc, timeout);
    }
};

TEST_F(BadInput, UppercaseRepositoryNameReturns400NameInvalid) {
    EXPECT_TRUE(IsOciError(http().get("/v2/Library/App/tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library/App/manifests/latest"), 400, "NAME_INVALID"));
    EXPECT_TRUE(
        IsOciError(http().get("/v2/LIBRARY/app/blobs/" + blob_digest_), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().post("/v2/Library/app/blobs/uploads/"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().put("/v2/Library/app/manifests/latest", image_.manifest,
                                      {{"Content-Type", std::string(oci_manifest)}}),
                           400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().del("/v2/Library/app/manifests/latest"), 400, "NAME_INVALID"));
}

TEST_F(BadInput, DotDotAndDotComponentsReturn400NameInvalid) {
    EXPECT_TRUE(IsOciError(http().get("/v2/../blobs/" + blob_digest_), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library/../app/manifests/latest"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library/./app/tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(
        IsOciError(http().del("/v2/../../manifests/" + image_.digest), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().post("/v2/library/../../x/blobs/uploads/"), 400, "NAME_INVALID"));
}

TEST_F(BadInput, EmptyPathComponentsReturn400NameInvalid) {
    EXPECT_TRUE(IsOciError(http().get("/v2/library//app/manifests/latest"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2//app/tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library/app//tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library/app/" + std::string("/blobs/") + blob_digest_),
                           400, "NAME_INVALID"));
}

TEST_F(BadInput, BadSeparatorsInNamesReturn400NameInvalid) {
    for (const char* name :
         {"-app", "app-", "a..b", "a___b", "a_", ".a", "a%20b", "caf%C3%A9", "a:b", "a@b"}) {
        EXPECT_TRUE(
            IsOciError(http().get("/v2/" + std::string(name) + "/tags/list"), 400, "NAME_INVALID"))
            << name;
    }
    // Valid separators are accepted (and simply unknown).
    EXPECT_TRUE(IsOciError(http().get("/v2/a.b_c__d--e/tags/list"), 404, "NAME_UNKNOWN"));
}

TEST_F(BadInput, PercentEncodedTraversalIsRejected) {
    EXPECT_TRUE(IsOciError(http().get("/v2/%2e%2e/%2e%2e/manifests/latest"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/library%2fapp/tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(
        IsOciError(http().get("/v2/library/%2E%2E/blobs/" + blob_digest_), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(blob_url("..%2f..%2fmeta.db")), 400, "DIGEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(manifest_url("..%2f..%2fmeta.db")), 404, "MANIFEST_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().put(manifest_url("..%2f..%2fmeta.db"), image_.manifest,
                                      {{"Content-Type", std::string(oci_manifest)}}),
                           400, "TAG_INVALID"));
    // Upload ids are opaque: traversal-looking ids are simply unknown, and nothing is touched.
    for (const char* id : {"..%2f..%2fmeta.db", "%2e%2e", "..", "..%2fuploads", "%2e%2e%2fblobs"}) {
        const std::string u = "/v2/" + repo_ + "/blobs/uploads/" + id;
        EXPECT_TRUE(IsOciError(http().get(u), 404, "BLOB_UPLOAD_UNKNOWN")) << id;
        EXPECT_TRUE(IsOciError(http().patch(u, "x"), 404, "BLOB_UPLOAD_UNKNOWN")) << id;
        EXPECT_TRUE(IsOciError(http().put(with_query(u, "digest=" + sha256("x"))), 404,
                               "BLOB_UPLOAD_UNKNOWN"))
            << id;
        EXPECT_TRUE(IsOciError(http().del(u), 404, "BLOB_UPLOAD_UNKNOWN")) << id;
    }
}

TEST_F(BadInput, OverlongNameReturns400NameInvalid) {
    std::string longest;
    while (longest.size() < 255) {
        longest += longest.empty() ? "a" : "/a";
    }
    longest.resize(255);
    if (longest.back() == '/') {
        longest.back() = 'b';
    }
    EXPECT_TRUE(IsOciError(http().get("/v2/" + longest + "/tags/list"), 404, "NAME_UNKNOWN"));
    EXPECT_TRUE(IsOciError(http().get("/v2/" + longest + "b/tags/list"), 400, "NAME_INVALID"));
    EXPECT_TRUE(IsOciError(http().get("/v2/" + std::string(300, 'a') + "/manifests/latest"), 400,
                           "NAME_INVALID"));
}

// A reference that is not a valid tag names a manifest that cannot exist: GET, HEAD and DELETE
// answer 404 MANIFEST_UNKNOWN like for any unknown manifest (the OCI conformance suite pulls
// ".INVALID_MANIFEST_NAME"); a PUT, which would create it, is refused with 400 TAG_INVALID.
TEST_F(BadInput, InvalidTagsAreUnknownManifestsButRefusedOnPush) {
    for (const std::string& tag :
         {std::string(".INVALID_MANIFEST_NAME"), std::string("-lead"), std::string(".lead"),
          std::string(129, 't'), std::string("a%20b"), std::string("a+b"), std::string("tag@x"),
          std::string("t%2Fx")}) {
        EXPECT_TRUE(IsOciError(http().get(manifest_url(tag)), 404, "MANIFEST_UNKNOWN")) << tag;
        auto head = http().head(manifest_url(tag));
        EXPECT_EQ(head.status, 404u) << tag;
        EXPECT_TRUE(head.body.empty()) << tag;
        EXPECT_TRUE(IsOciError(http().put(manifest_url(tag), image_.manifest,
                                          {{"Content-Type", std::string(oci_manifest)}}),
                               400, "TAG_INVALID"))
            << tag;
        EXPECT_TRUE(IsOciError(http().del(manifest_url(tag)), 404, "MANIFEST_UNKNOWN")) << tag;
    }
    // The longest valid tag is fine.
    EXPECT_TRUE(
        IsOciError(http().get(manifest_url(std::string(128, 't'))), 404, "MANIFEST_UNKNOWN"));
}

TEST_F(BadInput, InvalidDigestsReturn400DigestInvalid) {
    const std::string hex = blob_digest_.substr(7);
    const std::vector<std::string> bad = {
        "sha256:abc",                            // too short
        "sha256:" + hex + "0",                   // too long
        "sha256:" + upper(hex),                  // uppercase hex
        "md5:d41d8cd98f00b204e9800998ecf8427e",  // unknown algorithm
        "sha512:" + hex,                         // wrong length for the algorithm
        "sha256:" + hex.substr(0, 63) + "g",     // not hex
        ":" + hex,
        "sha256",
    };
    for (const auto& d : bad) {
        EXPECT_TRUE(IsOciError(http().get(blob_url(d)), 400, "DIGEST_INVALID")) << d;
        EXPECT_EQ(http().head(blob_url(d)).status, 400u) << d;
        EXPECT_TRUE(IsOciError(http().del(blob_url(d)), 400, "DIGEST_INVALID")) << d;
        EXPECT_TRUE(
            IsOciError(http().get("/v2/" + repo_ + "/referrers/" + d), 400, "DIGEST_INVALID"))
            << d;
        EXPECT_TRUE(
            IsOciError(http().put(with_query(upload_, "digest=" + d)), 400, "DIGEST_INVALID"))
            << d;
        EXPECT_TRUE(IsOciError(http().post("/v2/" + repo_ + "/blobs/uploads/?digest=" + d, "x"),
                               400, "DIGEST_INVALID"))
            << d;
    }
    // Digest-shaped manifest references are parsed as digests.
    EXPECT_TRUE(
        IsOciError(http().get(manifest_url("sha256:" + upper(hex))), 400, "DIGEST_INVALID"));
    EXPECT_TRUE(IsOciError(http().get(manifest_url("md5:d41d8cd98f00b204e9800998ecf8427e")), 400,
                           "DIGEST_INVALID"));
}

TEST_F(BadInput, UnknownPathReturns404) {
    for (const char* path :
         {"/", "/v3/", "/v2/library/app", "/v2/library/app/unknown/x", "/v2/library/app/tags/other",
          "/v2/library/app/blobs", "/v2/_catalog/extra", "/v2/library/app/referrers"}) {
        auto r = http().get(path);
        EXPECT_EQ(r.status, 404u) << path << "\n" << describe(r);
    }
}

TEST_F(BadInput, WrongMethodReturns405Unsupported) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"PUT", "/v2/"},
        {"DELETE", "/v2/_catalog"},
        {"POST", "/v2/" + repo_ + "/tags/list"},
        {"PATCH", manifest_url("latest")},
        {"POST", manifest_url("latest")},
        {"POST", blob_url(blob_digest_)},
        {"PUT", blob_url(blob_digest_)},
        {"PATCH", blob_url(blob_digest_)},
        {"GET", "/v2/" + repo_ + "/blobs/uploads/"},
        {"PUT", "/v2/" + repo_ + "/blobs/uploads/"},
        {"POST", upload_},
        {"DELETE", "/v2/" + repo_ + "/referrers/" + image_.digest},
    };
    for (const auto& [method, path] : cases) {
        auto r = http().request(method, path);
        EXPECT_TRUE(IsOciError(r, 405, "UNSUPPORTED")) << method << " " << path;
    }
}

TEST_F(BadInput, MethodNotAllowedListsTheAllowedMethods) {
    // RFC 9110 15.5.6: "The origin server MUST generate an Allow header field in a 405 response".
    auto r = http().request("PATCH", manifest_url("latest"));
    ASSERT_EQ(r.status, 405u);
    EXPECT_TRUE(r.has_header("Allow")) << describe(r);
    auto b = http().request("PUT", "/v2/");
    ASSERT_EQ(b.status, 405u);
    EXPECT_TRUE(b.has_header("Allow")) << describe(b);
}

TEST_F(BadInput, OversizedRequestHeaderReturns431) {
    const std::string req =
        "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n";
    auto out = raw(req);
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 200);
}

TEST_F(BadInput, ManyHeadersOverTheLimitReturn431) {
    std::string req = "GET /v2/ HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 2000; ++i) {
        req += "X-H" + std::to_string(i) + ": value\r\n";
    }
    req += "\r\n";
    auto out = raw(req);
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out.substr(0, 200);
}

TEST_F(BadInput, HeaderBelowTheLimitIsServed) {
    auto r = http().get("/v2/", {{"X-Big", std::string(8000, 'h')}});
    EXPECT_EQ(r.status, 200u);
}

TEST_F(BadInput, TlsClientHelloOnThePlainPortGetsHttp400) {
    // A TLS 1.2/1.3 ClientHello record header and the start of its handshake body.
    std::string hello("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
    hello += std::string(32, '\x5a');                           // random
    hello += std::string("\x20", 1) + std::string(32, '\x11');  // session id
    hello += std::string("\x00\x04\x13\x01\xc0\x2f\x01\x00", 8);
    hello += std::string(120, '\0');
    auto out = raw(hello);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out.substr(0, 200);
}

TEST_F(BadInput, GarbageRequestGetsHttp400) {
    for (const char* junk : {"HELLO\r\n\r\n", "GET /v2/ HTTP/9.9\r\n\r\n",
                             "GET /v2/ HTTP/1.1\r\nBad Header\r\n\r\n"}) {
        auto out = raw(junk);
        EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << junk << " -> " << out.substr(0, 200);
    }
}

TEST_F(BadInput, ClientDisconnectingMidPatchLeavesAResumableUpload) {
    const std::string data = std::string(5000, 'd') + "end";
    auto start = http().post("/v2/" + repo_ + "/blobs/uploads/");
    const std::string location = start.header("Location");
    // Promise 5003 bytes, send 1000, then close the sending side.
    const std::string req = "PATCH " + location +
                            " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                            "Content-Length: " +
                            std::to_string(data.size()) + "\r\n\r\n" + data.substr(0, 1000);
    raw(req, HttpClient::HalfClose::yes, std::chrono::milliseconds(500));
    auto status = http().get(location);
    ASSERT_EQ(status.status, 204u) << describe(status);
    const auto range = status.header("Range");
    ASSERT_EQ(range.rfind("0-", 0), 0u) << range;
    const std::size_t have = range == "0-0" ? 0 : std::stoul(range.substr(2)) + 1;
    ASSERT_LE(have, 1000u);
    auto rest = http().patch(
        location, data.substr(have),
        {{"Content-Range", std::to_string(have) + "-" + std::to_string(data.size() - 1)}});
    ASSERT_EQ(rest.status, 202u) << describe(rest);
    auto done = http().put(with_query(location, "digest=" + sha256(data)));
    ASSERT_EQ(done.status, 201u) << describe(done);
    EXPECT_EQ(http().get(blob_url(sha256(data))).body, data);
}

TEST_F(BadInput, ClientHangingUpMidBodyGetsItsConnectionClosedPromptly) {
    // The client promises a body, sends part of it and shuts down its sending side (as a
    // client that gives up does). The server must notice the end of the stream and finish the
    // request, instead of leaving the connection open until the read timeout (which also
    // holds up App::stop for the whole shutdown grace period).
    const auto location = http().post("/v2/" + repo_ + "/blobs/uploads/").header("Location");
    for (const std::string& head :
         {"PATCH " + location + " HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
          "PUT " + manifest_url("cut") + " HTTP/1.1\r\nHost: x\r\nContent-Type: " +
              std::string(oci_manifest) + "\r\nContent-Length: 500\r\n\r\n"}) {
        const auto t0 = std::chrono::steady_clock::now();
        raw(head + std::string(100, '{'), HttpClient::HalfClose::yes, std::chrono::seconds(2));
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
        EXPECT_LT(ms, 1000) << "connection still open " << ms
                            << " ms after the client hung up: " << head.substr(0, head.find(' '));
    }
}

TEST_F(BadInput, TruncatedManifestBodyIsNotStored) {
    const std::string req = "PUT " + manifest_url("cut") +
                            " HTTP/1.1\r\nHost: x\r\nContent-Type: " + std::string(oci_manifest) +
                            "\r\nContent-Length: " + std::to_string(image_.manifest.size()) +
                            "\r\n\r\n" + image_.manifest.substr(0, image_.manifest.size() / 2);
    raw(req, HttpClient::HalfClose::yes, std::chrono::milliseconds(500));
    EXPECT_TRUE(IsOciError(http().get(manifest_url("cut")), 404, "MANIFEST_UNKNOWN"));
}

}  // namespace
}  // namespace dermaga::test
