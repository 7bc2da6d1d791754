#include "metrics/metric.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <thread>

#include "metrics/writer.hpp"

namespace dermaga::metrics {

namespace {

bool name_char(char c, bool first, bool colon) {
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
    return alpha || (!first && c >= '0' && c <= '9');
}

bool valid_name(std::string_view s, bool colon) {
    if (s.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (!name_char(s[i], i == 0, colon)) {
            return false;
        }
    }
    return true;
}

[[noreturn]] void invalid(const Desc& d, const std::string& why) {
    throw std::invalid_argument("metric " + d.name + ": " + why);
}

/// A counter's family name ends in _total (text format 0.0.4 names it like its samples).
Desc with_total(Desc d) {
    constexpr std::string_view suffix = "_total";
    auto& n = d.name;
    if (n.size() < suffix.size() ||
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) {
        n += suffix;
    }
    return d;
}

}  // namespace

void validate(const Desc& d, Type type) {
    if (!valid_name(d.name, true)) {
        invalid(d, "name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
    }
    std::set<std::string_view> names;
    for (const auto& l : d.labels) {
        if (!valid_name(l.name, false) || l.name.rfind("__", 0) == 0) {
            invalid(d, "label \"" + l.name +
                           "\" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __");
        }
        if (type == Type::histogram && l.name == "le") {
            invalid(d, "a histogram may not have a label named le");
        }
        if (!names.insert(l.name).second) {
            invalid(d, "label \"" + l.name + "\" appears twice");
        }
        if (l.values.empty()) {
            invalid(d, "label \"" + l.name + "\" has no values");
        }
        if (std::set<std::string_view>(l.values.begin(), l.values.end()).size() !=
            l.values.size()) {
            invalid(d, "label \"" + l.name + "\" repeats a value");
        }
    }
}

namespace detail {

std::size_t shard_count() noexcept {
    // A power of two at least the number of cores (so that threads running at the same time
    // rarely share one), at most 16 (memory is cells × shards).
    static const std::size_t n = [] {
        const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
        std::size_t s = 1;
        while (s < cores && s < 16) {
            s <<= 1;
        }
        return s;
    }();
    return n;
}

std::size_t next_shard() noexcept {
    static std::atomic<std::size_t> next{0};
    return next.fetch_add(1, std::memory_order_relaxed) & (shard_count() - 1);
}

ShardedCells::ShardedCells(std::size_t cells)
    : cells_(cells),
      lines_per_shard_((cells + per_line - 1) / per_line),
      lines_(std::make_unique<Line[]>(lines_per_shard_ * shard_count())) {}

std::uint64_t ShardedCells::sum(std::size_t cell) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < shard_count(); ++s) {
        total += at(s, cell).load(std::memory_order_relaxed);
    }
    return total;
}

}  // namespace detail

Instrument::Instrument(Desc d, Type type) : desc_(std::move(d)) {
    validate(desc_, type);
    for (const auto& l : desc_.labels) {
        sizes_.push_back(l.values.size());
        cells_ *= l.values.size();
    }
}

std::size_t Instrument::cell_of(const std::size_t* idx, std::size_t n) const {
    if (n != sizes_.size()) {
        throw std::logic_error("metric " + desc_.name + ": " + std::to_string(n) +
                               " label values for " + std::to_string(sizes_.size()) + " labels");
    }
    std::size_t c = 0;
    for (std::size_t k = 0; k < n; ++k) {
        c = c * sizes_[k] + std::min(idx[k], sizes_[k] - 1);
    }
    return c;
}

std::vector<std::string_view> Instrument::label_values(std::size_t c) const {
    std::vector<std::string_view> out(sizes_.size());
    for (std::size_t k = sizes_.size(); k-- > 0;) {
        out[k] = desc_.labels[k].values[c % sizes_[k]];
        c /= sizes_[k];
    }
    return out;
}

Counter::Counter(Desc d) : Instrument(with_total(std::move(d)), Type::counter), values_(cells()) {}

