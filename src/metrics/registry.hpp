#pragma once
// Registry: the metric families one /metrics page shows, in registration order. There is no
// global registry: app/ makes one and registers what each module measures.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metric.hpp"
#include "metrics/writer.hpp"

namespace dermaga::metrics {

/// Registration and expose() are thread-safe. Every name may be registered once; a second one
/// throws std::invalid_argument (a bug, found at start-up).
class Registry {
public:
    Registry() = default;
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// Shows an instrument owned elsewhere (typically by the object it measures). It must
    /// outlive every later expose() call.
    void add(const Instrument& instrument);

    /// Instruments the registry owns, for measurements that have no better owner.
    Counter& counter(Desc d);
    Gauge& gauge(Desc d);
    Histogram& histogram(Desc d, Buckets b);

    /// A label-less value read when scraped. `read` runs on the scraping thread (in Dermaga a
    /// blocking-pool thread): keep it cheap — an atomic, a cached value, a quick local check.
    void add_gauge(Desc d, std::function<double()> read);
    void add_counter(Desc d, std::function<double()> read);

    /// Families written by `write` when scraped (labelled values read at scrape time, such as
    /// cached store counts). `names` are the family names it writes, for the uniqueness check.
    void add_collector(std::vector<std::string> names, std::function<void(Writer&)> write);

    /// The exposition of every family, text format 0.0.4 (see writer.hpp for Content-Type).
    std::string expose() const;

private:
    void claim(const std::string& name);
    void add_read(Desc d, Type type, std::function<double()> read);
    template <class T>
    T& keep(std::unique_ptr<T> owned);
    mutable std::mutex mu_;
    std::vector<std::string> names_;
    std::vector<std::function<void(Writer&)>> writers_;
    std::vector<std::unique_ptr<Instrument>> owned_;
};

}  // namespace dermaga::metrics
