#include "sql/sqlite/connection.hpp"

#include <stdexcept>

#include "sql/dialect.hpp"
#include "sql/sqlite/sqlite.hpp"

namespace dermaga::sql::sqlite {


Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
    errc code = errc::error;
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT: code = errc::constraint; break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED: code = errc::timeout; break;
        case SQLITE_CANTOPEN:
        case SQLITE_IOERR:
        case SQLITE_FULL: code = errc::unavailable; break;
        default: break;
    }
    return Error{make_error_code(code), std::string(what) + ": " + sqlite3_errmsg(db)};
}

Statement& SqliteStatement::bind(int i, std::string_view v) {
    rerun();
    sqlite3_bind_text(s_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& SqliteStatement::bind(int i, std::int64_t v) {
    rerun();
    sqlite3_bind_int64(s_, i, v);
    return *this;
}

Statement& SqliteStatement::bind_blob(int i, std::string_view v) {
    rerun();
    // A null pointer would bind NULL; an empty value must stay an empty blob.
    sqlite3_bind_blob(s_, i, v.data() ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& SqliteStatement::bind_null(int i) {
    rerun();
    sqlite3_bind_null(s_, i);
    return *this;
}

void SqliteStatement::rerun() {
    if (stepped_) {
        sqlite3_reset(s_);
        stepped_ = false;
    }
}

Result<bool> SqliteStatement::step() {
    stepped_ = true;
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return tl::unexpected(sqlite_error(db_, rc, "step"));
}

std::string SqliteStatement::text(int col) const {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
}

Statement::Kind SqliteStatement::kind(int col) const {
    switch (sqlite3_column_type(s_, col)) {
        case SQLITE_INTEGER: return Kind::integer;
        case SQLITE_TEXT: return Kind::text;
        case SQLITE_NULL: return Kind::null;
        default: return Kind::blob;  // REAL never occurs in our schema
    }
}

void SqliteStatement::reset() {
    stepped_ = false;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
}

SqliteConnection::SqliteConnection(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        throw std::runtime_error("cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
    // WAL: readers never block the writer; synchronous=FULL makes every commit durable.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
                               "PRAGMA temp_store=MEMORY"}) {
        if (sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr) != SQLITE_OK) {
            std::string msg = sqlite3_errmsg(db_);
            sqlite3_close(db_);
            throw std::runtime_error("SQLite " + std::string(pragma) + " failed on " + path + ": " + msg);
        }
    }
}

SqliteConnection::~SqliteConnection() {
    cache_.clear();  // finalize every statement before closing
    sqlite3_close(db_);
}

const Dialect& SqliteConnection::dialect() const { return sqlite_dialect(); }

Result<Stmt> SqliteConnection::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        const std::string text = dialect().statement(sql);
        sqlite3_stmt* s = nullptr;
        int rc = sqlite3_prepare_v3(db_, text.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) {
            return tl::unexpected(sqlite_error(db_, rc, "prepare"));
        }
        it = cache_.emplace(sql, std::make_unique<SqliteStatement>(db_, s)).first;
    }
    return Stmt(it->second.get());
}

Result<void> SqliteConnection::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errmsg(db_);
        sqlite3_free(err);
        auto e = sqlite_error(db_, rc, "exec");
        e.detail = "exec: " + msg;
        return tl::unexpected(std::move(e));
    }
    return {};
}

}  // namespace dermaga::sql::sqlite
