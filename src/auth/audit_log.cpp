#include "auth/audit_log.hpp"

#include <chrono>
#include <cstdint>

#include "core/log.hpp"

namespace dermaga::auth {

AuditLog::AuditLog(meta::AuthStore& store) : store_(store), thread_([this] { run(); }) {}

AuditLog::~AuditLog() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void AuditLog::record(meta::AuditRow row) {
    if (row.at == 0) {
        row.at = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    }
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(row));
    ++queued_;
    cv_.notify_one();
}

void AuditLog::flush() {
    std::unique_lock lock(mu_);
    const auto target = queued_;
    cv_.notify_one();
    flushed_.wait(lock, [&] { return stored_ >= target; });
}

void AuditLog::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
            if (stop_) {
                return;
            }
            continue;
        }
        auto batch = std::move(queue_);
        queue_.clear();
        lock.unlock();
        if (auto r = store_.append_audit(batch); !r) {
            log::error("audit_write_failed", {{"error", r.error().detail}, {"entries", static_cast<std::uint64_t>(batch.size())}});
        }
        lock.lock();
        stored_ += batch.size();
        flushed_.notify_all();
    }
}

}  // namespace dermaga::auth
