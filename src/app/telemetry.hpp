#pragma once
// Telemetry: the metrics registry of one App and what feeds it that no single module owns —
// the stored-object counts (recounted in the background, never per scrape), the HTTP and
// blocking-pool gauges, build info and process figures. Each module's own instruments are
// registered from app.cpp.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <mutex>
#include <optional>

#include "api/request_metrics.hpp"
#include "http/server.hpp"
#include "meta/meta_store.hpp"
#include "metrics/registry.hpp"

namespace dermaga::app {

class Telemetry {
public:
    /// `store_interval`: seconds between recounts of what the metadata store holds.
    Telemetry(boost::asio::io_context& io, meta::MetaStore& meta,
              boost::asio::thread_pool& blocking, std::int64_t store_interval);

    metrics::Registry registry;
    /// The main listener's observer (requests by route class, latency, bytes).
    api::RequestMetrics requests;

    /// Registers build info, process figures, the request metrics, the stored-object counts,
    /// `server`'s connection gauges and the blocking pool's load (`threads` of them).
    void register_common(const http::Server& server, unsigned threads, const char* version);

    /// Starts recounting the store now and every store_interval (a coroutine on the io_context).
    void start();
    /// Stops the recounting. Call on or before the io_context stops.
    void stop();

    /// Recounts the store now (blocking). Errors: the store's.
    Result<void> recount();

private:
    boost::asio::awaitable<void> recount_loop();
    void write_counts(metrics::Writer& w) const;

    boost::asio::io_context& io_;
    meta::MetaStore& meta_;
    boost::asio::thread_pool& blocking_;
    std::int64_t interval_;
    boost::asio::steady_timer timer_;
    mutable std::mutex mu_;  ///< guards the two below; held for a copy only
    std::optional<meta::StoreCounts> counts_;
    std::int64_t counted_at_ = 0;  ///< Unix seconds of the last successful recount
};

}  // namespace dermaga::app
