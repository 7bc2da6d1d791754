#include "meta/sql_meta_store.hpp"

#include <stdexcept>

#include "meta/migrations.hpp"
#include "meta/sql_auth_store.hpp"
#include "meta/sql_helpers.hpp"
#include "sql/migrate.hpp"

namespace dermaga::meta {

using namespace detail;

namespace {

Result<std::optional<std::int64_t>> find_repo(Connection& c, std::string_view repo) {
    PREPARE(sel, c, "SELECT id FROM repositories WHERE name = ?1");
    sel.bind(1, repo);
    return one_row<std::int64_t>(sel, "select repository", [](Statement& r) { return r.int64(0); });
}

/// Id of `repo`, creating it when missing. Must run inside a write transaction.
Result<std::int64_t> ensure_repo(Connection& c, std::string_view repo, std::int64_t now) {
    DERMAGA_TRY(id, find_repo(c, repo));
    if (id) {
        return *id;
    }
    {
        PREPARE(ins, c,
                "INSERT INTO repositories(name, created_at) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING RETURNING id");
        ins.bind(1, repo).bind(2, now);
        DERMAGA_TRY(created, one_row<std::int64_t>(ins, "insert repository", [](Statement& r) { return r.int64(0); }));
        if (created) {
            return *created;
        }
    }
    // A concurrent transaction created it first; by now it has committed (PostgreSQL waited).
    DERMAGA_TRY(again, find_repo(c, repo));
    if (!again) {
        return fail(errc::db_error, "repository " + std::string(repo) + " vanished while being created");
    }
    return *again;
}

}  // namespace

SqlMetaStore::SqlMetaStore(std::shared_ptr<sql::Database> db) : db_(std::move(db)) {
    if (auto r = sql::migrate(*db_, migrations()); !r) {
        throw std::runtime_error("schema migration failed: " + r.error().detail);
    }
}

SqlMetaStore::~SqlMetaStore() = default;

std::unique_ptr<AuthStore> SqlMetaStore::auth_store() const { return std::make_unique<SqlAuthStore>(db_); }

int SqlMetaStore::schema_version() { return sql::schema_version(*db_).value_or(-1); }

Result<std::optional<std::uint64_t>> SqlMetaStore::linked_blob(std::string_view repo, std::string_view digest) {
    return read<std::optional<std::uint64_t>>(*db_, [&](Connection& c) -> Result<std::optional<std::uint64_t>> {
        PREPARE(s, c,
                "SELECT b.size FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id "
                "JOIN blobs b ON b.digest = l.digest WHERE r.name = ?1 AND l.digest = ?2");
        s.bind(1, repo).bind(2, digest);
        return one_row<std::uint64_t>(s, "linked_blob",
                                      [](Statement& r) { return static_cast<std::uint64_t>(r.int64(0)); });
    });
}

void SqlMetaStore::register_metrics(metrics::Registry& registry) const { db_->register_metrics(registry); }

Result<void> SqlMetaStore::ready() {
    // A fresh read on a reader connection: fails when the database cannot be reached, and
    // sees a schema version another process or node wrote.
    auto version = sql::schema_version(*db_);
    if (!version) {
        return fail(errc::db_error, "database unreachable");  // no host, path or credential
    }
    const auto wanted = static_cast<int>(migrations().size());
    if (*version != wanted) {
        return fail(errc::db_error, "database schema is at version " + std::to_string(*version) +
                                        ", this binary needs " + std::to_string(wanted));
    }
    return {};
}

Result<StoreCounts> SqlMetaStore::counts() {
    return read<StoreCounts>(*db_, [&](Connection& c) -> Result<StoreCounts> {
        // One statement: one consistent view on either engine.
        PREPARE(s, c,
                "SELECT (SELECT COUNT(DISTINCT repo_id) FROM manifests), (SELECT COUNT(*) FROM manifests), "
                "(SELECT COUNT(*) FROM tags), (SELECT COUNT(*) FROM blobs), (SELECT COALESCE(SUM(size), 0) FROM blobs), "
                "(SELECT COALESCE(SUM(size), 0) FROM manifests), (SELECT COUNT(*) FROM uploads)");
        auto row = s.step();
        if (!row || !*row) {
            return fail(errc::db_error, "counts: " + (row ? std::string("no row") : row.error().detail));
        }
        auto u = [&](int col) { return static_cast<std::uint64_t>(s.int64(col)); };
        return StoreCounts{u(0), u(1), u(2), u(3), u(4), u(5), u(6)};
    });
}

Result<void> SqlMetaStore::link_blob(std::string_view repo, std::string_view digest, std::uint64_t size,
                                     std::string_view upload_id, std::int64_t now,
                                     std::optional<std::string_view> data) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(repo_id, ensure_repo(c, repo, now));
        {
            PREPARE(b, c, "INSERT INTO blobs(digest, size, created_at) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING");
            b.bind(1, digest).bind(2, static_cast<std::int64_t>(size)).bind(3, now);
            DERMAGA_CHECK(exec_stmt(b, "insert blob"));
            // The first copy of a blob wins: bytes go in only with the row that records it.
            if (data && b.changes() > 0) {
                PREPARE(d, c, "INSERT INTO blob_data(digest, data) VALUES(?1, ?2)");
                d.bind(1, digest).bind_blob(2, *data);
                DERMAGA_CHECK(exec_stmt(d, "insert blob data"));
            }
        }
        {
            PREPARE(l, c,
                    "INSERT INTO repo_blobs(repo_id, digest, created_at) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING");
            l.bind(1, repo_id).bind(2, digest).bind(3, now);
            DERMAGA_CHECK(exec_stmt(l, "link blob"));
        }
        if (!upload_id.empty()) {
            PREPARE(d, c, "DELETE FROM uploads WHERE id = ?1");
            d.bind(1, upload_id);
            DERMAGA_CHECK(exec_stmt(d, "delete upload"));
        }
        return {};
    });
}

