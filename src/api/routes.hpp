#pragma once
// The one route table of the HTTP API and the Api object that serves it.

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

#include "api/probes.hpp"
#include "http/message.hpp"
#include "registry/registry.hpp"

namespace dermaga::api {

struct Context;

/// Which endpoint a /v2 path names. Parsed from the right: a repository name may itself
/// contain components such as "blobs" or "manifests".
struct Route {
    enum class Kind { base, catalog, tags, manifest, blob, upload_start, upload, referrers, not_found };
    Kind kind = Kind::not_found;
    std::string name;  ///< repository name (unvalidated)
    std::string arg;   ///< reference, digest or upload id
};

/// Classifies a request path.
Route parse_route(std::string_view path);

/// parse_route without copies: `name` and `arg` point into the path.
struct RouteView {
    Route::Kind kind = Route::Kind::not_found;
    std::string_view name;
    std::string_view arg;
};
RouteView classify_route(std::string_view path);

struct ApiOptions {
    std::size_t max_inflight = 4096;  ///< beyond this, 429 TOO_MANY_REQUESTS
    /// /healthz, /readyz and /metrics on this listener (see probes.hpp and docs/security.md).
    Probes probes;
};

/// Serves every route. Thread-safe; `handle` may run concurrently on many io threads.
class Gate;

class Api {
public:
    /// `gate` null: access control is off and every request is served.
    Api(registry::Registry& registry, boost::asio::thread_pool& blocking, ApiOptions options = {},
        Gate* gate = nullptr);
    boost::asio::awaitable<http::Response> handle(http::Request& req);

private:
    boost::asio::awaitable<http::Response> dispatch(http::Request& req);
    /// GET /metrics on this listener: public without access control or with
    /// probes.metrics_public, else for administrators.
    boost::asio::awaitable<http::Response> metrics_endpoint(http::Request& req);
    /// Serves a /v2 route once access (if any) is settled.
    boost::asio::awaitable<http::Response> dispatch_v2(http::Request& req, Context& ctx, const Route& route);
    registry::Registry& registry_;
    Gate* gate_;
    boost::asio::thread_pool& blocking_;
    ApiOptions options_;
    std::atomic<std::size_t> inflight_{0};
};

}  // namespace dermaga::api
