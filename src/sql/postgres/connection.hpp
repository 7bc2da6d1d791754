#pragma once
// The PostgreSQL engine's connection and statement over libpq's asynchronous API, so that every
// round trip waits under a deadline. Internal to sql/postgres.

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sql/postgres/postgres.hpp"

namespace dermaga::sql::postgres {

struct ResultDeleter {
    void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

class PgConnection;

/// A statement prepared on the server under its own name at its first run, with parameter
/// types taken from the values bound then (int8, text, bytea; NULL left to the server).
/// Parameters travel and results come back in binary format.
class PgStatement final : public Statement {
public:
    PgStatement(PgConnection& conn, std::string text, int params, std::uint64_t used);

    Statement& bind(int i, std::string_view v) override;
    Statement& bind(int i, std::int64_t v) override;
    Statement& bind_blob(int i, std::string_view v) override;
    Statement& bind_null(int i) override;
    Result<bool> step() override;
    std::int64_t int64(int col) const override;
    std::string text(int col) const override;
    bool is_null(int col) const override { return PQgetisnull(result_.get(), row_, col) != 0; }
    Kind kind(int col) const override;
    int column_count() const override { return PQnfields(result_.get()); }
    std::string column_name(int col) const override { return PQfname(result_.get(), col); }
    std::int64_t changes() const override;

private:
    void reset() override;
    /// Before a bind: a statement that ran forgets its result, keeping its other bindings.
    void rerun();
    void set(int i, std::string bytes, Oid type);
    Result<void> ensure_prepared();

    PgConnection& conn_;
    const std::string text_;
    const int params_;
    const std::uint64_t used_;
    std::string name_;         ///< server-side name; empty until prepared
    std::vector<Oid> types_;   ///< as prepared
    std::vector<std::string> values_;
    std::vector<Oid> bound_;   ///< type of each bound value; 0 for NULL
    std::vector<char> null_;
    PgResult result_;
    int row_ = -1;
    bool ran_ = false;
};

class PgConnection final : public Connection {
public:
    /// Connects under options.connect_timeout and sets the session's timeouts. Errors:
    /// errc::unavailable, errc::timeout.
    static Result<std::unique_ptr<PgConnection>> open(const Options& options);
    ~PgConnection() override;
    PgConnection(const PgConnection&) = delete;
    PgConnection& operator=(const PgConnection&) = delete;

    Result<Stmt> prepare(const char* sql) override;
    Result<void> exec(std::string_view sql) override;
    Result<void> allow_long_statements(std::chrono::seconds limit) override;
    const Dialect& dialect() const override;

    /// Commits; a transaction that had already failed (the server answers ROLLBACK) is an error.
    Result<void> commit();
    /// Restores per-transaction settings; call when a transaction ended either way.
    void end_transaction();
    /// The connection is lost or in an unknown state: discard it.
    bool broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }
    /// The server stopped answering within the deadline. Not worth another try: a dead
    /// database must answer fast.
    bool timed_out() const { return timed_out_; }
    /// Whether a transaction is still open (a job that threw): such a connection is discarded.
    bool in_transaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }
    /// A statement met a serialization failure or deadlock since the transaction began.
    bool wants_retry() const { return retry_; }

    /// Sends a prepared execution or preparation (already queued on the socket) and waits for
    /// its result under the round-trip deadline. Used by PgStatement.
    Result<PgResult> await(std::string_view what);
    PGconn* raw() const { return conn_; }
    std::string next_name() { return "d" + std::to_string(++names_); }

private:
    PgConnection(PGconn* c, const Options& o);
    Error failure(const PGresult* r, std::string_view what);
    Error lost(std::string_view what);

    PGconn* conn_;
    const std::chrono::milliseconds statement_timeout_;
    std::chrono::milliseconds round_trip_;  ///< client-side deadline of one round trip
    std::unordered_map<const char*, std::unique_ptr<PgStatement>> cache_;
    int names_ = 0;
    bool broken_ = false;
    bool timed_out_ = false;
    bool retry_ = false;
};

}  // namespace dermaga::sql::postgres
