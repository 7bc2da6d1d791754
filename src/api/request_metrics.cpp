#include "api/request_metrics.hpp"

#include <algorithm>
#include <array>

#include "api/routes.hpp"

namespace dermaga::api {

namespace {

const std::vector<std::string> route_values = {"manifest",  "blob",  "upload", "tags", "catalog",
                                               "referrers", "token", "api",    "other"};
/// In http::Method order.
const std::vector<std::string> method_values = {"GET",   "HEAD",   "POST",    "PUT",
                                                "PATCH", "DELETE", "OPTIONS", "other"};
/// Every status the registry answers with, and the common ones in front of it; anything else
/// counts as "other".
constexpr std::array<unsigned, 30> codes = {200, 201, 202, 204, 206, 301, 302, 304, 307, 308,
                                            400, 401, 403, 404, 405, 408, 409, 411, 412, 413,
                                            415, 416, 422, 429, 431, 500, 501, 502, 503, 504};

std::vector<std::string> code_values() {
    std::vector<std::string> v;
    for (auto c : codes) {
        v.push_back(std::to_string(c));
    }
    v.emplace_back("other");
    return v;
}

metrics::Label route_label() { return {"route", route_values}; }

}  // namespace

std::size_t status_index(unsigned status) noexcept {
    auto it = std::lower_bound(codes.begin(), codes.end(), status);
    return it != codes.end() && *it == status ? static_cast<std::size_t>(it - codes.begin())
                                              : codes.size();
}

RouteClass route_class(std::string_view path) {
    using K = Route::Kind;
    if (path == "/token") {
        return RouteClass::token;
    }
    if (path == "/api" || path.substr(0, 5) == "/api/") {
        return RouteClass::api;
    }
    switch (classify_route(path).kind) {
        case K::manifest:
            return RouteClass::manifest;
        case K::blob:
            return RouteClass::blob;
        case K::upload_start:
        case K::upload:
            return RouteClass::upload;
        case K::tags:
            return RouteClass::tags;
        case K::catalog:
            return RouteClass::catalog;
        case K::referrers:
            return RouteClass::referrers;
        default:
            return RouteClass::other;
    }
}

RequestMetrics::RequestMetrics()
    : requests({"dermaga_http_requests",
                "HTTP requests answered, by route class, method and status code.",
                {route_label(), {"method", method_values}, {"code", code_values()}}}),
      latency({"dermaga_http_request_duration_seconds",
               "Time from reading a request's header to writing the last byte of its response, by "
               "route class.",
               {route_label()}},
              metrics::latency_buckets()),
      received({"dermaga_http_received_bytes",
                "Request body bytes received, by route class.",
                {route_label()}}),
      sent({"dermaga_http_sent_bytes",
            "Response body bytes sent, by route class.",
            {route_label()}}) {}

void RequestMetrics::request_done(const http::RequestRecord& r) noexcept {
    const auto route = route_class(r.path);
    requests.inc(route, r.method, status_index(r.status));
    latency.observe(metrics::nanos(r.elapsed), route);
    if (r.received) {
        received.add(r.received, route);
    }
    if (r.sent) {
        sent.add(r.sent, route);
    }
}

void RequestMetrics::register_in(metrics::Registry& registry) const {
    registry.add(requests);
    registry.add(latency);
    registry.add(received);
    registry.add(sent);
}

}  // namespace dermaga::api
