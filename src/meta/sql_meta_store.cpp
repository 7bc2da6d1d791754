#include "meta/sql_meta_store.hpp"

#include <stdexcept>

#include "meta/migrations.hpp"
#include "meta/sqlite/connection.hpp"
#include "meta/sqlite/helpers.hpp"
#include "meta/sql_auth_store.hpp"

namespace dermaga::meta {

using sqlite::Connection;
using sqlite::Stmt;
using sqlite::Transaction;
using sqlite::db_fail;
using sqlite::exec_stmt;
using sqlite::one_row;
using sqlite::read_page;

namespace {

/// Id of `repo`, creating it when missing. Must run inside a write transaction.
Result<std::int64_t> ensure_repo(Connection& c, std::string_view repo, std::int64_t now) {
    PREPARE(ins, c, "INSERT INTO repositories(name, created_at) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING");
    ins.bind(1, repo).bind(2, now);
    DERMAGA_CHECK(exec_stmt(c, ins, "insert repository"));
    PREPARE(sel, c, "SELECT id FROM repositories WHERE name = ?1");
    sel.bind(1, repo);
    if (sel.step() != SQLITE_ROW) {
        return db_fail(c, "select repository");
    }
    return sel.int64(0);
}

Result<std::optional<std::int64_t>> find_repo(Connection& c, std::string_view repo) {
    PREPARE(sel, c, "SELECT id FROM repositories WHERE name = ?1");
    sel.bind(1, repo);
    return one_row<std::int64_t>(c, sel, "select repository", [](Stmt& r) { return r.int64(0); });
}

Result<void> apply_migrations(Connection& c) {
    PREPARE(v, c, "PRAGMA user_version");
    if (v.step() != SQLITE_ROW) {
        return db_fail(c, "read schema version");
    }
    const auto current = static_cast<std::size_t>(v.int64(0));
    auto all = migrations();
    if (current > all.size()) {
        return fail(errc::db_error, "database schema version " + std::to_string(current) +
                                        " is newer than this binary supports (" + std::to_string(all.size()) + ")");
    }
    for (std::size_t i = current; i < all.size(); ++i) {
        BEGIN_TX(tx, c, write);
        DERMAGA_CHECK(c.exec(all[i].sql));
        DERMAGA_CHECK(c.exec("PRAGMA user_version = " + std::to_string(i + 1)));
        DERMAGA_CHECK(tx.commit());
    }
    return {};
}

}  // namespace

SqliteMetaStore::SqliteMetaStore(const std::string& path, std::size_t connections) {
    {
        Connection c(path);
        auto r = apply_migrations(c);
        if (!r) {
            throw std::runtime_error("SQLite migration failed: " + r.error().detail);
        }
    }
    pool_ = std::make_shared<sqlite::Pool>(path, connections);
}

SqliteMetaStore::~SqliteMetaStore() = default;

std::unique_ptr<AuthStore> SqliteMetaStore::auth_store() const {
    return std::make_unique<SqliteAuthStore>(pool_);
}

int SqliteMetaStore::schema_version() {
    auto c = pool_->acquire();
    auto s = c->prepare("PRAGMA user_version");
    return s && (*s)->step() == SQLITE_ROW ? static_cast<int>((*s)->int64(0)) : -1;
}

void SqliteMetaStore::register_metrics(metrics::Registry& registry) const {
    const auto& c = pool_->committer();
    registry.add(c.commit_seconds);
    registry.add(c.batch_size);
    registry.add(c.failures);
}

Result<void> SqliteMetaStore::ready() {
    auto c = pool_->acquire();
    // Reads the database header through a fresh read transaction: fails when the file cannot
    // be read, and sees a schema version another process wrote.
    auto s = c->prepare("PRAGMA user_version");
    if (!s) {
        return fail(errc::db_error, "database unreachable");
    }
    const int rc = (*s)->step();
    if (rc != SQLITE_ROW) {
        return fail(errc::db_error, std::string("database unreachable: ") + sqlite3_errstr(rc));
    }
    const auto version = (*s)->int64(0);
    const auto wanted = static_cast<std::int64_t>(migrations().size());
    if (version != wanted) {
        return fail(errc::db_error, "database schema is at version " + std::to_string(version) +
                                        ", this binary needs " + std::to_string(wanted));
    }
    return {};
}

Result<StoreCounts> SqliteMetaStore::counts() {
    auto c = pool_->acquire();
    BEGIN_TX(tx, *c, read);
    PREPARE(s, *c,
            "SELECT (SELECT COUNT(DISTINCT repo_id) FROM manifests), (SELECT COUNT(*) FROM manifests), "
            "(SELECT COUNT(*) FROM tags), (SELECT COUNT(*) FROM blobs), (SELECT COALESCE(SUM(size), 0) FROM blobs), "
            "(SELECT COALESCE(SUM(size), 0) FROM manifests), (SELECT COUNT(*) FROM uploads)");
    if (s.step() != SQLITE_ROW) {
        return db_fail(*c, "counts");
    }
    auto u = [&](int col) { return static_cast<std::uint64_t>(s.int64(col)); };
    return StoreCounts{u(0), u(1), u(2), u(3), u(4), u(5), u(6)};
}

Result<std::optional<std::uint64_t>> SqliteMetaStore::linked_blob(std::string_view repo, std::string_view digest) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT b.size FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id "
            "JOIN blobs b ON b.digest = l.digest WHERE r.name = ?1 AND l.digest = ?2");
    s.bind(1, repo).bind(2, digest);
    return one_row<std::uint64_t>(*c, s, "linked_blob",
                                  [](Stmt& r) { return static_cast<std::uint64_t>(r.int64(0)); });
}

