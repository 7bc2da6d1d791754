#pragma once
// Helpers shared by the SQL stores: statement errors become meta::errc::db_error naming what
// failed, and rows are read into values. Internal to meta/.

#include <optional>
#include <string>
#include <string_view>

#include "meta/meta_store.hpp"
#include "sql/sql.hpp"

namespace dermaga::meta::detail {

using sql::Connection;
using sql::Isolation;
using sql::Statement;

/// errc::db_error naming `what`, with the database's reason.
inline tl::unexpected<Error> db_fail(const Error& e, std::string_view what) {
    return fail(errc::db_error, std::string(what) + ": " + e.detail);
}

/// Whether a statement failed on a UNIQUE, CHECK, NOT NULL or foreign-key constraint.
inline bool is_constraint(const Error& e) { return e.code == sql::errc::constraint; }

/// Errors of the layer itself (begin, commit, an unreachable database) in the store's terms;
/// the store's own errors pass unchanged.
template <class T>
Result<T> store_result(Result<T> r) {
    if (!r && r.error().code.category() == sql::category()) {
        return fail(errc::db_error, r.error().detail);
    }
    return r;
}

/// f(Connection&) -> Result<T> as one write transaction (see sql::Database::write).
template <class T, class F>
Result<T> write(sql::Database& db, F&& f, Isolation isolation = Isolation::read_committed) {
    return store_result(db.write<T>(std::forward<F>(f), isolation));
}

/// Identity and permission changes: rare, and each reads what decides it before writing, so
/// they run SERIALIZABLE (on PostgreSQL; SQLite's single writer is serial anyway). See
/// docs/architecture.md.
template <class T, class F>
Result<T> admin_write(sql::Database& db, F&& f) {
    return write<T>(db, std::forward<F>(f), Isolation::serializable);
}

/// f(Connection&) -> Result<T> on a reader connection.
template <class T, class F>
Result<T> read(sql::Database& db, F&& f) {
    return store_result(db.read<T>(std::forward<F>(f)));
}

/// A cached statement bound to `var` for this scope. Returns errc::db_error when preparing fails.
#define PREPARE(var, conn, text)                                                \
    auto var##_p = (conn).prepare(text);                                        \
    if (!var##_p) {                                                             \
        return ::dermaga::meta::detail::db_fail(var##_p.error(), "prepare");    \
    }                                                                           \
    ::dermaga::sql::Statement& var = **var##_p

/// Runs a statement that returns no rows.
inline Result<void> exec_stmt(Statement& s, const char* what) {
    while (true) {
        auto row = s.step();
        if (!row) {
            return db_fail(row.error(), what);
        }
        if (!*row) {
            return {};
        }
    }
}

/// Steps through every row, calling row(s) for each.
template <class F>
Result<void> each_row(Statement& s, const char* what, F&& row) {
    while (true) {
        auto more = s.step();
        if (!more) {
            return db_fail(more.error(), what);
        }
        if (!*more) {
            return {};
        }
        row(s);
    }
}

/// Runs a single-row SELECT, reading the row with read(s); nullopt when there is none.
template <class T, class F>
Result<std::optional<T>> one_row(Statement& s, const char* what, F&& read) {
    auto row = s.step();
    if (!row) {
        return db_fail(row.error(), what);
    }
    if (!*row) {
        return std::optional<T>();
    }
    return std::optional<T>(read(s));
}

/// The first column of the one row a query returns (COUNT, MAX, ...).
inline Result<std::int64_t> scalar(Statement& s, const char* what) {
    auto row = s.step();
    if (!row) {
        return db_fail(row.error(), what);
    }
    if (!*row) {
        return fail(errc::db_error, std::string(what) + ": no row");
    }
    return s.int64(0);
}

/// Runs an INSERT … RETURNING id and returns the id; a constraint failure (the name is
/// taken) is errc::conflict with `taken` as its detail.
inline Result<std::int64_t> insert_returning_id(Statement& s, const char* what, const std::string& taken) {
    auto row = s.step();
    if (!row) {
        return is_constraint(row.error()) ? fail(errc::conflict, taken) : db_fail(row.error(), what);
    }
    if (!*row) {
        return fail(errc::db_error, std::string(what) + ": no id returned");
    }
    return s.int64(0);
}

/// Reads up to n names from a statement that selects n + 1 rows; the extra row only says
/// whether a further page exists.
inline Result<Page> read_page(Statement& s, std::size_t n, const char* what) {
    Page page;
    while (true) {
        auto row = s.step();
        if (!row) {
            return db_fail(row.error(), what);
        }
        if (!*row) {
            return page;
        }
        if (page.names.size() == n) {
            page.more = true;
            return page;
        }
        page.names.push_back(s.text(0));
    }
}

}  // namespace dermaga::meta::detail
