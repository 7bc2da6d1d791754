#include "app/telemetry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "core/blocking.hpp"
#include "core/log.hpp"
#include "metrics/process.hpp"

namespace dermaga::app {

namespace asio = boost::asio;

Telemetry::Telemetry(asio::io_context& io, meta::MetaStore& meta, asio::thread_pool& blocking,
                     std::int64_t store_interval)
    : io_(io), meta_(meta), blocking_(blocking), interval_(store_interval), timer_(io) {}

void Telemetry::register_common(const http::Server& server, unsigned threads, const char* version) {
    auto& r = registry;
    const std::string v = version;
    r.add_collector({"dermaga_build_info"}, [v](metrics::Writer& w) {
        w.family("dermaga_build_info", "Always 1; the labels say which build is running.",
                 metrics::Type::gauge);
        w.sample("dermaga_build_info", {{"version", v}}, 1.0);
    });
    metrics::add_process_metrics(r);
    requests.register_in(r);
    r.add_gauge({"dermaga_http_open_connections", "Client connections open now.", {}},
                [&server] { return static_cast<double>(server.open_connections()); });
    r.add_gauge({"dermaga_http_requests_in_flight", "Requests being served now.", {}},
                [&server] { return static_cast<double>(server.requests_in_flight()); });
    auto& pool = blocking_stats(blocking_);
    r.add(pool.submitted);
    r.add(pool.wait);
    r.add_gauge({"dermaga_blocking_queue_depth", "Blocking calls waiting for a pool thread.", {}},
                [&pool] { return static_cast<double>(pool.queued()); });
    r.add_gauge({"dermaga_blocking_busy_threads", "Blocking-pool threads running a call.", {}},
                [&pool] { return static_cast<double>(pool.running()); });
    r.add_gauge({"dermaga_blocking_threads", "Threads in the blocking pool.", {}},
                [threads] { return static_cast<double>(threads); });
    r.add_collector({"dermaga_store_objects", "dermaga_store_bytes", "dermaga_upload_sessions",
                     "dermaga_store_counted_timestamp_seconds"},
                    [this](metrics::Writer& w) { write_counts(w); });
}

void Telemetry::write_counts(metrics::Writer& w) const {
    std::optional<meta::StoreCounts> c;
    std::int64_t at = 0;
    {
        std::lock_guard lock(mu_);
        c = counts_;
        at = counted_at_;
    }
    using metrics::Type;
    const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    w.family("dermaga_store_objects",
             "Objects in the metadata store by kind (recounted every metrics.store_interval).",
             Type::gauge);
    if (c) {
        w.sample("dermaga_store_objects", {{"kind", "repositories"}}, d(c->repositories));
        w.sample("dermaga_store_objects", {{"kind", "manifests"}}, d(c->manifests));
        w.sample("dermaga_store_objects", {{"kind", "tags"}}, d(c->tags));
        w.sample("dermaga_store_objects", {{"kind", "blobs"}}, d(c->blobs));
    }
    w.family("dermaga_store_bytes", "Bytes stored by kind: blobs (each once) and manifests.",
             Type::gauge);
    if (c) {
        w.sample("dermaga_store_bytes", {{"kind", "blobs"}}, d(c->blob_bytes));
        w.sample("dermaga_store_bytes", {{"kind", "manifests"}}, d(c->manifest_bytes));
    }
    w.family("dermaga_upload_sessions", "Blob upload sessions open.", Type::gauge);
    if (c) {
        w.sample("dermaga_upload_sessions", {}, d(c->uploads));
    }
    w.family("dermaga_store_counted_timestamp_seconds",
             "When the store counts above were taken (Unix time; 0: never).", Type::gauge);
    w.sample("dermaga_store_counted_timestamp_seconds", {}, static_cast<double>(at));
}

Result<void> Telemetry::recount() {
    DERMAGA_TRY(c, meta_.counts());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::lock_guard lock(mu_);
    counts_ = c;
    counted_at_ = now;
    return {};
}

asio::awaitable<void> Telemetry::recount_loop() {
    while (true) {
        auto r = co_await run_blocking(blocking_, [this] { return recount(); });
        if (!r) {
            log::warn("store_count_failed", {{"error", std::string_view(r.error().detail)}});
        }
        timer_.expires_after(std::chrono::seconds(interval_));
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            co_return;
        }
    }
}

void Telemetry::start() { asio::co_spawn(io_, recount_loop(), asio::detached); }

void Telemetry::stop() {
    asio::post(io_, [this] { timer_.cancel(); });
}

}  // namespace dermaga::app
