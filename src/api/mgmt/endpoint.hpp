#pragma once
// The management REST API under /api/v1/ (users, organisations, teams, robots, tokens,
// repository permissions, audit, keys). Documented in docs/api.md.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/message.hpp"

namespace dermaga::api {

class Gate;

/// Whether `path` is under /api/v1.
bool is_mgmt_path(std::string_view path);

/// Serves one /api/v1 request. `gate` null (access control off): 404 with a reason.
boost::asio::awaitable<http::Response> mgmt_endpoint(Gate* gate, http::Request& req,
                                                     boost::asio::thread_pool& blocking);

}  // namespace dermaga::api
