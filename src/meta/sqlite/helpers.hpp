#pragma once
// Small helpers shared by the SQLite stores. Internal to meta/sqlite.

#include <optional>
#include <string>
#include <string_view>

#include "meta/meta_store.hpp"
#include "meta/sqlite/connection.hpp"

namespace dermaga::meta::sqlite {

inline tl::unexpected<Error> db_fail(Connection& c, std::string_view what) {
    return fail(errc::db_error, std::string(what) + ": " + c.last_error());
}

#define PREPARE(var, conn, sql)                     \
    auto var##_p = (conn).prepare(sql);             \
    if (!var##_p) {                                 \
        return tl::unexpected(var##_p.error());     \
    }                                               \
    ::dermaga::meta::sqlite::Stmt& var = **var##_p

#define BEGIN_TX(tx, conn, mode)                                            \
    ::dermaga::meta::sqlite::Transaction tx((conn), ::dermaga::meta::sqlite::Transaction::Mode::mode); \
    if (!tx.ok()) {                                                         \
        return ::dermaga::meta::sqlite::db_fail((conn), "begin");           \
    }

/// Runs a statement that returns no rows. Errors: errc::db_error naming `what`.
inline Result<void> exec_stmt(Connection& c, Stmt& s, const char* what) {
    if (s.step() != SQLITE_DONE) {
        return db_fail(c, what);
    }
    return {};
}

/// Steps through every row, calling row(s) for each. Errors: errc::db_error naming `what`.
template <class F>
Result<void> each_row(Connection& c, Stmt& s, const char* what, F&& row) {
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        row(s);
    }
    if (rc != SQLITE_DONE) {
        return db_fail(c, what);
    }
    return {};
}

/// Runs a single-row SELECT, reading the row with read(s); nullopt when there is none.
template <class T, class F>
Result<std::optional<T>> one_row(Connection& c, Stmt& s, const char* what, F&& read) {
    int rc = s.step();
    if (rc == SQLITE_ROW) {
        return std::optional<T>(read(s));
    }
    if (rc == SQLITE_DONE) {
        return std::optional<T>();
    }
    return db_fail(c, what);
}

/// Whether the last statement failed on a constraint (UNIQUE, CHECK, ...).
inline bool constraint_failed(Connection& c) {
    return (sqlite3_errcode(c.raw()) & 0xff) == SQLITE_CONSTRAINT;
}

/// Reads up to n names from a statement that selects n + 1 rows; the extra row only says
/// whether a further page exists.
inline Result<Page> read_page(Connection& c, Stmt& s, std::size_t n, const char* what) {
    Page page;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        if (page.names.size() == n) {
            page.more = true;
            break;
        }
        page.names.push_back(s.text(0));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return db_fail(c, what);
    }
    return page;
}

}  // namespace dermaga::meta::sqlite