void Counter::write(Writer& w) const {
    w.family(desc().name, desc().help, Type::counter);
    for (std::size_t c = 0; c < cells(); ++c) {
        const auto v = values_.sum(c);
        // Labelled series appear once they count something; a label-less one always.
        if (v != 0 || desc().labels.empty()) {
            w.sample(desc().name, desc().labels, label_values(c), v);
        }
    }
}

Gauge::Gauge(Desc d)
    : Instrument(std::move(d), Type::gauge),
      values_(std::make_unique<std::atomic<std::int64_t>[]>(cells())) {}

void Gauge::write(Writer& w) const {
    w.family(desc().name, desc().help, Type::gauge);
    for (std::size_t c = 0; c < cells(); ++c) {
        w.sample(desc().name, desc().labels, label_values(c),
                 static_cast<double>(values_[c].load(std::memory_order_relaxed)));
    }
}

Buckets latency_buckets() {
    return {
        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
        1e-9};
}

Buckets short_latency_buckets() {
    return {{0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
             0.1, 0.25, 0.5, 1, 2.5, 10},
            1e-9};
}

Buckets power_of_two_buckets(std::uint64_t max) {
    Buckets b;
    for (std::uint64_t v = 1; v <= max; v <<= 1) {
        b.bounds.push_back(static_cast<double>(v));
    }
    return b;
}

Histogram::Histogram(Desc d, Buckets b)
    : Instrument(std::move(d), Type::histogram),
      buckets_(std::move(b)),
      values_(cells() * (buckets_.bounds.size() + 2)) {
    if (buckets_.bounds.empty() || !(buckets_.unit > 0) || !std::isfinite(buckets_.unit)) {
        throw std::invalid_argument("metric " + desc().name + ": needs bounds and a positive unit");
    }
    for (std::size_t i = 0; i < buckets_.bounds.size(); ++i) {
        const double bound = buckets_.bounds[i];
        if (!std::isfinite(bound) || (i > 0 && bound <= buckets_.bounds[i - 1])) {
            throw std::invalid_argument("metric " + desc().name +
                                        ": bounds must be finite and ascending");
        }
        // In observed units: v counts in this bucket when v <= bound (rounded to the unit).
        bounds_.push_back(
            bound <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(bound / buckets_.unit)));
    }
}

double Histogram::to_exposed(std::uint64_t v) const noexcept {
    // Dividing by 1e9 rounds correctly where multiplying by 1e-9 would not (2.0515 stays 2.0515).
    const double per = 1.0 / buckets_.unit;
    const double whole = std::round(per);
    return std::fabs(per - whole) < 1e-6 ? static_cast<double>(v) / whole
                                         : static_cast<double>(v) * buckets_.unit;
}

std::size_t Histogram::bucket_of(std::uint64_t v) const noexcept {
    return static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                    bounds_.begin());
}

Histogram::Snapshot Histogram::snapshot_cell(std::size_t c) const {
    Snapshot s;
    const std::size_t base = c * stride();
    std::uint64_t running = 0;
    for (std::size_t b = 0; b <= bounds_.size(); ++b) {
        running += values_.sum(base + b);
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = to_exposed(values_.sum(base + bounds_.size() + 1));
    return s;
}

void Histogram::write(Writer& w) const {
    w.family(desc().name, desc().help, Type::histogram);
    for (std::size_t c = 0; c < cells(); ++c) {
        const auto s = snapshot_cell(c);
        if (s.count == 0 && !desc().labels.empty()) {
            continue;
        }
        const auto values = label_values(c);
        for (std::size_t b = 0; b <= bounds_.size(); ++b) {
            const double le = b < bounds_.size() ? buckets_.bounds[b] : INFINITY;
            w.bucket(desc().name, desc().labels, values, le, s.cumulative[b]);
        }
        w.sample(desc().name + "_sum", desc().labels, values, s.sum);
        w.sample(desc().name + "_count", desc().labels, values, s.count);
    }
}

}  // namespace dermaga::metrics
