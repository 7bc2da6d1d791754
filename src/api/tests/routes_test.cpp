#include "api/routes.hpp"

#include <gtest/gtest.h>

using namespace dermaga::api;
using K = Route::Kind;

TEST(ParseRoute, ClassifiesEveryEndpoint) {
    EXPECT_EQ(parse_route("/v2/").kind, K::base);
    EXPECT_EQ(parse_route("/v2").kind, K::base);
    EXPECT_EQ(parse_route("/v2/_catalog").kind, K::catalog);
    auto t = parse_route("/v2/library/busybox/tags/list");
    EXPECT_EQ(t.kind, K::tags);
    EXPECT_EQ(t.name, "library/busybox");
    auto m = parse_route("/v2/a/b/manifests/latest");
    EXPECT_EQ(m.kind, K::manifest);
    EXPECT_EQ(m.name, "a/b");
    EXPECT_EQ(m.arg, "latest");
    EXPECT_EQ(parse_route("/v2/a/blobs/uploads/").kind, K::upload_start);
    EXPECT_EQ(parse_route("/v2/a/blobs/uploads").kind, K::upload_start);
    auto u = parse_route("/v2/a/blobs/uploads/abc");
    EXPECT_EQ(u.kind, K::upload);
    EXPECT_EQ(u.arg, "abc");
    EXPECT_EQ(parse_route("/v2/a/blobs/sha256:x").kind, K::blob);
    EXPECT_EQ(parse_route("/v2/a/referrers/sha256:x").kind, K::referrers);
}

TEST(ParseRoute, NamesMayContainRouteWords) {
    auto m = parse_route("/v2/blobs/manifests/manifests/v1");
    EXPECT_EQ(m.kind, K::manifest);
    EXPECT_EQ(m.name, "blobs/manifests");
    auto b = parse_route("/v2/tags/blobs/sha256:x");
    EXPECT_EQ(b.kind, K::blob);
    EXPECT_EQ(b.name, "tags");
}

TEST(ParseRoute, UnknownPathsAreNotFound) {
    EXPECT_EQ(parse_route("/").kind, K::not_found);
    EXPECT_EQ(parse_route("/v2/name").kind, K::not_found);
    EXPECT_EQ(parse_route("/v2/manifests/x").kind, K::not_found);
    EXPECT_EQ(parse_route("/v3/a/manifests/x").kind, K::not_found);
}
