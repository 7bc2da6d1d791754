// Request metrics: the route class of every kind of path, status codes on their label, and
// what one reported request adds.
#include "api/request_metrics.hpp"

#include <gtest/gtest.h>

namespace dermaga::api {
namespace {

TEST(RouteClass, NamesEveryKindOfEndpoint) {
    EXPECT_EQ(route_class("/v2/library/alpine/manifests/latest"), RouteClass::manifest);
    EXPECT_EQ(route_class("/v2/a/b/c/blobs/sha256:abc"), RouteClass::blob);
    EXPECT_EQ(route_class("/v2/a/blobs/uploads/"), RouteClass::upload);
    EXPECT_EQ(route_class("/v2/a/blobs/uploads/0123abcd"), RouteClass::upload);
    EXPECT_EQ(route_class("/v2/a/tags/list"), RouteClass::tags);
    EXPECT_EQ(route_class("/v2/_catalog"), RouteClass::catalog);
    EXPECT_EQ(route_class("/v2/a/referrers/sha256:abc"), RouteClass::referrers);
    EXPECT_EQ(route_class("/token"), RouteClass::token);
    EXPECT_EQ(route_class("/api/v1/users"), RouteClass::api);
    EXPECT_EQ(route_class("/v2/"), RouteClass::other);
    EXPECT_EQ(route_class("/metrics"), RouteClass::other);
    EXPECT_EQ(route_class("/v2/blobs/manifests"), RouteClass::other);
    // a repository named like an endpoint is still classified from the right
    EXPECT_EQ(route_class("/v2/blobs/manifests/manifests/v1"), RouteClass::manifest);
}

TEST(RequestMetrics, StatusCodesOutsideTheListCountAsOther) {
    EXPECT_EQ(status_index(200), 0u);
    EXPECT_EQ(status_index(504), 29u);
    EXPECT_EQ(status_index(418), 30u);
    EXPECT_EQ(status_index(0), 30u);
}

TEST(RequestMetrics, OneRequestAddsToEachInstrument) {
    RequestMetrics m;
    m.request_done(http::RequestRecord{http::Method::put, "/v2/a/blobs/uploads/x", 201, 1000, 0,
                                       std::chrono::milliseconds(3), false});
    m.request_done(http::RequestRecord{http::Method::get, "/v2/a/manifests/v1", 418, 0, 512,
                                       std::chrono::microseconds(200), false});
    EXPECT_EQ(m.requests.value(RouteClass::upload, http::Method::put, status_index(201)), 1u);
    EXPECT_EQ(m.requests.value(RouteClass::manifest, http::Method::get, status_index(999)), 1u);
    EXPECT_EQ(m.received.value(RouteClass::upload), 1000u);
    EXPECT_EQ(m.sent.value(RouteClass::manifest), 512u);
    EXPECT_EQ(m.latency.snapshot(RouteClass::upload).count, 1u);
    EXPECT_DOUBLE_EQ(m.latency.snapshot(RouteClass::upload).sum, 0.003);
    metrics::Registry r;
    m.register_in(r);
    const auto text = r.expose();
    EXPECT_NE(
        text.find("dermaga_http_requests_total{route=\"upload\",method=\"PUT\",code=\"201\"} 1\n"),
        std::string::npos)
        << text;
    EXPECT_NE(
        text.find(
            "dermaga_http_requests_total{route=\"manifest\",method=\"GET\",code=\"other\"} 1\n"),
        std::string::npos);
}

}  // namespace
}  // namespace dermaga::api
