#pragma once
// Thin RAII over sqlite3: a connection with a prepared-statement cache, statements with typed
// binding, and a pool handing one connection to one thread at a time.

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.hpp"

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
        sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
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

/// Fixed-size pool of reader connections plus one writer connection. acquire() blocks until a
/// reader is free; acquire_writer() until the writer is. Writers queue on our mutex, not on
/// SQLite's busy handler, which sleeps in steps of up to 100 ms when connections collide.
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

    Lease acquire();

    /// The writer connection, held exclusively while the WriteLease lives.
    class WriteLease {
    public:
        WriteLease(std::mutex& mu, Connection& c) : lock_(mu), conn_(c) {}
        Connection* operator->() const { return &conn_; }
        Connection& operator*() const { return conn_; }

    private:
        std::unique_lock<std::mutex> lock_;
        Connection& conn_;
    };

    WriteLease acquire_writer() { return WriteLease(writer_mu_, *writer_); }

private:
    void release(std::unique_ptr<Connection> c);
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Connection>> free_;
    std::mutex writer_mu_;
    std::unique_ptr<Connection> writer_;
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
