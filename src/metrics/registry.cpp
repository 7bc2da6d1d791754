#include "metrics/registry.hpp"

#include <algorithm>
#include <stdexcept>

namespace dermaga::metrics {

void Registry::claim(const std::string& name) {
    // The suffixes a histogram or counter family writes must not collide with another family.
    if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
        throw std::invalid_argument("metric " + name + " is registered twice");
    }
    names_.push_back(name);
}

void Registry::add(const Instrument& instrument) {
    std::lock_guard lock(mu_);
    claim(instrument.desc().name);
    writers_.emplace_back([&instrument](Writer& w) { instrument.write(w); });
}

template <class T>
T& Registry::keep(std::unique_ptr<T> owned) {
    auto& ref = *owned;
    add(ref);
    std::lock_guard lock(mu_);
    owned_.push_back(std::move(owned));
    return ref;
}

Counter& Registry::counter(Desc d) { return keep(std::make_unique<Counter>(std::move(d))); }

Gauge& Registry::gauge(Desc d) { return keep(std::make_unique<Gauge>(std::move(d))); }

Histogram& Registry::histogram(Desc d, Buckets b) {
    return keep(std::make_unique<Histogram>(std::move(d), std::move(b)));
}

void Registry::add_read(Desc d, Type type, std::function<double()> read) {
    validate(d, type);
    if (!d.labels.empty()) {
        throw std::invalid_argument("metric " + d.name +
                                    ": a read value has no labels (use add_collector)");
    }
    std::lock_guard lock(mu_);
    claim(d.name);
    writers_.emplace_back([d = std::move(d), type, read = std::move(read)](Writer& w) {
        w.family(d.name, d.help, type);
        w.sample(d.name, {}, read());
    });
}

void Registry::add_gauge(Desc d, std::function<double()> read) {
    add_read(std::move(d), Type::gauge, std::move(read));
}

void Registry::add_counter(Desc d, std::function<double()> read) {
    if (!d.name.ends_with("_total")) {
        d.name += "_total";
    }
    add_read(std::move(d), Type::counter, std::move(read));
}

void Registry::add_collector(std::vector<std::string> names, std::function<void(Writer&)> write) {
    std::lock_guard lock(mu_);
    for (auto& n : names) {
        validate(Desc{n, {}, {}}, Type::gauge);
        claim(n);
    }
    writers_.push_back(std::move(write));
}

std::string Registry::expose() const {
    std::string out;
    out.reserve(16 * 1024);
    Writer w(out);
    std::lock_guard lock(mu_);
    for (const auto& write : writers_) {
        write(w);
    }
    return out;
}

}  // namespace dermaga::metrics
