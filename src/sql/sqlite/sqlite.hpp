#pragma once
// The embedded engine: one SQLite file in WAL mode, a pool of reader connections that read in
// parallel, and one writer connection behind a GroupCommitter.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sql/sql.hpp"

namespace dermaga::sql::sqlite {

class SqliteConnection;

/// SQLite's dialect (no database needed).
const Dialect& sqlite_dialect();

/// Group commit over the single writer connection. Concurrent writers queue their jobs; one of
/// them (the leader) runs everything queued in one transaction, each job in a savepoint (a
/// failed job rolls back only itself), and commits once: one WAL fsync for the whole batch
/// instead of one per job. Blocks the caller until its job is committed (or failed).
/// Thread-safe.
class GroupCommitter {
public:
    /// Records each commit in `commit_seconds`, `batch_size` and `failures`.
    GroupCommitter(SqliteConnection& writer, metrics::Histogram& commit_seconds, metrics::Histogram& batch_size,
                   metrics::Counter& failures)
        : writer_(writer), commit_seconds_(commit_seconds), batch_size_(batch_size), failures_(failures) {}
    /// Runs job(writer) in the next batch. Errors: the batch's begin or commit failed, or the
    /// job threw.
    Result<void> run(const std::function<bool(Connection&)>& job);

private:
    struct Job {
        const std::function<bool(Connection&)>* run;
        std::optional<Error> failed;
        bool finished = false;
    };
    void execute(const std::vector<Job*>& batch);

    SqliteConnection& writer_;
    metrics::Histogram& commit_seconds_;
    metrics::Histogram& batch_size_;
    metrics::Counter& failures_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Job*> queue_;
    bool leader_active_ = false;
};

class Database final : public sql::Database {
public:
    /// Opens or creates `path` with `readers` reader connections and one writer. Throws
    /// std::runtime_error with a one-line reason (start-up only).
    Database(const std::string& path, std::size_t readers);
    ~Database() override;

    const Dialect& dialect() const override;

protected:
    Result<void> run_read(ReadMode mode, const std::function<void(Connection&)>& job) override;
    /// Isolation is moot: the single writer makes every write serializable.
    Result<void> run_write(Isolation isolation, const std::function<bool(Connection&)>& job) override;

private:
    std::unique_ptr<SqliteConnection> acquire();
    void release(std::unique_ptr<SqliteConnection> c);

    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<SqliteConnection>> free_;
    std::unique_ptr<SqliteConnection> writer_;
    std::unique_ptr<GroupCommitter> committer_;
};

}  // namespace dermaga::sql::sqlite
