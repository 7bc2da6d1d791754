#pragma once
// Thin RAII over sqlite3: a connection with a prepared-statement cache, statements with typed
// binding, and a pool handing one connection to one thread at a time.

#include <sqlite3.h>

#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"
#include "metrics/metric.hpp"

namespace dermaga::meta::sqlite {

/// A prepared statement borrowed from a connection's cache; reset on destruction.
class Stmt {
public:
    explicit Stmt(sqlite3_stmt* s) : s_(s) {}
    ~Stmt() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::string_view v) {
        sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind_blob(int i, std::string_view v) {
        // A null pointer would bind NULL; an empty value must stay an empty blob.
        sqlite3_bind_blob(s_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(s_, i, v);
        return *this;
    }
    Stmt& bind_null(int i) {
        sqlite3_bind_null(s_, i);
        return *this;
    }
    /// SQLITE_ROW, SQLITE_DONE, or an error code.
    int step() { return sqlite3_step(s_); }
    std::int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
    std::string text(int col) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
    }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

private:
    sqlite3_stmt* s_;
};

class Connection {
public:
    /// Opens (creating) the database in WAL mode. Throws std::runtime_error (start-up only).
    explicit Connection(const std::string& path);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// A cached prepared statement for `sql` (keyed by text). Errors: errc::db_error.
    Result<std::unique_ptr<Stmt>> prepare(const char* sql);
    /// Runs statements without results. Errors: errc::db_error.
    Result<void> exec(std::string_view sql);
    sqlite3* raw() const noexcept { return db_; }
    std::string last_error() const { return sqlite3_errmsg(db_); }

private:
    sqlite3* db_ = nullptr;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

/// One unit of work for the writer: runs inside its own savepoint of a shared transaction.
struct WriteJob {
    /// Does the work; returns false to roll back this job's savepoint only.
    std::function<bool(Connection&)> run;
    /// Called instead when the work threw or the shared commit failed.
    std::function<void(const Error&)> fail;
    bool finished = false;
};

/// Group commit over the single writer connection. Concurrent writers queue their jobs; one of
/// them (the leader) runs everything queued in one transaction, each job in a savepoint, and
/// commits once: one WAL fsync for the whole batch instead of one per job. Blocks the caller
/// until its job is committed (or failed). Thread-safe.
class GroupCommitter {
public:
    explicit GroupCommitter(Connection& writer) : writer_(writer) {}
    void run(WriteJob& job);

    /// Each group commit, from BEGIN to COMMIT.
    metrics::Histogram commit_seconds{{"dermaga_db_commit_duration_seconds",
                                       "Write transactions (group commits) from BEGIN to COMMIT, in seconds.", {}},
                                      metrics::short_latency_buckets()};
    /// Writes per group commit.
    metrics::Histogram batch_size{{"dermaga_db_commit_batch_size", "Writes committed together in one transaction.", {}},
                                  metrics::power_of_two_buckets(256)};
    /// Group commits that failed as a whole (BEGIN or COMMIT: the disk or the database).
    metrics::Counter failures{{"dermaga_db_commit_failures", "Group commits that failed to begin or commit.", {}}};

private:
    void execute(const std::vector<WriteJob*>& batch);

    Connection& writer_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<WriteJob*> queue_;
    bool leader_active_ = false;
};

/// Fixed-size pool of reader connections plus the writer behind a GroupCommitter.
class Pool {
public:
    Pool(const std::string& path, std::size_t size);

    class Lease {
    public:
        Lease(Pool& p, std::unique_ptr<Connection> c) : pool_(p), conn_(std::move(c)) {}
        ~Lease() {
            if (conn_) {
                pool_.release(std::move(conn_));
            }
        }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Connection* operator->() const { return conn_.get(); }
        Connection& operator*() const { return *conn_; }

    private:
        Pool& pool_;
        std::unique_ptr<Connection> conn_;
    };

    /// A reader connection; blocks until one is free.
    Lease acquire();

    /// The writer's group commit (for its metrics).
    const GroupCommitter& committer() const noexcept { return committer_; }

    /// Runs f(Connection&) -> Result<T> as one atomic step of a group commit and returns its
    /// result once it is durable. A failed Result rolls back f's changes only.
    template <class T, class F>
    Result<T> write(F&& f) {
        std::optional<Result<T>> out;
        WriteJob job;
        job.run = [&](Connection& c) {
            out.emplace(f(c));
            return out->has_value();
        };
        job.fail = [&](const Error& e) { out.emplace(tl::unexpected(e)); };
        committer_.run(job);
        return std::move(*out);
    }

private:
    void release(std::unique_ptr<Connection> c);
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> free_;
    std::unique_ptr<Connection> writer_;
    GroupCommitter committer_;
};

/// A transaction that rolls back unless committed. BEGIN IMMEDIATE takes the write lock up
/// front so two writers never deadlock upgrading from read locks.
class Transaction {
public:
    enum class Mode { read, write };
    Transaction(Connection& c, Mode mode);
    ~Transaction();
    bool ok() const noexcept { return ok_; }
    Result<void> commit();

private:
    Connection& c_;
    bool ok_ = false;
    bool done_ = false;
};

}  // namespace dermaga::meta::sqlite
