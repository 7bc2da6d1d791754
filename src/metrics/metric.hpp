#pragma once
// Instruments: counters, gauges and histograms whose labels take values from small sets fixed
// when the instrument is made. Recording is a relaxed atomic add on this thread's shard of the
// instrument (counters, histograms) or on one atomic (gauges): no lock, no allocation, safe
// from any thread. Reading sums the shards; it is meant for scrapes and tests.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dermaga::metrics {

class Writer;

/// A label and every value it may take. A series is addressed by the index of its value.
struct Label {
    std::string name;
    std::vector<std::string> values;
};

/// What a metric family is: its name, help text and labels.
struct Desc {
    std::string name;
    std::string help;
    std::vector<Label> labels;
};

enum class Type { counter, gauge, histogram };

/// Throws std::invalid_argument naming the problem when `d` is not a valid family for the text
/// format (metric and label names, empty or repeated label values). Start-up only.
void validate(const Desc& d, Type type);

namespace detail {

/// The shard of the calling thread: threads are spread round robin over shard_count() shards.
std::size_t next_shard() noexcept;
std::size_t shard_count() noexcept;
inline std::size_t this_shard() noexcept {
    thread_local const std::size_t shard = next_shard();
    return shard;
}

/// `cells` unsigned counters, one copy per shard, each copy on its own cache lines so threads
/// on different shards never write the same line.
class ShardedCells {
public:
    explicit ShardedCells(std::size_t cells);
    void add(std::size_t cell, std::uint64_t n) noexcept {
        at(this_shard(), cell).fetch_add(n, std::memory_order_relaxed);
    }
    /// The sum over all shards (not a snapshot: concurrent adds may or may not be included).
    std::uint64_t sum(std::size_t cell) const noexcept;
    std::size_t size() const noexcept { return cells_; }

private:
    static constexpr std::size_t per_line = 8;
    struct alignas(64) Line {
        std::atomic<std::uint64_t> v[per_line];
    };
    std::atomic<std::uint64_t>& at(std::size_t shard, std::size_t cell) const noexcept {
        return lines_[shard * lines_per_shard_ + cell / per_line].v[cell % per_line];
    }
    std::size_t cells_;
    std::size_t lines_per_shard_;
    std::unique_ptr<Line[]> lines_;
};

}  // namespace detail

/// What every instrument has: its Desc and the mapping from label value indices to a cell.
class Instrument {
public:
    virtual ~Instrument() = default;
    Instrument(const Instrument&) = delete;
    Instrument& operator=(const Instrument&) = delete;

    const Desc& desc() const noexcept { return desc_; }
    virtual Type type() const noexcept = 0;
    /// Writes the family (HELP, TYPE and its series). Called while scraping.
    virtual void write(Writer& w) const = 0;

protected:
    Instrument(Desc d, Type type);
    /// The cell of one series: label value indices in label order (enums are fine). An index
    /// past the end of its label's values counts under the last value (name it "other").
    /// Passing a different number of indices than there are labels is a bug: std::logic_error.
    template <class... I>
    std::size_t cell(I... i) const {
        const std::size_t idx[] = {static_cast<std::size_t>(i)..., 0};
        return cell_of(idx, sizeof...(I));
    }
    std::size_t cells() const noexcept { return cells_; }
    /// The label values of cell `c`, in label order.
    std::vector<std::string_view> label_values(std::size_t c) const;

private:
    std::size_t cell_of(const std::size_t* idx, std::size_t n) const;
    Desc desc_;
    std::vector<std::size_t> sizes_;  ///< values per label
    std::size_t cells_ = 1;
};

/// A monotonically increasing count. Its exposed name ends in `_total` (added when missing).
class Counter final : public Instrument {
public:
    explicit Counter(Desc d);
    Type type() const noexcept override { return Type::counter; }

    /// Adds `n` to the series with label value indices `i...`.
    template <class... I>
    void add(std::uint64_t n, I... i) {
        values_.add(cell(i...), n);
    }
    template <class... I>
    void inc(I... i) {
        add(1, i...);
    }
    template <class... I>
    std::uint64_t value(I... i) const {
        return values_.sum(cell(i...));
    }
    void write(Writer& w) const override;

private:
    detail::ShardedCells values_;
};

/// A value that goes up and down (one atomic per series; set wins over concurrent adds).
class Gauge final : public Instrument {
public:
    explicit Gauge(Desc d);
    Type type() const noexcept override { return Type::gauge; }

    template <class... I>
    void set(std::int64_t v, I... i) {
        values_[cell(i...)].store(v, std::memory_order_relaxed);
    }
    template <class... I>
    void add(std::int64_t d, I... i) {
        values_[cell(i...)].fetch_add(d, std::memory_order_relaxed);
    }
    template <class... I>
    std::int64_t value(I... i) const {
        return values_[cell(i...)].load(std::memory_order_relaxed);
    }
    void write(Writer& w) const override;

private:
    std::unique_ptr<std::atomic<std::int64_t>[]> values_;
};

/// Histogram buckets: upper bounds in the exposed unit (ascending; +Inf is implied), and what
/// one observed unit is worth in the exposed unit. Observations are integers (nanoseconds,
/// bytes, items), so recording is two integer adds.
struct Buckets {
    std::vector<double> bounds;
    double unit = 1.0;
};

/// Seconds buckets for durations observed in nanoseconds, from 0.5 ms to 60 s.
Buckets latency_buckets();
/// Seconds buckets for durations observed in nanoseconds, for work that should take
/// microseconds to milliseconds (queue waits, commits): 10 µs to 10 s.
Buckets short_latency_buckets();
/// Powers of two from 1 to `max`, for sizes and counts observed as themselves.
Buckets power_of_two_buckets(std::uint64_t max);

/// Nanoseconds of a duration, for Histogram::observe with latency buckets.
inline std::uint64_t nanos(std::chrono::steady_clock::duration d) noexcept {
    const auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    return n > 0 ? static_cast<std::uint64_t>(n) : 0;
}

/// Observations counted into fixed buckets, with their sum and count, per series.
class Histogram final : public Instrument {
public:
    /// Throws std::invalid_argument for bounds that are empty, not ascending or not finite.
    Histogram(Desc d, Buckets b);
    Type type() const noexcept override { return Type::histogram; }

    /// Records `v` observed units in the series with label value indices `i...`.
    template <class... I>
    void observe(std::uint64_t v, I... i) {
        const std::size_t base = cell(i...) * stride();
        values_.add(base + bucket_of(v), 1);
        values_.add(base + bounds_.size() + 1, v);
    }

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  ///< per bound, then +Inf (= count)
        std::uint64_t count = 0;
        double sum = 0;  ///< in the exposed unit
    };
    template <class... I>
    Snapshot snapshot(I... i) const {
        return snapshot_cell(cell(i...));
    }
    const Buckets& buckets() const noexcept { return buckets_; }
    void write(Writer& w) const override;

private:
    std::size_t stride() const noexcept { return bounds_.size() + 2; }  ///< buckets, +Inf, sum
    std::size_t bucket_of(std::uint64_t v) const noexcept;
    /// `v` observed units in the exposed unit.
    double to_exposed(std::uint64_t v) const noexcept;
    Snapshot snapshot_cell(std::size_t c) const;
    Buckets buckets_;
    std::vector<std::uint64_t> bounds_;  ///< bounds in observed units (v <= bound)
    detail::ShardedCells values_;
};

}  // namespace dermaga::metrics
