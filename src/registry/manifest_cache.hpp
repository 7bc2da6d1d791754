#pragma once
// In-memory cache of manifests by (repository, tag or digest), so hot pulls skip the database
// and the blocking pool. Exact in single-node mode: every write path of this process
// invalidates it, and a generation counter keeps a read that raced a write from caching the
// old answer. Bounded by bytes; thread-safe; never blocks on I/O.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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

    explicit ManifestCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    /// The cached manifest for `reference` in `repo`, or null.
    Entry get(std::string_view repo, std::string_view reference) const;
    /// Read this before the database lookup and pass it to put().
    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }
    /// Caches a database answer unless the cache was invalidated since `generation`.
    void put(std::string_view repo, std::string_view reference, Entry entry, std::uint64_t generation);
    /// Drops everything cached for `repo` (any write to its manifests or tags).
    void invalidate(std::string_view repo);

    enum class Lookup { hit, miss };
    /// Pull lookups answered from memory (hit) or from the database (miss); Registry counts them.
    mutable metrics::Counter lookups{{"dermaga_manifest_cache_lookups",
                                      "Manifest pulls answered from the memory cache (hit) or the database (miss).",
                                      {{"result", {"hit", "miss"}}}}};

private:
    struct Repo {
        std::unordered_map<std::string, Entry> refs;
    };
    mutable std::shared_mutex mu_;
    std::unordered_map<std::string, Repo> repos_;
    std::size_t bytes_ = 0;
    std::size_t max_bytes_;
    std::atomic<std::uint64_t> generation_{0};
};

}  // namespace dermaga::registry
