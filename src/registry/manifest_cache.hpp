#pragma once
// In-memory cache of manifests by (repository, tag or digest), so hot pulls skip the database
// and the blocking pool. Exact in single-node mode: every write path of this process
// invalidates it, and a generation counter keeps a read that raced a write from caching the
// old answer. With several nodes, other nodes' writes are not seen here: a max age bounds how
// long an entry is served after it was read from the database. Bounded by bytes; thread-safe;
// never blocks on I/O.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "meta/meta_store.hpp"
#include "metrics/metric.hpp"

namespace dermaga::registry {

class ManifestCache {
public:
    using Entry = std::shared_ptr<const meta::ManifestRecord>;
    using Instant = std::chrono::steady_clock::time_point;

    /// `max_age`: how long an entry is served after it was read from the database (nullopt:
    /// until this process invalidates it, exact when it is the only writer).
    explicit ManifestCache(std::size_t max_bytes,
                           std::optional<std::chrono::milliseconds> max_age = std::nullopt)
        : max_bytes_(max_bytes), max_age_(max_age) {}

    /// The cached manifest for `reference` in `repo`, or null (also once older than max_age).
    Entry get(std::string_view repo, std::string_view reference) const;
    /// Taken before the database lookup and passed to put(): the write generation and the time.
    struct Ticket {
        std::uint64_t generation;
        Instant at;
    };
    Ticket ticket() const noexcept {
        return {generation_.load(std::memory_order_acquire), std::chrono::steady_clock::now()};
    }
    /// Caches a database answer unless the cache was invalidated since `ticket` was taken.
    /// Its age counts from the ticket, so the bound holds however long the read took.
    void put(std::string_view repo, std::string_view reference, Entry entry, Ticket ticket);
    /// Drops everything cached for `repo` (any write to its manifests or tags).
    void invalidate(std::string_view repo);

    enum class Lookup { hit, miss };
    /// Pull lookups answered from memory (hit) or from the database (miss); Registry counts them.
    mutable metrics::Counter lookups{{"dermaga_manifest_cache_lookups",
                                      "Manifest pulls answered from the memory cache (hit) or the database (miss).",
                                      {{"result", {"hit", "miss"}}}}};

private:
    struct Cached {
        Entry entry;
        Instant read_at;  ///< when the database answered (before the read began)
    };
    struct Repo {
        std::unordered_map<std::string, Cached> refs;
    };
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, Repo> repos_;
    std::size_t bytes_ = 0;
    std::size_t max_bytes_;
    std::optional<std::chrono::milliseconds> max_age_;
    std::atomic<std::uint64_t> generation_{0};
};

}  // namespace dermaga::registry