Result<std::optional<LinkedBlob>> SqlMetaStore::linked_blob_content(std::string_view repo, std::string_view digest) {
    return read<std::optional<LinkedBlob>>(*db_, [&](Connection& c) -> Result<std::optional<LinkedBlob>> {
        PREPARE(s, c,
                "SELECT b.size, d.data FROM repositories r JOIN repo_blobs l ON l.repo_id = r.id "
                "JOIN blobs b ON b.digest = l.digest LEFT JOIN blob_data d ON d.digest = b.digest "
                "WHERE r.name = ?1 AND l.digest = ?2");
        s.bind(1, repo).bind(2, digest);
        return one_row<LinkedBlob>(s, "linked_blob_content", [](Statement& r) {
            LinkedBlob b{static_cast<std::uint64_t>(r.int64(0)), std::nullopt};
            if (!r.is_null(1)) {
                b.data = r.text(1);
            }
            return b;
        });
    });
}

Result<bool> SqlMetaStore::unlink_blob(std::string_view repo, std::string_view digest) {
    return write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "DELETE FROM repo_blobs WHERE digest = ?2 AND repo_id = (SELECT id FROM repositories WHERE name = ?1)");
        s.bind(1, repo).bind(2, digest);
        DERMAGA_CHECK(exec_stmt(s, "unlink blob"));
        return s.changes() > 0;
    });
}

Result<void> SqlMetaStore::create_upload(const UploadRow& row) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "INSERT INTO uploads(id, repo, created_at, updated_at, owner) VALUES(?1, ?2, ?3, ?4, ?5)");
        s.bind(1, row.id).bind(2, row.repo).bind(3, row.created_at).bind(4, row.updated_at).bind(5, row.owner);
        return exec_stmt(s, "create upload");
    });
}

Result<std::optional<UploadRow>> SqlMetaStore::get_upload(std::string_view id) {
    return read<std::optional<UploadRow>>(*db_, [&](Connection& c) -> Result<std::optional<UploadRow>> {
        PREPARE(s, c,
                "SELECT repo, created_at, updated_at, owner, storage_state, hash_state FROM uploads WHERE id = ?1");
        s.bind(1, id);
        return one_row<UploadRow>(s, "get upload", [&](Statement& r) {
            return UploadRow{std::string(id), r.text(0), r.int64(1), r.int64(2), r.text(3), r.text(4), r.text(5)};
        });
    });
}

