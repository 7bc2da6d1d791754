#pragma once
// GET/POST /token: Docker token authentication's token endpoint.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/message.hpp"

namespace dermaga::api {

class Gate;

boost::asio::awaitable<http::Response> token_endpoint(Gate& gate, http::Request& req,
                                                      boost::asio::thread_pool& blocking);

}  // namespace dermaga::api
