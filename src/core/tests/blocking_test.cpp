// run_blocking keeps each pool's BlockingStats: calls waiting, running and finished, and how
// long they waited for a thread.
#include "core/blocking.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <thread>

namespace dermaga {
namespace {

template <class P>
void wait_until(P p) {
    for (int i = 0; i < 1000 && !p(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(p());
}

TEST(BlockingStats, CountsQueuedRunningAndWaitTime) {
    asio::thread_pool pool(1);
    asio::io_context io;
    std::atomic<bool> release{false};
    std::atomic<int> done{0};
    for (int i = 0; i < 4; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                co_await run_blocking(pool, [&] {
                    while (!release) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    }
                });
                ++done;
            },
            asio::detached);
    }
    std::thread runner([&] { io.run(); });
    auto& stats = blocking_stats(pool);
    // One call holds the only thread; three wait behind it.
    wait_until([&] { return stats.submitted.value() == 4; });
    wait_until([&] { return stats.running() == 1 && stats.queued() == 3; });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    release = true;
    runner.join();
    EXPECT_EQ(done, 4);
    EXPECT_EQ(stats.queued(), 0);
    EXPECT_EQ(stats.running(), 0);
    EXPECT_EQ(stats.finished.value(), 4u);
    auto wait = stats.wait.snapshot();
    EXPECT_EQ(wait.count, 4u);
    EXPECT_GE(wait.sum, 0.020 * 3);  // the three queued calls each waited out the 20 ms hold
}

TEST(BlockingStats, APoolAtADeadPoolsAddressGetsFreshStats) {
    std::optional<asio::thread_pool> pool;
    asio::io_context io;
    auto one_call = [&] {
        asio::co_spawn(
            io, [&]() -> asio::awaitable<void> { co_await run_blocking(*pool, [] {}); },
            asio::detached);
        io.restart();
        io.run();
    };
    pool.emplace(1);
    one_call();
    EXPECT_EQ(blocking_stats(*pool).submitted.value(), 1u);
    const void* first = &*pool;
    pool.reset();
    pool.emplace(1);
    ASSERT_EQ(&*pool, first);  // same storage: only the epoch tells the pools apart
    EXPECT_EQ(blocking_stats(*pool).submitted.value(), 0u);
    one_call();
    EXPECT_EQ(blocking_stats(*pool).submitted.value(), 1u);
}

}  // namespace
}  // namespace dermaga
