#pragma once
// The audit trail's writer. Entries are queued without blocking and stored by one background
// thread, everything queued while the previous batch was committing going in one transaction,
// so auditing every mutation costs the request path a queue push. flush() and the destructor
// store everything queued.

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "meta/auth_store.hpp"

namespace dermaga::auth {

class AuditLog {
public:
    explicit AuditLog(meta::AuthStore& store);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    /// Queues an entry; `at` (Unix ms) is filled in when 0. Thread-safe, never blocks on I/O.
    void record(meta::AuditRow row);
    /// Blocks until every entry recorded before the call is stored.
    void flush();

private:
    void run();
    meta::AuthStore& store_;
    std::mutex mu_;
    std::condition_variable cv_, flushed_;
    std::vector<meta::AuditRow> queue_;
    std::uint64_t queued_ = 0, stored_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace dermaga::auth
