#include "api/probes.hpp"

#include "api/oci_errors.hpp"
#include "core/blocking.hpp"
#include "core/log.hpp"
#include "metrics/writer.hpp"

namespace dermaga::api {

namespace {

http::Response plain(unsigned status, std::string body) {
    http::Response r;
    r.status = status;
    r.set("Content-Type", "text/plain; charset=utf-8");
    r.set("Cache-Control", "no-store");
    r.body = std::move(body);
    return r;
}

}  // namespace

bool is_probe_path(std::string_view path) {
    return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

http::Response healthz() { return plain(200, "ok\n"); }

boost::asio::awaitable<http::Response> readyz(const Probes& probes,
                                              boost::asio::thread_pool& blocking) {
    if (!probes.ready) {
        co_return plain(200, "ready\n");
    }
    auto r = co_await run_blocking(blocking, [&] { return probes.ready(); });
    if (!r) {
        log::warn("not_ready", {{"reason", std::string_view(r.error().detail)}});
        co_return plain(503, "not ready: " + r.error().detail + "\n");
    }
    co_return plain(200, "ready\n");
}

boost::asio::awaitable<http::Response> metrics_page(const Probes& probes, http::Request& req,
                                                    boost::asio::thread_pool& blocking) {
    if (!probes.metrics) {
        co_return error_response(404, "NOT_FOUND", "no such endpoint");
    }
    if (req.method() != http::Method::get && req.method() != http::Method::head) {
        auto r = error_response(405, "UNSUPPORTED", "the method is not supported on this endpoint");
        r.set("Allow", "GET, HEAD");
        co_return r;
    }
    // Reading /proc and walking every family is quick, but it is file I/O: not on an I/O thread.
    auto text = co_await run_blocking(blocking, [&] { return probes.metrics(); });
    http::Response r;
    r.set("Content-Type", std::string(metrics::content_type));
    r.set("Cache-Control", "no-store");
    if (req.method() == http::Method::head) {
        r.content_length = text.size();
    } else {
        r.body = std::move(text);
    }
    co_return r;
}

http::Handler probe_handler(const Probes& probes, boost::asio::thread_pool& blocking) {
    return [&probes, &blocking](http::Request& req) -> boost::asio::awaitable<http::Response> {
        if (req.path() == "/healthz") {
            co_return healthz();
        }
        if (req.path() == "/readyz") {
            co_return co_await readyz(probes, blocking);
        }
        if (req.path() == "/metrics") {
            co_return co_await metrics_page(probes, req, blocking);
        }
        co_return error_response(404, "NOT_FOUND", "no such endpoint");
    };
}

}  // namespace dermaga::api
