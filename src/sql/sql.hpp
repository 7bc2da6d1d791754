#pragma once
// The thin SQL layer under the stores: a Database hands out Connections for reads and runs
// write transactions; a Connection prepares (and caches) Statements; a Statement binds values
// and steps through rows. Statements are written once in portable SQL (see README.md) and
// adapted to each engine by its Dialect. Engines: sqlite/ (embedded) and postgres/.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.hpp"
#include "metrics/metric.hpp"

namespace dermaga::metrics {
class Registry;
}

namespace dermaga::sql {

enum class errc {
    error = 1,    ///< any other failure: bad SQL, a type mismatch, a damaged database
    constraint,   ///< a UNIQUE, CHECK, NOT NULL or foreign-key constraint refused the change
    retry,        ///< serialization failure or deadlock: the transaction may succeed if run again
    unavailable,  ///< the database cannot be reached (connect failed, connection lost)
    timeout,      ///< a connect, statement or lock wait ran past its deadline
};
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// Isolation of a write transaction. SQLite runs every write behind one writer, so both are
/// serializable there; PostgreSQL uses them as named. See docs/architecture.md.
enum class Isolation { read_committed, serializable };

class Dialect;

/// A prepared statement owned by its connection's cache. Bind parameters (1-based, `?N` in the
/// SQL), then step() through the rows. Binding again after a step starts a new run (the other
/// parameters keep their values). Not thread-safe: it belongs to one connection, which
/// belongs to one thread at a time.
class Statement {
public:
    enum class Kind { null, integer, text, blob };

    virtual ~Statement() = default;
    virtual Statement& bind(int i, std::string_view text) = 0;
    virtual Statement& bind(int i, std::int64_t v) = 0;
    /// Bytes (may contain NULs; empty stays an empty value, not NULL).
    virtual Statement& bind_blob(int i, std::string_view bytes) = 0;
    virtual Statement& bind_null(int i) = 0;
    /// Runs the statement on the first call, then moves to the next row: true while a row is
    /// current, false when done. Errors: sql::errc.
    virtual Result<bool> step() = 0;
    /// Columns of the current row (0-based). int64 of NULL is 0; text of NULL is "".
    virtual std::int64_t int64(int col) const = 0;
    /// Text or blob bytes.
    virtual std::string text(int col) const = 0;
    virtual bool is_null(int col) const = 0;
    virtual Kind kind(int col) const = 0;
    virtual int column_count() const = 0;
    virtual std::string column_name(int col) const = 0;
    /// Rows inserted, updated or deleted by the statement, once step() returned false.
    virtual std::int64_t changes() const = 0;

protected:
    friend class Stmt;
    /// Forgets bindings and results so the next user starts afresh.
    virtual void reset() = 0;
};

/// A statement borrowed from the cache for one use; resets it when destroyed.
class Stmt {
public:
    explicit Stmt(Statement* s) : s_(s) {}
    Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt() {
        if (s_) {
            s_->reset();
        }
    }
    Statement& operator*() const { return *s_; }
    Statement* operator->() const { return s_; }

private:
    Statement* s_;
};

/// One database session. Used by one thread at a time (the Database hands it out).
class Connection {
public:
    virtual ~Connection() = default;
    /// The cached statement for portable `sql`, keyed by the pointer: pass text with static
    /// storage. Errors: sql::errc (PostgreSQL reports SQL errors at the first step instead).
    virtual Result<Stmt> prepare(const char* sql) = 0;
    /// Runs `sql` (one or more statements, no parameters, results ignored) exactly as written:
    /// engine-specific text, for migrations and transaction control. Errors: sql::errc.
    virtual Result<void> exec(std::string_view sql) = 0;
    /// Allows statements up to `limit` until the current transaction ends (migrations, bulk
    /// copies); the configured statement timeout applies again afterwards.
    virtual Result<void> allow_long_statements(std::chrono::seconds limit) = 0;
    virtual const Dialect& dialect() const = 0;
};

/// A pool of connections to one database, with the write discipline of its engine. Every
/// method blocks (call through run_blocking) and is thread-safe.
class Database {
public:
    virtual ~Database() = default;
    virtual const Dialect& dialect() const = 0;

    /// Shows the write metrics in `registry`: commit latency, writes per commit, commits that
    /// failed, and transactions run again after a conflict.
    void register_metrics(metrics::Registry& registry) const;

    /// Runs f(Connection&) -> Result<T> on a reader connection; each statement sees the latest
    /// committed data. A read that lost its connection is run once more on a fresh one.
    template <class T, class F>
    Result<T> read(F&& f) {
        return run_read_as<T>(ReadMode::autocommit, f);
    }
    /// Like read(), but every statement of f sees one snapshot (a read-only transaction).
    template <class T, class F>
    Result<T> snapshot(F&& f) {
        return run_read_as<T>(ReadMode::snapshot, f);
    }
    /// Runs f(Connection&) -> Result<T> as one atomic write and returns once it is durable. A
    /// failed Result rolls f's changes back. f may run more than once: a serialization failure
    /// or deadlock is retried a bounded number of times, so f must have no effects outside
    /// the database.
    template <class T, class F>
    Result<T> write(F&& f, Isolation isolation = Isolation::read_committed) {
        std::optional<Result<T>> out;
        auto r = run_write(isolation, [&](Connection& c) {
            out.emplace(f(c));
            return out->has_value();
        });
        if (!r) {
            return tl::unexpected(std::move(r.error()));
        }
        return std::move(*out);
    }

protected:
    /// Recorded by the engines.
    struct WriteMetrics {
        /// Each commit (SQLite: each group commit) from BEGIN to COMMIT.
        metrics::Histogram commit_seconds{
            {"dermaga_db_commit_duration_seconds", "Write transactions (group commits) from BEGIN to COMMIT, in seconds.", {}},
            metrics::short_latency_buckets()};
        /// Writes per commit (always 1 on PostgreSQL).
        metrics::Histogram batch_size{{"dermaga_db_commit_batch_size", "Writes committed together in one transaction.", {}},
                                      metrics::power_of_two_buckets(256)};
        /// Commits that failed as a whole (BEGIN or COMMIT: the disk or the database).
        metrics::Counter failures{{"dermaga_db_commit_failures", "Group commits that failed to begin or commit.", {}}};
        /// Transactions rolled back and run again after a serialization failure or deadlock.
        metrics::Counter retries{{"dermaga_db_transaction_retries",
                                  "Write transactions run again after a serialization failure or deadlock.", {}}};
    };
    WriteMetrics write_metrics_;

    enum class ReadMode { autocommit, snapshot };
    /// Runs job once on a reader connection (more than once only if the connection was lost).
    virtual Result<void> run_read(ReadMode mode, const std::function<void(Connection&)>& job) = 0;
    /// Runs job in a write transaction: commits when it returns true, rolls back when false.
    /// Errors: begin or commit failed (sql::errc); a failed job is not an error here.
    virtual Result<void> run_write(Isolation isolation, const std::function<bool(Connection&)>& job) = 0;

private:
    template <class T, class F>
    Result<T> run_read_as(ReadMode mode, F& f) {
        std::optional<Result<T>> out;
        auto r = run_read(mode, [&](Connection& c) { out.emplace(f(c)); });
        if (!r) {
            return tl::unexpected(std::move(r.error()));
        }
        return std::move(*out);
    }
};

}  // namespace dermaga::sql

template <>
struct std::is_error_code_enum<dermaga::sql::errc> : std::true_type {};