Result<void> SqlMetaStore::set_upload_state(std::string_view id, std::string_view storage_state,
                                            std::string_view hash_state, std::int64_t now) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "UPDATE uploads SET storage_state = ?2, hash_state = ?3, updated_at = ?4 WHERE id = ?1");
        s.bind(1, id).bind(2, storage_state).bind(3, hash_state).bind(4, now);
        return exec_stmt(s, "set upload state");
    });
}

Result<bool> SqlMetaStore::claim_upload(std::string_view id, std::string_view holder,
                                        std::int64_t now, std::int64_t until) {
    // One statement: the row lock it takes makes two nodes' claims serialise, and the second
    // sees the first's lease.
    return write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "UPDATE uploads SET claim_holder = ?2, claim_until = ?4, updated_at = ?3 "
                "WHERE id = ?1 AND (claim_holder = '' OR claim_until < ?3)");
        s.bind(1, id).bind(2, holder).bind(3, now).bind(4, until);
        DERMAGA_CHECK(exec_stmt(s, "claim upload"));
        return s.changes() > 0;
    });
}

Result<bool> SqlMetaStore::renew_upload_claim(std::string_view id, std::string_view holder,
                                              std::int64_t now, std::int64_t until) {
    return write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c,
                "UPDATE uploads SET claim_until = ?4, updated_at = ?3 WHERE id = ?1 AND "
                "claim_holder = ?2");
        s.bind(1, id).bind(2, holder).bind(3, now).bind(4, until);
        DERMAGA_CHECK(exec_stmt(s, "renew upload claim"));
        return s.changes() > 0;
    });
}

Result<void> SqlMetaStore::release_upload_claim(std::string_view id, std::string_view holder) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c,
                "UPDATE uploads SET claim_holder = '', claim_until = 0 WHERE id = ?1 AND "
                "claim_holder = ?2");
        s.bind(1, id).bind(2, holder);
        return exec_stmt(s, "release upload claim");
    });
}

Result<void> SqlMetaStore::release_all_upload_claims() {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "UPDATE uploads SET claim_holder = '', claim_until = 0 WHERE claim_holder <> ''");
        return exec_stmt(s, "release all upload claims");
    });
}

Result<void> SqlMetaStore::delete_upload(std::string_view id) {
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        PREPARE(s, c, "DELETE FROM uploads WHERE id = ?1");
        s.bind(1, id);
        return exec_stmt(s, "delete upload");
    });
}

Result<std::vector<std::string>> SqlMetaStore::expired_uploads(std::int64_t updated_before, std::size_t limit) {
    return read<std::vector<std::string>>(*db_, [&](Connection& c) -> Result<std::vector<std::string>> {
        PREPARE(s, c, "SELECT id FROM uploads WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2");
        s.bind(1, updated_before).bind(2, static_cast<std::int64_t>(limit));
        std::vector<std::string> out;
        DERMAGA_CHECK(each_row(s, "expired uploads", [&](Statement& r) { out.push_back(r.text(0)); }));
        return out;
    });
}

