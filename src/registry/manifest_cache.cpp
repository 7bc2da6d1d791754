#include "registry/manifest_cache.hpp"

namespace dermaga::registry {

namespace {
std::size_t cost(const meta::ManifestRecord& r, std::string_view reference) {
    return r.body.size() + r.digest.size() + r.media_type.size() + reference.size() + 64;
}
}  // namespace

ManifestCache::Entry ManifestCache::get(std::string_view repo, std::string_view reference) const {
    std::shared_lock lock(mu_);
    auto r = repos_.find(std::string(repo));
    if (r == repos_.end()) {
        return nullptr;
    }
    auto e = r->second.refs.find(std::string(reference));
    return e == r->second.refs.end() ? nullptr : e->second;
}

void ManifestCache::put(std::string_view repo, std::string_view reference, Entry entry, std::uint64_t generation) {
    if (max_bytes_ == 0) {
        return;
    }
    const std::size_t c = cost(*entry, reference);
    std::unique_lock lock(mu_);
    // A write happened after the caller read the database: its answer may be stale.
    if (generation != generation_.load(std::memory_order_acquire)) {
        return;
    }
    if (bytes_ + c > max_bytes_) {
        repos_.clear();  // crude but O(1) amortised; hot entries come back on the next pull
        bytes_ = 0;
    }
    auto [it, inserted] = repos_[std::string(repo)].refs.insert_or_assign(std::string(reference), std::move(entry));
    (void)it;
    if (inserted) {
        bytes_ += c;
    }
}

void ManifestCache::invalidate(std::string_view repo) {
    std::unique_lock lock(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    auto r = repos_.find(std::string(repo));
    if (r == repos_.end()) {
        return;
    }
    for (const auto& [ref, e] : r->second.refs) {
        bytes_ -= std::min(bytes_, cost(*e, ref));
    }
    repos_.erase(r);
}

}  // namespace dermaga::registry
