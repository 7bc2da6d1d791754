#include <random>
#include <stdexcept>
#include <thread>

#include "sql/postgres/connection.hpp"

namespace dermaga::sql::postgres {

namespace {

/// A short random pause before retrying a conflicting transaction, growing with each attempt,
/// so that the transactions that collided do not collide again in lockstep.
void back_off(int attempt) {
    thread_local std::minstd_rand rng{std::random_device{}()};
    const int ceiling_ms = 1 << std::min(attempt, 7);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (ceiling_ms * 1000) + 100));
}

}  // namespace

Result<void> check_dsn(const std::string& dsn) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
    if (!opts) {
        std::string why = err ? err : "out of memory";
        PQfreemem(err);
        while (!why.empty() && why.back() == '\n') {
            why.pop_back();
        }
        return fail(errc::error, why);
    }
    PQconninfoFree(opts);
    return {};
}

std::string describe_dsn(const std::string& dsn) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
    if (!opts) {
        PQfreemem(err);
        return "(unparseable)";
    }
    std::string out;
    for (auto* o = opts; o->keyword; ++o) {
        if (o->val && *o->val) {
            const bool secret = std::string_view(o->keyword) == "password";
            out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + (secret ? "(set)" : o->val);
        }
    }
    PQconninfoFree(opts);
    return out;
}

/// A connection lent by the pool, returned (or discarded when broken) on destruction.
class Database::Lease {
public:
    Lease(Database& db, std::unique_ptr<PgConnection> c) : db_(db), c_(std::move(c)) {}
    ~Lease() { db_.release(std::move(c_)); }
    PgConnection& operator*() const { return *c_; }

private:
    Database& db_;
    std::unique_ptr<PgConnection> c_;
};

Database::Database(Options options) : options_(std::move(options)) {
    if (auto ok = check_dsn(options_.dsn); !ok) {
        throw std::runtime_error("PostgreSQL connection string: " + ok.error().detail);
    }
    auto c = acquire();
    if (!c) {
        throw std::runtime_error("PostgreSQL: " + c.error().detail);
    }
    release(std::move(*c));
}

Database::~Database() = default;

const Dialect& Database::dialect() const { return postgres_dialect(); }

Result<std::unique_ptr<PgConnection>> Database::acquire() {
    std::unique_lock lock(mu_);
    const auto patience = options_.connect_timeout + options_.statement_timeout;
    if (!cv_.wait_for(lock, patience, [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
        return fail(errc::timeout, "all " + std::to_string(options_.pool_size) + " connections stayed busy");
    }
    if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
    }
    ++open_;
    lock.unlock();
    auto c = PgConnection::open(options_);
    if (!c) {
        lock.lock();
        --open_;
        cv_.notify_one();
    }
    return c;
}

void Database::release(std::unique_ptr<PgConnection> c) {
    std::vector<std::unique_ptr<PgConnection>> stale;  // closed outside the lock
    {
        std::lock_guard lock(mu_);
        if (!c->broken() && !c->in_transaction()) {
            idle_.push_back(std::move(c));
        } else if (!c->broken()) {
            --open_;  // left inside a transaction (its job threw): never lend it out again
            stale.push_back(std::move(c));
        } else {
            // A lost connection usually means the server restarted: the idle ones are lost
            // too, and would each cost a request a failed first try.
            if (!c->timed_out()) {
                stale.swap(idle_);
            }
            open_ -= 1 + stale.size();
            stale.push_back(std::move(c));
        }
    }
    cv_.notify_all();
}

Result<void> Database::run_read(ReadMode mode, const std::function<void(Connection&)>& job) {
    for (int attempt = 1;; ++attempt) {
        DERMAGA_TRY(conn, acquire());
        Lease lease(*this, std::move(conn));
        PgConnection& c = *lease;
        // A lost connection (the server restarted) gets one more try; a timeout does not.
        const bool again = attempt == 1;
        if (mode == ReadMode::snapshot) {
            if (auto b = c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !b) {
                if (c.broken() && !c.timed_out() && again) {
                    continue;
                }
                return b;
            }
        }
        job(c);
        if (mode == ReadMode::snapshot) {
            (void)c.exec("ROLLBACK");  // nothing to keep; a failure only matters if the connection broke
            c.end_transaction();
        }
        if (c.broken() && !c.timed_out() && again) {
            continue;
        }
        return {};
    }
}

Result<void> Database::run_write(Isolation isolation, const std::function<bool(Connection&)>& job) {
    const char* begin = isolation == Isolation::serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE" : "BEGIN";
    for (int attempt = 1;; ++attempt) {
        const bool may_retry = attempt < options_.max_attempts;
        DERMAGA_TRY(conn, acquire());
        Lease lease(*this, std::move(conn));
        PgConnection& c = *lease;
        const auto start = std::chrono::steady_clock::now();
        if (auto b = c.exec(begin); !b) {
            if (c.broken() && !c.timed_out() && may_retry) {
                continue;  // a stale pooled connection: nothing was done yet
            }
            write_metrics_.failures.inc();
            return b;
        }
        bool keep = false;
        try {
            keep = job(c);
        } catch (...) {
            (void)c.exec("ROLLBACK");
            c.end_transaction();
            throw;
        }
        if (keep) {
            auto committed = c.commit();
            const bool retry = c.wants_retry();
            c.end_transaction();
            if (committed) {
                write_metrics_.batch_size.observe(1);
                write_metrics_.commit_seconds.observe(metrics::nanos(std::chrono::steady_clock::now() - start));
                return committed;
            }
            if (!(retry && may_retry)) {
                // A connection lost during COMMIT leaves the outcome unknown: never run it twice.
                write_metrics_.failures.inc();
                return committed;
            }
        } else {
            (void)c.exec("ROLLBACK");
            // A lost connection rolled the transaction back: safe to run again.
            const bool retry = c.wants_retry() || (c.broken() && !c.timed_out());
            c.end_transaction();
            if (!(retry && may_retry)) {
                return {};  // the job's own failure is its result
            }
        }
        write_metrics_.retries.inc();
        back_off(attempt);
    }
}

}  // namespace dermaga::sql::postgres