Result<void> SqliteMetaStore::link_blob(std::string_view repo, std::string_view digest, std::uint64_t size,
                                        std::string_view upload_id, std::int64_t now,
                                        std::optional<std::string_view> data) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(repo_id, ensure_repo(c, repo, now));
        {
            PREPARE(b, c,
                    "INSERT INTO blobs(digest, size, created_at, data) VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
            b.bind(1, digest).bind(2, static_cast<std::int64_t>(size)).bind(3, now);
            if (data) {
                b.bind_blob(4, *data);
            }
            DERMAGA_CHECK(exec_stmt(c, b, "insert blob"));
        }
        {
            PREPARE(l, c, "INSERT INTO repo_blobs(repo_id, digest, created_at) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING");
            l.bind(1, repo_id).bind(2, digest).bind(3, now);
            DERMAGA_CHECK(exec_stmt(c, l, "link blob"));
        }
        if (!upload_id.empty()) {
            PREPARE(d, c, "DELETE FROM uploads WHERE id = ?1");
            d.bind(1, upload_id);
            DERMAGA_CHECK(exec_stmt(c, d, "delete upload"));
        }
        return {};
    });
}

Result<std::optional<LinkedBlob>> SqliteMetaStore::linked_blob_content(std::string_view repo,
                                                                        std::string_view digest) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT b.size, b.data FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id "
            "JOIN blobs b ON b.digest = l.digest WHERE r.name = ?1 AND l.digest = ?2");
    s.bind(1, repo).bind(2, digest);
    return one_row<LinkedBlob>(*c, s, "linked_blob_content", [](Stmt& r) {
        LinkedBlob b{static_cast<std::uint64_t>(r.int64(0)), std::nullopt};
        if (!r.is_null(1)) {
            b.data = r.text(1);
        }
        return b;
    });
}

Result<bool> SqliteMetaStore::unlink_blob(std::string_view repo, std::string_view digest) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "DELETE FROM repo_blobs WHERE digest = ?2 AND repo_id = (SELECT id FROM repositories WHERE name = ?1)");
        s.bind(1, repo).bind(2, digest);
        DERMAGA_CHECK(exec_stmt(c, s, "unlink blob"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<void> SqliteMetaStore::create_upload(const UploadRow& row) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "INSERT INTO uploads(id, repo, created_at, updated_at, owner) VALUES(?1, ?2, ?3, ?4, ?5)");
        s.bind(1, row.id).bind(2, row.repo).bind(3, row.created_at).bind(4, row.updated_at).bind(5, row.owner);
        DERMAGA_CHECK(exec_stmt(c, s, "create upload"));
        return {};
    });
}

Result<std::optional<UploadRow>> SqliteMetaStore::get_upload(std::string_view id) {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT repo, created_at, updated_at, owner FROM uploads WHERE id = ?1");
    s.bind(1, id);
    return one_row<UploadRow>(*c, s, "get upload", [&](Stmt& r) {
        return UploadRow{std::string(id), r.text(0), r.int64(1), r.int64(2), r.text(3)};
    });
}

