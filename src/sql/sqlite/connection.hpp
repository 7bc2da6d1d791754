#pragma once
// The SQLite engine's connection and statement: thin RAII over sqlite3. Internal to sql/sqlite.

#include <sqlite3.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "sql/sql.hpp"

namespace dermaga::sql::sqlite {

class SqliteStatement final : public Statement {
public:
    SqliteStatement(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    ~SqliteStatement() override { sqlite3_finalize(s_); }

    Statement& bind(int i, std::string_view v) override;
    Statement& bind(int i, std::int64_t v) override;
    Statement& bind_blob(int i, std::string_view v) override;
    Statement& bind_null(int i) override;
    Result<bool> step() override;
    std::int64_t int64(int col) const override { return sqlite3_column_int64(s_, col); }
    std::string text(int col) const override;
    bool is_null(int col) const override { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
    Kind kind(int col) const override;
    int column_count() const override { return sqlite3_column_count(s_); }
    std::string column_name(int col) const override { return sqlite3_column_name(s_, col); }
    std::int64_t changes() const override { return sqlite3_changes64(db_); }

private:
    void reset() override;
    /// Before a bind: a statement that ran is reset, keeping its other bindings.
    void rerun();
    sqlite3* db_;
    sqlite3_stmt* s_;
    bool stepped_ = false;
};

class SqliteConnection final : public Connection {
public:
    /// Opens (creating) the database in WAL mode. Throws std::runtime_error (start-up only).
    explicit SqliteConnection(const std::string& path);
    ~SqliteConnection() override;
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    Result<Stmt> prepare(const char* sql) override;
    Result<void> exec(std::string_view sql) override;
    Result<void> allow_long_statements(std::chrono::seconds) override { return {}; }
    const Dialect& dialect() const override;

    /// Runs transaction control that cannot fail in normal operation; false when it did.
    bool control(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }
    std::string last_error() const { return sqlite3_errmsg(db_); }

private:
    sqlite3* db_ = nullptr;
    std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> cache_;
};

/// The sql::errc of a failed SQLite call, with its message.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);

}  // namespace dermaga::sql::sqlite
