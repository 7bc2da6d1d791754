#include "meta/copy.hpp"

#include <map>
#include <mutex>
#include <variant>

#include "meta/meta_store.hpp"
#include "meta/migrations.hpp"
#include "meta/sql_helpers.hpp"
#include "sql/dialect.hpp"
#include "sql/migrate.hpp"

namespace dermaga::meta {

using namespace detail;

namespace {

const TableSpec all_tables[] = {
    {"repositories", "id"}, {"blobs", ""},          {"blob_data", ""},     {"repo_blobs", ""},
    {"manifests", ""},      {"manifest_refs", ""},  {"tags", ""},          {"uploads", ""},
    {"namespaces", "id"},   {"users", "id"},        {"org_members", ""},   {"teams", "id"},
    {"team_members", ""},   {"robots", "id"},       {"repo_grants", ""},   {"repo_settings", ""},
    {"access_tokens", "id"}, {"refresh_tokens", ""}, {"signing_keys", ""}, {"login_failures", ""},
    {"audit", "id"},
};

/// Statement texts made at run time, kept for the life of the process: connections cache
/// statements by the address of their text.
const char* lasting(const std::string& sql) {
    static std::mutex mu;
    static std::map<std::string, std::string> texts;
    std::lock_guard lock(mu);
    return texts.try_emplace(sql, sql).first->second.c_str();
}

struct Blob {
    std::string bytes;
};
using Value = std::variant<std::monostate, std::int64_t, std::string, Blob>;
struct Batch {
    std::vector<std::string> columns;
    std::vector<std::vector<Value>> rows;
    std::size_t bytes = 0;
};

constexpr std::size_t batch_rows = 2000;
constexpr std::size_t batch_bytes = 32 << 20;

Result<std::int64_t> count_rows(Connection& c, const std::string& table) {
    PREPARE(s, c, lasting("SELECT COUNT(*) FROM " + table));
    return scalar(s, "count rows");
}

Result<void> insert_batch(sql::Database& to, const std::string& table, const Batch& b) {
    std::string cols, params;
    for (std::size_t i = 0; i < b.columns.size(); ++i) {
        cols += (i ? ", " : "") + b.columns[i];
        params += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    const char* sql = lasting("INSERT INTO " + table + "(" + cols + ") VALUES(" + params + ")");
    return write<void>(to, [&](Connection& c) -> Result<void> {
        for (const auto& row : b.rows) {
            PREPARE(s, c, sql);  // per row: a statement is reset when its handle goes
            for (std::size_t i = 0; i < row.size(); ++i) {
                const int at = static_cast<int>(i + 1);
                if (auto* n = std::get_if<std::int64_t>(&row[i])) {
                    s.bind(at, *n);
                } else if (auto* t = std::get_if<std::string>(&row[i])) {
                    s.bind(at, *t);
                } else if (auto* blob = std::get_if<Blob>(&row[i])) {
                    s.bind_blob(at, blob->bytes);
                } else {
                    s.bind_null(at);
                }
            }
            DERMAGA_CHECK(exec_stmt(s, "insert row"));
        }
        return {};
    });
}

/// Copies one table, reading it on `src` (inside the source snapshot).
Result<std::int64_t> copy_table(Connection& src, sql::Database& to, const TableSpec& t) {
    const std::string table = t.name;
    PREPARE(s, src, lasting("SELECT * FROM " + table));
    Batch batch;
    std::int64_t copied = 0;
    while (true) {
        auto row = s.step();
        if (!row) {
            return db_fail(row.error(), "read " + table);
        }
        if (batch.columns.empty() && *row) {
            for (int i = 0; i < s.column_count(); ++i) {
                batch.columns.push_back(s.column_name(i));
            }
        }
        if (*row) {
            std::vector<Value> values;
            for (int i = 0; i < s.column_count(); ++i) {
                switch (s.kind(i)) {
                    case Statement::Kind::null: values.emplace_back(std::monostate{}); break;
                    case Statement::Kind::integer: values.emplace_back(s.int64(i)); break;
                    case Statement::Kind::text: values.emplace_back(s.text(i)); break;
                    case Statement::Kind::blob: values.emplace_back(Blob{s.text(i)}); break;
                }
                if (auto* v = std::get_if<std::string>(&values.back())) {
                    batch.bytes += v->size();
                } else if (auto* b = std::get_if<Blob>(&values.back())) {
                    batch.bytes += b->bytes.size();
                }
            }
            batch.rows.push_back(std::move(values));
        }
        if (!batch.rows.empty() && (!*row || batch.rows.size() >= batch_rows || batch.bytes >= batch_bytes)) {
            if (auto r = insert_batch(to, table, batch); !r) {
                return fail(errc::db_error, "copy " + table + ": " + r.error().detail);
            }
            copied += static_cast<std::int64_t>(batch.rows.size());
            batch.rows.clear();
            batch.bytes = 0;
        }
        if (!*row) {
            return copied;
        }
    }
}

}  // namespace

std::span<const TableSpec> tables() { return all_tables; }

Result<std::vector<TableCount>> copy_metadata(sql::Database& from, sql::Database& to) {
    for (sql::Database* db : {&from, &to}) {
        if (auto v = sql::migrate(*db, migrations()); !v) {
            return fail(errc::db_error, "schema migration: " + v.error().detail);
        }
    }
    for (const auto& t : all_tables) {
        DERMAGA_TRY(n, read<std::int64_t>(to, [&](Connection& c) { return count_rows(c, t.name); }));
        if (n > 0) {
            return fail(errc::conflict, "the target database is not empty (table " + std::string(t.name) + " holds " +
                                            std::to_string(n) + " rows); migrate-meta only fills an empty one");
        }
    }
    // One snapshot of the source for the whole copy: a consistent state even if it is in use.
    DERMAGA_TRY(counts, store_result(from.snapshot<std::vector<TableCount>>(
                            [&](Connection& src) -> Result<std::vector<TableCount>> {
                                std::vector<TableCount> out;
                                for (const auto& t : all_tables) {
                                    DERMAGA_TRY(copied, copy_table(src, to, t));
                                    DERMAGA_TRY(n, count_rows(src, t.name));
                                    if (copied != n) {
                                        return fail(errc::db_error, std::string("copy ") + t.name + ": read " +
                                                                        std::to_string(copied) + " of " +
                                                                        std::to_string(n) + " rows");
                                    }
                                    out.push_back(TableCount{t.name, n});
                                }
                                return out;
                            })));
    for (const auto& t : all_tables) {
        if (*t.identity) {
            DERMAGA_CHECK(write<void>(to, [&](Connection& c) -> Result<void> {
                if (auto r = c.dialect().sync_identity(c, t.name, t.identity); !r) {
                    return db_fail(r.error(), std::string("identity of ") + t.name);
                }
                return {};
            }));
        }
    }
    for (const auto& tc : counts) {
        DERMAGA_TRY(n, read<std::int64_t>(to, [&](Connection& c) { return count_rows(c, tc.table); }));
        if (n != tc.rows) {
            return fail(errc::db_error, "verify " + tc.table + ": the source holds " + std::to_string(tc.rows) +
                                            " rows, the target " + std::to_string(n));
        }
    }
    return counts;
}

}  // namespace dermaga::meta
