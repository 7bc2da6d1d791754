// Instruments under concurrency: adds from many threads at once are never lost, whatever the
// shards they land on, and histograms keep count, sum and buckets consistent.
#include "metrics/metric.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dermaga::metrics {
namespace {

constexpr int threads = 8;
constexpr int per_thread = 100000;

template <class F>
void in_parallel(F f) {
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] { f(t); });
    }
    for (auto& t : ts) {
        t.join();
    }
}

TEST(Counter, ConcurrentAddsAreNeverLost) {
    Counter c({"c", "h", {{"route", {"a", "b", "c"}}, {"method", {"get", "put"}}}});
    in_parallel([&](int t) {
        for (int i = 0; i < per_thread; ++i) {
            c.inc(t % 3, i % 2);
        }
    });
    std::uint64_t total = 0;
    for (int r = 0; r < 3; ++r) {
        for (int m = 0; m < 2; ++m) {
            total += c.value(r, m);
        }
    }
    EXPECT_EQ(total, std::uint64_t{threads} * per_thread);
    // threads 0, 3, 6 used route a; half of each one's adds were get
    EXPECT_EQ(c.value(0, 0), 3u * per_thread / 2);
    EXPECT_EQ(c.value(2, 1), 2u * per_thread / 2);
}

TEST(Gauge, ConcurrentUpsAndDownsBalance) {
    Gauge g({"g", "h", {}});
    in_parallel([&](int) {
        for (int i = 0; i < per_thread; ++i) {
            g.add(1);
            g.add(-1);
        }
    });
    EXPECT_EQ(g.value(), 0);
    g.set(42);
    EXPECT_EQ(g.value(), 42);
}

TEST(Histogram, ConcurrentObservationsKeepCountSumAndBuckets) {
    Histogram h({"h", "h", {}}, Buckets{{10, 100}, 1});
    in_parallel([&](int t) {
        for (int i = 0; i < per_thread; ++i) {
            h.observe(t % 2 == 0 ? 5 : 50);
        }
    });
    auto s = h.snapshot();
    EXPECT_EQ(s.count, std::uint64_t{threads} * per_thread);
    EXPECT_EQ(s.cumulative.size(), 3u);
    EXPECT_EQ(s.cumulative[0], std::uint64_t{threads / 2} * per_thread);  // the 5s
    EXPECT_EQ(s.cumulative[1], s.count);
    EXPECT_EQ(s.cumulative[2], s.count);
    EXPECT_DOUBLE_EQ(s.sum, (5.0 + 50.0) * (threads / 2) * per_thread);
}

TEST(Histogram, UnitScalesSumAndBoundsToTheExposedUnit) {
    Histogram h({"lat", "h", {}}, latency_buckets());
    h.observe(nanos(std::chrono::milliseconds(3)));
    auto s = h.snapshot();
    EXPECT_DOUBLE_EQ(s.sum, 0.003);
    // buckets: 0.0005 0.001 0.0025 | 0.005 ...
    EXPECT_EQ(s.cumulative[2], 0u);
    EXPECT_EQ(s.cumulative[3], 1u);
}

TEST(Histogram, PowerOfTwoBuckets) {
    auto b = power_of_two_buckets(64);
    EXPECT_EQ(b.bounds, (std::vector<double>{1, 2, 4, 8, 16, 32, 64}));
}

TEST(Shards, EveryShardCountsTowardsTheSum) {
    detail::ShardedCells cells(3);
    // Whatever the shard count, every shard holds its own copy and sum() adds them all.
    std::vector<std::thread> ts;
    for (std::size_t t = 0; t < 2 * detail::shard_count(); ++t) {
        ts.emplace_back([&] { cells.add(1, 2); });
    }
    for (auto& t : ts) {
        t.join();
    }
    EXPECT_EQ(cells.sum(1), 4 * detail::shard_count());
    EXPECT_EQ(cells.sum(0), 0u);
    EXPECT_EQ(cells.sum(2), 0u);
}

}  // namespace
}  // namespace dermaga::metrics
