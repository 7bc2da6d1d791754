#pragma once
// The operational endpoints beside the API: GET /healthz (the process answers), GET /readyz
// (it can serve: database, storage, schema) and GET /metrics (the Prometheus exposition).
// They serve both the main listener (behind Api's access rule for /metrics) and the
// separate metrics listener (metrics.addr).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "http/server.hpp"

namespace dermaga::api {

struct Probes {
    /// Blocking: the exposition text. Empty: /metrics is not served on this listener (404).
    std::function<std::string()> metrics;
    /// Blocking: whether this node can serve requests. The error's detail names what is not
    /// ready and why, in a few words safe to show to anyone. Empty: always ready.
    std::function<Result<void>()> ready;
    /// Main listener with access control on: serve /metrics without credentials (otherwise
    /// administrators only).
    bool metrics_public = false;
};

/// "/healthz", "/readyz" or "/metrics".
bool is_probe_path(std::string_view path);

/// 200 "ok".
http::Response healthz();
/// 200 "ready", or 503 "not ready: <reason>" (logged as not_ready). Runs the check on `blocking`.
boost::asio::awaitable<http::Response> readyz(const Probes& probes,
                                              boost::asio::thread_pool& blocking);
/// 200 with the exposition (GET, HEAD), 405 for other methods, 404 when not served. No access
/// control: the caller decides who gets here.
boost::asio::awaitable<http::Response> metrics_page(const Probes& probes, http::Request& req,
                                                    boost::asio::thread_pool& blocking);

/// The handler of the metrics listener: the three endpoints without access control (bind it
/// to a private address), 404 for anything else.
http::Handler probe_handler(const Probes& probes, boost::asio::thread_pool& blocking);

}  // namespace dermaga::api
