#include <exception>

#include "sql/sqlite/connection.hpp"
#include "sql/sqlite/sqlite.hpp"

namespace dermaga::sql::sqlite {


Database::Database(const std::string& path, std::size_t readers)
    : writer_(std::make_unique<SqliteConnection>(path)),
      committer_(std::make_unique<GroupCommitter>(*writer_, write_metrics_.commit_seconds, write_metrics_.batch_size,
                                                  write_metrics_.failures)) {
    for (std::size_t i = 0; i < std::max<std::size_t>(readers, 1); ++i) {
        free_.push_back(std::make_unique<SqliteConnection>(path));
    }
}

Database::~Database() = default;

const Dialect& Database::dialect() const { return sqlite_dialect(); }

std::unique_ptr<SqliteConnection> Database::acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    auto c = std::move(free_.back());
    free_.pop_back();
    return c;
}

void Database::release(std::unique_ptr<SqliteConnection> c) {
    {
        std::lock_guard lock(mu_);
        free_.push_back(std::move(c));
    }
    cv_.notify_one();
}

Result<void> Database::run_read(ReadMode mode, const std::function<void(Connection&)>& job) {
    auto c = acquire();
    struct Release {
        Database& db;
        std::unique_ptr<SqliteConnection>& c;
        ~Release() { db.release(std::move(c)); }
    } release{*this, c};
    if (mode == ReadMode::autocommit) {
        job(*c);
        return {};
    }
    // A deferred transaction on a WAL reader: one snapshot from the first read on.
    if (!c->control("BEGIN")) {
        return fail(errc::error, "begin: " + c->last_error());
    }
    try {
        job(*c);
    } catch (...) {
        c->control("ROLLBACK");
        throw;
    }
    c->control("COMMIT");
    return {};
}

Result<void> Database::run_write(Isolation, const std::function<bool(Connection&)>& job) {
    return committer_->run(job);
}

Result<void> GroupCommitter::run(const std::function<bool(Connection&)>& fn) {
    Job job{&fn, std::nullopt, false};
    std::unique_lock lock(mu_);
    queue_.push_back(&job);
    while (!job.finished && leader_active_) {
        cv_.wait(lock);
    }
    if (!job.finished) {
        // Lead: commit batches until our own job is in one, then hand over.
        leader_active_ = true;
        while (!job.finished) {
            std::vector<Job*> batch;
            batch.swap(queue_);
            lock.unlock();
            execute(batch);
            lock.lock();
            for (auto* j : batch) {
                j->finished = true;
            }
        }
        leader_active_ = false;
        cv_.notify_all();  // the finished, and one waiter to lead what queued meanwhile
    }
    if (job.failed) {
        return tl::unexpected(std::move(*job.failed));
    }
    return {};
}

void GroupCommitter::execute(const std::vector<Job*>& batch) {
    const auto start = std::chrono::steady_clock::now();
    batch_size_.observe(batch.size());
    auto fail_all = [&](const std::string& why) {
        failures_.inc();
        for (auto* j : batch) {
            j->failed = Error{make_error_code(errc::error), why};
        }
    };
    if (!writer_.control("BEGIN IMMEDIATE")) {
        fail_all("begin: " + writer_.last_error());
        return;
    }
    for (auto* j : batch) {
        writer_.control("SAVEPOINT job");
        bool keep = false;
        try {
            keep = (*j->run)(writer_);
        } catch (const std::exception& e) {
            j->failed = Error{make_error_code(errc::error), e.what()};
        }
        if (!keep) {
            writer_.control("ROLLBACK TO job");
        }
        writer_.control("RELEASE job");
    }
    if (!writer_.control("COMMIT")) {
        auto why = "commit: " + writer_.last_error();
        writer_.control("ROLLBACK");
        fail_all(why);
    }
    commit_seconds_.observe(metrics::nanos(std::chrono::steady_clock::now() - start));
}

}  // namespace dermaga::sql::sqlite
