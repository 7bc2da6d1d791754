#pragma once
// Request metrics of the HTTP API, kept by route class: the http server reports each request
// (http::ServerObserver) and this classifies its path with the API's own route parser.

#include <string_view>

#include "http/server.hpp"
#include "metrics/metric.hpp"
#include "metrics/registry.hpp"

namespace dermaga::api {

/// What kind of endpoint a path names; the `route` label of the request metrics.
enum class RouteClass { manifest, blob, upload, tags, catalog, referrers, token, api, other };

/// The route class of a request path. Never allocates.
RouteClass route_class(std::string_view path);

/// Counts requests, their latency and body bytes. Recording is lock-free and allocation-free.
class RequestMetrics final : public http::ServerObserver {
public:
    RequestMetrics();
    void request_done(const http::RequestRecord& r) noexcept override;
    /// Shows the instruments in `registry` (they must outlive its scrapes).
    void register_in(metrics::Registry& registry) const;

    /// by route, method, code
    metrics::Counter requests;
    /// by route
    metrics::Histogram latency;
    /// by route
    metrics::Counter received;
    /// by route
    metrics::Counter sent;
};

/// The index of `status` among the `code` label's values (the last one is "other").
std::size_t status_index(unsigned status) noexcept;

}  // namespace dermaga::api