Result<void> SqliteMetaStore::touch_upload(std::string_view id, std::int64_t now) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "UPDATE uploads SET updated_at = ?2 WHERE id = ?1");
        s.bind(1, id).bind(2, now);
        DERMAGA_CHECK(exec_stmt(c, s, "touch upload"));
        return {};
    });
}

Result<void> SqliteMetaStore::delete_upload(std::string_view id) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM uploads WHERE id = ?1");
        s.bind(1, id);
        DERMAGA_CHECK(exec_stmt(c, s, "delete upload"));
        return {};
    });
}

Result<std::vector<std::string>> SqliteMetaStore::expired_uploads(std::int64_t updated_before, std::size_t limit) {
    auto c = pool_->acquire();
    PREPARE(s, *c, "SELECT id FROM uploads WHERE updated_at < ?1 LIMIT ?2");
    s.bind(1, updated_before).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::string> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back(s.text(0));
    }
    if (rc != SQLITE_DONE) {
        return db_fail(*c, "expired uploads");
    }
    return out;
}

Result<void> SqliteMetaStore::put_manifest(const ManifestPut& m) {
    return pool_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(repo_id, ensure_repo(c, m.repo, m.now));
        for (const auto& ref : m.refs) {
            const char* sql = ref.kind == ManifestRef::Kind::blob
                                  ? "SELECT 1 FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2"
                                  : "SELECT 1 FROM manifests WHERE repo_id = ?1 AND digest = ?2";
            PREPARE(s, c, sql);
            s.bind(1, repo_id).bind(2, ref.digest);
            int rc = s.step();
            if (rc == SQLITE_DONE) {
                return fail(errc::reference_missing, ref.digest);
            }
            if (rc != SQLITE_ROW) {
                return db_fail(c, "check reference");
            }
        }
        {
            // A manifest already stored keeps the media type of its first push.
            PREPARE(s, c,
                    "INSERT INTO manifests(repo_id, digest, media_type, artifact_type, subject, annotations, size, body, "
                    "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                    "ON CONFLICT(repo_id, digest) DO NOTHING");
            s.bind(1, repo_id).bind(2, m.digest).bind(3, m.media_type).bind(4, m.artifact_type);
            if (m.subject.empty()) {
                s.bind_null(5);
            } else {
                s.bind(5, m.subject);
            }
            s.bind(6, m.annotations_json).bind(7, static_cast<std::int64_t>(m.body.size())).bind_blob(8, m.body).bind(9, m.now);
            DERMAGA_CHECK(exec_stmt(c, s, "insert manifest"));
        }
        for (const auto& ref : m.refs) {
            PREPARE(s, c, "INSERT INTO manifest_refs(repo_id, parent, child, kind) VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
            s.bind(1, repo_id).bind(2, m.digest).bind(3, ref.digest).bind(4, static_cast<std::int64_t>(ref.kind));
            DERMAGA_CHECK(exec_stmt(c, s, "insert reference"));
        }
        for (const auto& tag : m.tags) {
            PREPARE(s, c,
                    "INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT(repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at");
            s.bind(1, repo_id).bind(2, tag).bind(3, m.digest).bind(4, m.now);
            DERMAGA_CHECK(exec_stmt(c, s, "set tag"));
        }
        return {};
    });
}

Result<std::optional<ManifestRecord>> SqliteMetaStore::manifest_by_digest(std::string_view repo, std::string_view digest) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT m.media_type, m.body FROM repositories r JOIN manifests m ON m.repo_id = r.id "
            "WHERE r.name = ?1 AND m.digest = ?2");
    s.bind(1, repo).bind(2, digest);
    return one_row<ManifestRecord>(*c, s, "manifest_by_digest", [&](Stmt& r) {
        return ManifestRecord{std::string(digest), r.text(0), r.text(1)};
    });
}

Result<std::optional<ManifestRecord>> SqliteMetaStore::manifest_by_tag(std::string_view repo, std::string_view tag) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT m.digest, m.media_type, m.body FROM repositories r "
            "JOIN tags t ON t.repo_id = r.id JOIN manifests m ON m.repo_id = r.id AND m.digest = t.digest "
            "WHERE r.name = ?1 AND t.name = ?2");
    s.bind(1, repo).bind(2, tag);
    return one_row<ManifestRecord>(*c, s, "manifest_by_tag",
                                   [](Stmt& r) { return ManifestRecord{r.text(0), r.text(1), r.text(2)}; });
}

