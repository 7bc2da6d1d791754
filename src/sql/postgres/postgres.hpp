#pragma once
// The engine for many nodes: PostgreSQL through libpq. A bounded pool of connections opened on
// demand; statements prepared by name per connection; every round trip under a deadline so a
// dead or unreachable database answers fast; serialization failures and deadlocks retried.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sql/sql.hpp"

namespace dermaga::sql::postgres {

struct Options {
    std::string dsn;              ///< libpq connection string or URI
    std::size_t pool_size = 16;   ///< connections at most (opened when needed)
    std::chrono::milliseconds connect_timeout{5000};
    /// Server-side statement_timeout and idle_in_transaction_session_timeout; the client gives
    /// up on a round trip one second after it.
    std::chrono::milliseconds statement_timeout{10000};
    int max_attempts = 6;  ///< tries of a write that keeps meeting serialization failures
};

/// Checks that `dsn` parses as a libpq connection string (opens nothing). Errors: sql::errc::error
/// with libpq's reason.
Result<void> check_dsn(const std::string& dsn);

/// `dsn` for logs and check-config: its settings as key=value, a password replaced by "(set)".
std::string describe_dsn(const std::string& dsn);

/// PostgreSQL's dialect (no database needed).
const Dialect& postgres_dialect();

class PgConnection;

class Database final : public sql::Database {
public:
    /// Connects once to check the database answers. Throws std::runtime_error with a one-line
    /// reason when it does not (start-up only).
    explicit Database(Options options);
    ~Database() override;

    const Dialect& dialect() const override;

protected:
    Result<void> run_read(ReadMode mode, const std::function<void(Connection&)>& job) override;
    Result<void> run_write(Isolation isolation, const std::function<bool(Connection&)>& job) override;

private:
    class Lease;
    Result<std::unique_ptr<PgConnection>> acquire();
    void release(std::unique_ptr<PgConnection> c);

    const Options options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<PgConnection>> idle_;
    std::size_t open_ = 0;  ///< connections idle or lent out
};

}  // namespace dermaga::sql::postgres
