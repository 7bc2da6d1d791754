#pragma once
// run_blocking: run a blocking call (file I/O, fsync, SQLite) on the bounded blocking pool and
// resume the calling coroutine on its own executor afterwards. I/O threads never block.
// Every pool carries BlockingStats (how many calls wait, run and how long they waited).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>

#include "metrics/metric.hpp"

namespace dermaga {

namespace asio = boost::asio;

/// The load of one blocking pool, kept by run_blocking. Attached to the pool as an Asio
/// service: created on first use, destroyed with the pool.
class BlockingStats final : public asio::execution_context::service {
public:
    static inline asio::execution_context::id id;
    explicit BlockingStats(asio::execution_context& pool) : service(pool) {}
    ~BlockingStats() override;

    /// Calls handed to the pool, started on one of its threads, and finished.
    metrics::Counter submitted{{"dermaga_blocking_calls", "Calls handed to the blocking pool.", {}}};
    metrics::Counter started{{"dermaga_blocking_started", "Blocking calls that started on a pool thread.", {}}};
    metrics::Counter finished{{"dermaga_blocking_finished", "Blocking calls that finished.", {}}};
    /// Time from handing a call to the pool to its start on a pool thread.
    metrics::Histogram wait{{"dermaga_blocking_wait_seconds",
                             "Time blocking calls waited for a pool thread, in seconds.", {}},
                            metrics::short_latency_buckets()};

    /// Calls waiting for a thread.
    std::int64_t queued() const { return diff(submitted.value(), started.value()); }
    /// Calls running on a pool thread.
    std::int64_t running() const { return diff(started.value(), finished.value()); }

private:
    void shutdown() override {}
    static std::int64_t diff(std::uint64_t a, std::uint64_t b) {
        // The two sums are read one after the other: a racing call may show in only one.
        return a > b ? static_cast<std::int64_t>(a - b) : 0;
    }
};

namespace detail {
/// Bumped whenever a pool's BlockingStats goes, so that no thread keeps a pointer to it.
inline std::atomic<std::uint64_t> blocking_stats_epoch{0};
}  // namespace detail

inline BlockingStats::~BlockingStats() { detail::blocking_stats_epoch.fetch_add(1, std::memory_order_acq_rel); }

/// The stats of `pool`. Lock-free after the first call per thread and pool: the service lookup
/// (which locks) is cached per thread until any pool with stats is destroyed, so a new pool at
/// a dead pool's address is never mistaken for it.
inline BlockingStats& blocking_stats(asio::thread_pool& pool) {
    struct Cached {
        const void* pool = nullptr;
        BlockingStats* stats = nullptr;
        std::uint64_t epoch = 0;
    };
    thread_local Cached c;
    const auto epoch = detail::blocking_stats_epoch.load(std::memory_order_acquire);
    if (c.pool != &pool || c.epoch != epoch || c.stats == nullptr) {
        c = Cached{&pool, &asio::use_service<BlockingStats>(pool), epoch};
    }
    return *c.stats;
}

/// Runs f() on `pool` and returns its result to the caller's executor. Exceptions propagate.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F&>;
    auto home = co_await asio::this_coro::executor;
    auto& stats = blocking_stats(pool);
    stats.submitted.inc();
    const auto queued_at = std::chrono::steady_clock::now();
    // post(ex, token) would only queue an intermediate step on ex and then resume us on our own
    // executor; binding the token to the pool makes the coroutine itself continue there.
    co_await asio::post(asio::bind_executor(pool.get_executor(), asio::use_awaitable));
    stats.started.inc();
    stats.wait.observe(metrics::nanos(std::chrono::steady_clock::now() - queued_at));
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
        try {
            f();
        } catch (...) {
            error = std::current_exception();
        }
        stats.finished.inc();
        co_await asio::post(home, asio::use_awaitable);
        if (error) {
            std::rethrow_exception(error);
        }
    } else {
        std::optional<R> result;
        try {
            result.emplace(f());
        } catch (...) {
            error = std::current_exception();
        }
        stats.finished.inc();
        co_await asio::post(home, asio::use_awaitable);
        if (error) {
            std::rethrow_exception(error);
        }
        co_return std::move(*result);
    }
}

}  // namespace dermaga