Result<bool> SqliteMetaStore::delete_manifest(std::string_view repo, std::string_view digest) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(repo_id, find_repo(c, repo));
        if (!repo_id) {
            return false;
        }
        bool existed;
        {
            PREPARE(s, c, "DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2");
            s.bind(1, *repo_id).bind(2, digest);
            DERMAGA_CHECK(exec_stmt(c, s, "delete manifest"));
            existed = sqlite3_changes(c.raw()) > 0;
        }
        if (!existed) {
            return false;
        }
        for (const char* sql : {"DELETE FROM tags WHERE repo_id = ?1 AND digest = ?2",
                                "DELETE FROM manifest_refs WHERE repo_id = ?1 AND parent = ?2"}) {
            PREPARE(s, c, sql);
            s.bind(1, *repo_id).bind(2, digest);
            DERMAGA_CHECK(exec_stmt(c, s, "delete manifest dependents"));
        }
        return true;
    });
}

Result<bool> SqliteMetaStore::delete_tag(std::string_view repo, std::string_view tag) {
    return pool_->write<bool>([&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "DELETE FROM tags WHERE name = ?2 AND repo_id = (SELECT id FROM repositories WHERE name = ?1)");
        s.bind(1, repo).bind(2, tag);
        DERMAGA_CHECK(exec_stmt(c, s, "delete tag"));
        return sqlite3_changes(c.raw()) > 0;
    });
}

Result<std::optional<Page>> SqliteMetaStore::list_tags(std::string_view repo, std::string_view last, std::size_t n) {
    auto c = pool_->acquire();
    BEGIN_TX(tx, *c, read);
    DERMAGA_TRY(repo_id, find_repo(*c, repo));
    if (!repo_id) {
        return std::optional<Page>();
    }
    // Case-insensitive order as the spec asks, ties broken by exact name so paging is total.
    PREPARE(s, *c,
            "SELECT name FROM tags WHERE repo_id = ?1 AND (name COLLATE NOCASE, name) > (?2, ?2) "
            "ORDER BY name COLLATE NOCASE, name LIMIT ?3");
    s.bind(1, *repo_id).bind(2, last).bind(3, static_cast<std::int64_t>(n) + 1);
    DERMAGA_TRY(page, read_page(*c, s, n, "list tags"));
    return std::optional<Page>(std::move(page));
}

Result<Page> SqliteMetaStore::list_repositories(std::string_view last, std::size_t n) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT name FROM repositories r WHERE name > ?1 "
            "AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id) ORDER BY name LIMIT ?2");
    s.bind(1, last).bind(2, static_cast<std::int64_t>(n) + 1);
    return read_page(*c, s, n, "list repositories");
}

Result<Page> SqliteMetaStore::blob_repositories(std::string_view digest, std::string_view last,
                                                std::size_t n) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT r.name FROM repo_blobs b JOIN repositories r ON r.id = b.repo_id "
            "WHERE b.digest = ?1 AND r.name > ?2 ORDER BY r.name LIMIT ?3");
    s.bind(1, digest).bind(2, last).bind(3, static_cast<std::int64_t>(n) + 1);
    return read_page(*c, s, n, "blob repositories");
}

Result<std::vector<Referrer>> SqliteMetaStore::referrers(std::string_view repo, std::string_view digest,
                                                         std::string_view artifact_type) {
    auto c = pool_->acquire();
    PREPARE(s, *c,
            "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM repositories r "
            "JOIN manifests m ON m.repo_id = r.id WHERE r.name = ?1 AND m.subject = ?2 "
            "AND (?3 = '' OR m.artifact_type = ?3) ORDER BY m.created_at, m.digest");
    s.bind(1, repo).bind(2, digest).bind(3, artifact_type);
    std::vector<Referrer> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
        out.push_back(Referrer{s.text(0), s.text(1), s.int64(2), s.text(3), s.text(4)});
    }
    if (rc != SQLITE_DONE) {
        return db_fail(*c, "referrers");
    }
    return out;
}

Result<bool> SqliteMetaStore::repository_exists(std::string_view repo) {
    auto c = pool_->acquire();
    DERMAGA_TRY(id, find_repo(*c, repo));
    return id.has_value();
}

}  // namespace dermaga::meta
