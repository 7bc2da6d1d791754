#include "meta/sqlite/connection.hpp"

#include <stdexcept>

#include "meta/meta_store.hpp"

namespace dermaga::meta::sqlite {

Connection::Connection(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        throw std::runtime_error("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    // WAL: readers never block the writer; synchronous=FULL makes every commit durable.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                               "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
        if (sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
            std::string msg = sqlite3_errmsg(db_);
            sqlite3_close(db_);
            throw std::runtime_error("SQLite " + std::string(pragma) + " failed: " + msg);
        }
    }
}

Connection::~Connection() {
    for (auto& [k, s] : cache_) {
        sqlite3_finalize(s);
    }
    sqlite3_close(db_);
}

Result<std::unique_ptr<Stmt>> Connection::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            return fail(errc::db_error, "prepare: " + last_error());
        }
        it = cache_.emplace(sql, s).first;
    }
    return std::make_unique<Stmt>(it->second);
}

Result<void> Connection::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown";
        sqlite3_free(err);
        return fail(errc::db_error, msg);
    }
    return {};
}

Pool::Pool(const std::string& path, std::size_t size)
    : writer_(std::make_unique<Connection>(path)), committer_(*writer_) {
    for (std::size_t i = 0; i < size; ++i) {
        free_.push_back(std::make_unique<Connection>(path));
    }
}

Pool::Lease Pool::acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    auto c = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(c));
}

void Pool::release(std::unique_ptr<Connection> c) {
    {
        std::lock_guard lock(mu_);
        free_.push_back(std::move(c));
    }
    cv_.notify_one();
}

void GroupCommitter::run(WriteJob& job) {
    std::unique_lock lock(mu_);
    queue_.push_back(&job);
    while (!job.finished && leader_active_) {
        cv_.wait(lock);
    }
    if (job.finished) {
        return;
    }
    // Lead: commit batches until our own job is in one, then hand over.
    leader_active_ = true;
    while (!job.finished) {
        std::vector<WriteJob*> batch;
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

void GroupCommitter::execute(const std::vector<WriteJob*>& batch) {
    const auto start = std::chrono::steady_clock::now();
    batch_size.observe(batch.size());
    auto fail_all = [&](const std::string& why) {
        failures.inc();
        Error e{make_error_code(errc::db_error), why};
        for (auto* j : batch) {
            j->fail(e);
        }
    };
    if (sqlite3_exec(writer_.raw(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        fail_all("begin: " + writer_.last_error());
        return;
    }
    for (auto* j : batch) {
        sqlite3_exec(writer_.raw(), "SAVEPOINT job", nullptr, nullptr, nullptr);
        bool keep = false;
        try {
            keep = j->run(writer_);
        } catch (const std::exception& e) {
            j->fail(Error{make_error_code(errc::db_error), e.what()});
        }
        if (!keep) {
            sqlite3_exec(writer_.raw(), "ROLLBACK TO job", nullptr, nullptr, nullptr);
        }
        sqlite3_exec(writer_.raw(), "RELEASE job", nullptr, nullptr, nullptr);
    }
    if (sqlite3_exec(writer_.raw(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        auto why = "commit: " + writer_.last_error();
        sqlite3_exec(writer_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
        fail_all(why);
    }
    commit_seconds.observe(metrics::nanos(std::chrono::steady_clock::now() - start));
}

Transaction::Transaction(Connection& c, Mode mode) : c_(c) {
    ok_ = sqlite3_exec(c_.raw(), mode == Mode::write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr,
                       nullptr) == SQLITE_OK;
}

Transaction::~Transaction() {
    if (ok_ && !done_) {
        sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

Result<void> Transaction::commit() {
    done_ = true;
    if (sqlite3_exec(c_.raw(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        auto msg = c_.last_error();
        sqlite3_exec(c_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
        return fail(errc::db_error, "commit: " + msg);
    }
    return {};
}

}  // namespace dermaga::meta::sqlite
