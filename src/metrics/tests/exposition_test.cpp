// The text exposition format 0.0.4 as the registry writes it: HELP/TYPE lines, escaping,
// _total on counters, _bucket/_sum/_count on histograms, number formatting, and the checks
// that keep an exposition parseable (names, labels, uniqueness).
#include <gtest/gtest.h>

#include <cmath>

#include "metrics/process.hpp"
#include "metrics/registry.hpp"

namespace dermaga::metrics {
namespace {

TEST(Exposition, CounterGetsTotalSuffixHelpAndType) {
    Registry r;
    auto& c = r.counter({"dermaga_things", "Things counted.", {}});
    c.add(3);
    EXPECT_EQ(r.expose(),
              "# HELP dermaga_things_total Things counted.\n"
              "# TYPE dermaga_things_total counter\n"
              "dermaga_things_total 3\n");
}

TEST(Exposition, CounterAlreadyEndingInTotalKeepsItsName) {
    Counter c({"x_total", "h", {}});
    EXPECT_EQ(c.desc().name, "x_total");
}

TEST(Exposition, LabelledCounterWritesOnlySeriesThatCounted) {
    Registry r;
    auto& c = r.counter(
        {"req", "Requests.", {{"route", {"blob", "manifest"}}, {"code", {"200", "404"}}}});
    c.inc(1, 1);  // manifest, 404
    c.add(2, 0, 0);
    EXPECT_EQ(r.expose(),
              "# HELP req_total Requests.\n"
              "# TYPE req_total counter\n"
              "req_total{route=\"blob\",code=\"200\"} 2\n"
              "req_total{route=\"manifest\",code=\"404\"} 1\n");
}

TEST(Exposition, OutOfRangeIndexCountsUnderTheLastValue) {
    Counter c({"codes", "h", {{"code", {"200", "other"}}}});
    c.inc(7);
    EXPECT_EQ(c.value(1), 1u);
    EXPECT_EQ(c.value(0), 0u);
}

TEST(Exposition, WrongNumberOfLabelValuesIsABug) {
    Counter c({"codes", "h", {{"code", {"200", "other"}}}});
    EXPECT_THROW(c.inc(), std::logic_error);
    EXPECT_THROW(c.inc(0, 0), std::logic_error);
}

TEST(Exposition, EscapesHelpAndLabelValues) {
    Registry r;
    auto& g = r.gauge({"g", "back\\slash and\nnewline \"quotes\" stay", {{"v", {"a\"b\\c\nd"}}}});
    g.set(-5, 0);
    EXPECT_EQ(r.expose(),
              "# HELP g back\\\\slash and\\nnewline \"quotes\" stay\n"
              "# TYPE g gauge\n"
              "g{v=\"a\\\"b\\\\c\\nd\"} -5\n");
}

TEST(Exposition, GaugeWritesEverySeriesEvenZero) {
    Registry r;
    auto& g = r.gauge({"open", "h", {{"kind", {"a", "b"}}}});
    g.add(2, 1);
    g.add(-1, 1);
    EXPECT_EQ(r.expose(),
              "# HELP open h\n# TYPE open gauge\nopen{kind=\"a\"} 0\nopen{kind=\"b\"} 1\n");
}

TEST(Exposition, HistogramBucketsAreCumulativeWithSumAndCount) {
    Registry r;
    auto& h = r.histogram({"lat_seconds", "Latency.", {{"route", {"blob"}}}},
                          Buckets{{0.001, 0.01, 0.1}, 1e-9});
    h.observe(500'000, 0);        // 0.5 ms
    h.observe(1'000'000, 0);      // exactly 1 ms: le is inclusive
    h.observe(50'000'000, 0);     // 50 ms
    h.observe(2'000'000'000, 0);  // 2 s: only +Inf
    EXPECT_EQ(r.expose(),
              "# HELP lat_seconds Latency.\n"
              "# TYPE lat_seconds histogram\n"
              "lat_seconds_bucket{route=\"blob\",le=\"0.001\"} 2\n"
              "lat_seconds_bucket{route=\"blob\",le=\"0.01\"} 2\n"
              "lat_seconds_bucket{route=\"blob\",le=\"0.1\"} 3\n"
              "lat_seconds_bucket{route=\"blob\",le=\"+Inf\"} 4\n"
              "lat_seconds_sum{route=\"blob\"} 2.0515\n"
              "lat_seconds_count{route=\"blob\"} 4\n");
}

TEST(Exposition, LabelLessHistogramIsWrittenBeforeAnyObservation) {
    Registry r;
    r.histogram({"batch", "Jobs per commit.", {}}, power_of_two_buckets(2));
    EXPECT_EQ(r.expose(),
              "# HELP batch Jobs per commit.\n# TYPE batch histogram\n"
              "batch_bucket{le=\"1\"} 0\nbatch_bucket{le=\"2\"} 0\nbatch_bucket{le=\"+Inf\"} 0\n"
              "batch_sum 0\nbatch_count 0\n");
}

TEST(Exposition, ReadGaugesCountersAndCollectors) {
    Registry r;
    double v = 1.5;
    r.add_gauge({"temp", "h", {}}, [&] { return v; });
    r.add_counter({"ticks", "h", {}}, [] { return 7.0; });
    r.add_collector({"info"}, [](Writer& w) {
        w.family("info", "Build.", Type::gauge);
        w.sample("info", {{"version", "1.2.3"}}, 1.0);
    });
    v = 2.25;
    EXPECT_EQ(r.expose(),
              "# HELP temp h\n# TYPE temp gauge\ntemp 2.25\n"
              "# HELP ticks_total h\n# TYPE ticks_total counter\nticks_total 7\n"
              "# HELP info Build.\n# TYPE info gauge\ninfo{version=\"1.2.3\"} 1\n");
}

TEST(Exposition, FormatsSpecialAndFractionalValues) {
    EXPECT_EQ(format_value(INFINITY), "+Inf");
    EXPECT_EQ(format_value(-INFINITY), "-Inf");
    EXPECT_EQ(format_value(NAN), "NaN");
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(-3), "-3");
    EXPECT_EQ(format_value(1e15), "1000000000000000");
    EXPECT_EQ(format_value(0.0005), "0.0005");
    EXPECT_EQ(format_value(2.5), "2.5");
    EXPECT_EQ(format_value(1e-12), "1e-12");
    EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);  // round-trips
}

TEST(Exposition, RejectsNamesTheFormatCannotCarry) {
    EXPECT_THROW(Counter({"9lives", "h", {}}), std::invalid_argument);
    EXPECT_THROW(Counter({"has-dash", "h", {}}), std::invalid_argument);
    EXPECT_THROW(Gauge({"", "h", {}}), std::invalid_argument);
    EXPECT_THROW(Counter({"ok", "h", {{"__reserved", {"a"}}}}), std::invalid_argument);
    EXPECT_THROW(Counter({"ok", "h", {{"bad:colon", {"a"}}}}), std::invalid_argument);
    EXPECT_THROW(Counter({"ok", "h", {{"a", {}}}}), std::invalid_argument);
    EXPECT_THROW(Counter({"ok", "h", {{"a", {"x", "x"}}}}), std::invalid_argument);
    EXPECT_THROW(Counter({"ok", "h", {{"a", {"x"}}, {"a", {"y"}}}}), std::invalid_argument);
    EXPECT_THROW(Histogram({"ok", "h", {{"le", {"x"}}}}, power_of_two_buckets(4)),
                 std::invalid_argument);
    EXPECT_THROW(Histogram({"ok", "h", {}}, Buckets{{1, 1}, 1}), std::invalid_argument);
    EXPECT_THROW(Histogram({"ok", "h", {}}, Buckets{{}, 1}), std::invalid_argument);
    EXPECT_NO_THROW(Counter({"ns:sub_name", "h", {{"_a1", {"any \"value\""}}}}));
}

TEST(Exposition, EveryNameIsRegisteredOnce) {
    Registry r;
    r.counter({"a", "h", {}});
    EXPECT_THROW(r.counter({"a_total", "h", {}}), std::invalid_argument);
    EXPECT_THROW(r.add_counter({"a", "h", {}}, [] { return 0.0; }), std::invalid_argument);
    r.gauge({"b", "h", {}});
    EXPECT_THROW(r.add_collector({"c", "b"}, [](Writer&) {}), std::invalid_argument);
}

TEST(ProcessMetrics, ReadsThisProcess) {
    auto s = read_process_stats();
    ASSERT_TRUE(s);
    EXPECT_GT(s->resident_bytes, 1u << 20);
    EXPECT_GE(s->virtual_bytes, s->resident_bytes);
    EXPECT_GE(s->open_fds, 3u);  // stdin, stdout, stderr at least
    EXPECT_GE(s->max_fds, s->open_fds);
    EXPECT_GE(s->threads, 1u);
    const double now = static_cast<double>(std::time(nullptr));
    EXPECT_LE(s->start_time_seconds, now + 1);
    EXPECT_GT(s->start_time_seconds, now - 3600);  // a unit test started within the hour
    Registry r;
    add_process_metrics(r);
    const auto text = r.expose();
    EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "),
              std::string::npos);
    EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

}  // namespace
}  // namespace dermaga::metrics