Result<void> SqlMetaStore::put_manifest(const ManifestPut& m) {
    // READ COMMITTED suffices: each reference is checked by a read that sees every committed
    // link; a link removed after the check orders as if removed after this push, which the
    // contract allows (see docs/architecture.md).
    return write<void>(*db_, [&](Connection& c) -> Result<void> {
        DERMAGA_TRY(repo_id, ensure_repo(c, m.repo, m.now));
        for (const auto& ref : m.refs) {
            const char* sql = ref.kind == ManifestRef::Kind::blob
                                  ? "SELECT 1 FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2"
                                  : "SELECT 1 FROM manifests WHERE repo_id = ?1 AND digest = ?2";
            PREPARE(s, c, sql);
            s.bind(1, repo_id).bind(2, ref.digest);
            DERMAGA_TRY(found, one_row<bool>(s, "check reference", [](Statement&) { return true; }));
            if (!found) {
                return fail(errc::reference_missing, ref.digest);
            }
        }
        {
            // A manifest already stored keeps the media type of its first push. The no-op update
            // (rather than DO NOTHING) locks the existing row on PostgreSQL, so that a concurrent
            // delete_manifest runs wholly before or after this push and never leaves the tags
            // below pointing at a deleted manifest.
            PREPARE(s, c,
                    "INSERT INTO manifests(repo_id, digest, media_type, artifact_type, subject, annotations, size, body, "
                    "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                    "ON CONFLICT(repo_id, digest) DO UPDATE SET media_type = manifests.media_type");
            s.bind(1, repo_id).bind(2, m.digest).bind(3, m.media_type).bind(4, m.artifact_type);
            if (m.subject.empty()) {
                s.bind_null(5);
            } else {
                s.bind(5, m.subject);
            }
            s.bind(6, m.annotations_json).bind(7, static_cast<std::int64_t>(m.body.size()));
            s.bind_blob(8, m.body).bind(9, m.now);
            DERMAGA_CHECK(exec_stmt(s, "insert manifest"));
        }
        for (const auto& ref : m.refs) {
            PREPARE(s, c,
                    "INSERT INTO manifest_refs(repo_id, parent, child, kind) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT DO NOTHING");
            s.bind(1, repo_id).bind(2, m.digest).bind(3, ref.digest).bind(4, static_cast<std::int64_t>(ref.kind));
            DERMAGA_CHECK(exec_stmt(s, "insert reference"));
        }
        for (const auto& tag : m.tags) {
            PREPARE(s, c,
                    "INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?1, ?2, ?3, ?4) "
                    "ON CONFLICT(repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at");
            s.bind(1, repo_id).bind(2, tag).bind(3, m.digest).bind(4, m.now);
            DERMAGA_CHECK(exec_stmt(s, "set tag"));
        }
        return {};
    });
}

Result<std::optional<ManifestRecord>> SqlMetaStore::manifest_by_digest(std::string_view repo,
                                                                        std::string_view digest) {
    return read<std::optional<ManifestRecord>>(*db_, [&](Connection& c) -> Result<std::optional<ManifestRecord>> {
        PREPARE(s, c,
                "SELECT m.media_type, m.body FROM repositories r JOIN manifests m ON m.repo_id = r.id "
                "WHERE r.name = ?1 AND m.digest = ?2");
        s.bind(1, repo).bind(2, digest);
        return one_row<ManifestRecord>(s, "manifest_by_digest", [&](Statement& r) {
            return ManifestRecord{std::string(digest), r.text(0), r.text(1)};
        });
    });
}

Result<std::optional<ManifestRecord>> SqlMetaStore::manifest_by_tag(std::string_view repo, std::string_view tag) {
    return read<std::optional<ManifestRecord>>(*db_, [&](Connection& c) -> Result<std::optional<ManifestRecord>> {
        PREPARE(s, c,
                "SELECT m.digest, m.media_type, m.body FROM repositories r "
                "JOIN tags t ON t.repo_id = r.id JOIN manifests m ON m.repo_id = r.id AND m.digest = t.digest "
                "WHERE r.name = ?1 AND t.name = ?2");
        s.bind(1, repo).bind(2, tag);
        return one_row<ManifestRecord>(s, "manifest_by_tag",
                                       [](Statement& r) { return ManifestRecord{r.text(0), r.text(1), r.text(2)}; });
    });
}

Result<bool> SqlMetaStore::delete_manifest(std::string_view repo, std::string_view digest) {
    return write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(repo_id, find_repo(c, repo));
        if (!repo_id) {
            return false;
        }
        {
            PREPARE(s, c, "DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2");
            s.bind(1, *repo_id).bind(2, digest);
            DERMAGA_CHECK(exec_stmt(s, "delete manifest"));
            if (s.changes() == 0) {
                return false;
            }
        }
        for (const char* sql : {"DELETE FROM tags WHERE repo_id = ?1 AND digest = ?2",
                                "DELETE FROM manifest_refs WHERE repo_id = ?1 AND parent = ?2"}) {
            PREPARE(s, c, sql);
            s.bind(1, *repo_id).bind(2, digest);
            DERMAGA_CHECK(exec_stmt(s, "delete manifest dependents"));
        }
        return true;
    });
}

