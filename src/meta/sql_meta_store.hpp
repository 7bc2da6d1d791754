#pragma once
// MetaStore over the SQL layer: the same queries on SQLite and PostgreSQL. Opening one applies
// the schema migrations the database lacks.

#include <memory>

#include "meta/auth_store.hpp"
#include "meta/meta_store.hpp"
#include "metrics/registry.hpp"
#include "sql/sql.hpp"

namespace dermaga::meta {

class SqlMetaStore final : public MetaStore {
public:
    /// Applies pending migrations (several nodes may do so at once). Throws std::runtime_error
    /// with a one-line reason on failure (start-up only).
    explicit SqlMetaStore(std::shared_ptr<sql::Database> db);
    ~SqlMetaStore() override;

    Result<std::optional<std::uint64_t>> linked_blob(std::string_view repo, std::string_view digest) override;
    Result<void> link_blob(std::string_view repo, std::string_view digest, std::uint64_t size,
                           std::string_view upload_id, std::int64_t now,
                           std::optional<std::string_view> data = std::nullopt) override;
    Result<std::optional<LinkedBlob>> linked_blob_content(std::string_view repo, std::string_view digest) override;
    Result<bool> unlink_blob(std::string_view repo, std::string_view digest) override;
    Result<Page> blob_repositories(std::string_view digest, std::string_view last,
                                   std::size_t n) override;
    Result<void> create_upload(const UploadRow& row) override;
    Result<std::optional<UploadRow>> get_upload(std::string_view id) override;
    Result<void> set_upload_state(std::string_view id, std::string_view storage_state, std::string_view hash_state,
                                  std::int64_t now) override;
    Result<bool> claim_upload(std::string_view id, std::string_view holder, std::int64_t now,
                              std::int64_t until) override;
    Result<bool> renew_upload_claim(std::string_view id, std::string_view holder, std::int64_t now,
                                    std::int64_t until) override;
    Result<void> release_upload_claim(std::string_view id, std::string_view holder) override;
    Result<void> release_all_upload_claims() override;
    Result<void> delete_upload(std::string_view id) override;
    Result<std::vector<std::string>> expired_uploads(std::int64_t updated_before, std::size_t limit) override;
    Result<void> put_manifest(const ManifestPut& m) override;
    Result<std::optional<ManifestRecord>> manifest_by_digest(std::string_view repo, std::string_view digest) override;
    Result<std::optional<ManifestRecord>> manifest_by_tag(std::string_view repo, std::string_view tag) override;
    Result<bool> delete_manifest(std::string_view repo, std::string_view digest) override;
    Result<bool> delete_tag(std::string_view repo, std::string_view tag) override;
    Result<std::optional<Page>> list_tags(std::string_view repo, std::string_view last, std::size_t n) override;
    Result<Page> list_repositories(std::string_view last, std::size_t n) override;
    Result<std::vector<Referrer>> referrers(std::string_view repo, std::string_view digest,
                                            std::string_view artifact_type) override;
    Result<bool> repository_exists(std::string_view repo) override;
    Result<void> ready() override;
    Result<StoreCounts> counts() override;

    /// The access-control store on the same database.
    std::unique_ptr<AuthStore> auth_store() const;

    /// Schema version (for tests).
    int schema_version();

    /// Shows the group commit's metrics (commit latency, batch size, failures) in `registry`.
    void register_metrics(metrics::Registry& registry) const;

private:
    std::shared_ptr<sql::Database> db_;
};

}  // namespace dermaga::meta
