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
    if (e == r->second.refs.end()) {
        return nullptr;
    }
    if (max_age_ && std::chrono::steady_clock::now() - e->second.read_at >= *max_age_) {
        return nullptr;  // another node may have changed it; the next read replaces it
    }
    return e->second.entry;
}

void ManifestCache::put(std::string_view repo, std::string_view reference, Entry entry,
                        Ticket ticket) {
    if (max_bytes_ == 0 || (max_age_ && max_age_->count() == 0)) {
        return;
    }
    const std::size_t c = cost(*entry, reference);
    std::unique_lock lock(mu_);
    // A write happened after the caller read the database: its answer may be stale.
    if (ticket.generation != generation_.load(std::memory_order_acquire)) {
        return;
    }
    if (bytes_ + c > max_bytes_) {
        repos_.clear();  // crude but O(1) amortised; hot entries come back on the next pull
        bytes_ = 0;
    }
    auto [it, inserted] = repos_[std::string(repo)].refs.insert_or_assign(
        std::string(reference), Cached{std::move(entry), ticket.at});
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
        bytes_ -= std::min(bytes_, cost(*e.entry, ref));
    }
    repos_.erase(r);
}

}  // namespace dermaga::registry