Result<bool> SqlMetaStore::delete_tag(std::string_view repo, std::string_view tag) {
    return write<bool>(*db_, [&](Connection& c) -> Result<bool> {
        PREPARE(s, c, "DELETE FROM tags WHERE name = ?2 AND repo_id = (SELECT id FROM repositories WHERE name = ?1)");
        s.bind(1, repo).bind(2, tag);
        DERMAGA_CHECK(exec_stmt(s, "delete tag"));
        return s.changes() > 0;
    });
}

Result<std::optional<Page>> SqlMetaStore::list_tags(std::string_view repo, std::string_view last, std::size_t n) {
    return read<std::optional<Page>>(*db_, [&](Connection& c) -> Result<std::optional<Page>> {
        // Case-insensitive order as the spec asks, ties broken by exact name so paging is total.
        PREPARE(s, c,
                "SELECT t.name FROM repositories r JOIN tags t ON t.repo_id = r.id WHERE r.name = ?1 "
                "AND (t.name COLLATE NOCASE, t.name) > (?2 COLLATE NOCASE, ?2) "
                "ORDER BY t.name COLLATE NOCASE, t.name LIMIT ?3");
        s.bind(1, repo).bind(2, last).bind(3, static_cast<std::int64_t>(n) + 1);
        DERMAGA_TRY(page, read_page(s, n, "list tags"));
        if (page.names.empty()) {  // an empty page, or no such repository
            DERMAGA_TRY(id, find_repo(c, repo));
            if (!id) {
                return std::optional<Page>();
            }
        }
        return std::optional<Page>(std::move(page));
    });
}

Result<Page> SqlMetaStore::list_repositories(std::string_view last, std::size_t n) {
    return read<Page>(*db_, [&](Connection& c) -> Result<Page> {
        PREPARE(s, c,
                "SELECT name FROM repositories r WHERE name > ?1 "
                "AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = r.id) ORDER BY name LIMIT ?2");
        s.bind(1, last).bind(2, static_cast<std::int64_t>(n) + 1);
        return read_page(s, n, "list repositories");
    });
}

Result<Page> SqlMetaStore::blob_repositories(std::string_view digest, std::string_view last, std::size_t n) {
    return read<Page>(*db_, [&](Connection& c) -> Result<Page> {
        PREPARE(s, c,
                "SELECT r.name FROM repo_blobs b JOIN repositories r ON r.id = b.repo_id "
                "WHERE b.digest = ?1 AND r.name > ?2 ORDER BY r.name LIMIT ?3");
        s.bind(1, digest).bind(2, last).bind(3, static_cast<std::int64_t>(n) + 1);
        return read_page(s, n, "blob repositories");
    });
}

Result<std::vector<Referrer>> SqlMetaStore::referrers(std::string_view repo, std::string_view digest,
                                                      std::string_view artifact_type) {
    return read<std::vector<Referrer>>(*db_, [&](Connection& c) -> Result<std::vector<Referrer>> {
        PREPARE(s, c,
                "SELECT m.digest, m.media_type, m.size, m.artifact_type, m.annotations FROM repositories r "
                "JOIN manifests m ON m.repo_id = r.id WHERE r.name = ?1 AND m.subject = ?2 "
                "AND (?3 = '' OR m.artifact_type = ?3) ORDER BY m.created_at, m.digest");
        s.bind(1, repo).bind(2, digest).bind(3, artifact_type);
        std::vector<Referrer> out;
        DERMAGA_CHECK(each_row(s, "referrers", [&](Statement& r) {
            out.push_back(Referrer{r.text(0), r.text(1), r.int64(2), r.text(3), r.text(4)});
        }));
        return out;
    });
}

Result<bool> SqlMetaStore::repository_exists(std::string_view repo) {
    return read<bool>(*db_, [&](Connection& c) -> Result<bool> {
        DERMAGA_TRY(id, find_repo(c, repo));
        return id.has_value();
    });
}

}  // namespace dermaga::meta
