// The contract every MetaStore must meet, run against each backend.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>
#include <tuple>

#include <sqlite3.h>

#include "meta/sql_meta_store.hpp"
#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/testing/postgres_server.hpp"

using namespace dermaga;
using namespace dermaga::meta;

namespace {

const std::string blob_a = "sha256:" + std::string(64, 'a');
const std::string blob_b = "sha256:" + std::string(64, 'b');
const std::string blob_c = "sha256:" + std::string(64, 'c');
const std::string man_1 = "sha256:" + std::string(64, '1');
const std::string man_2 = "sha256:" + std::string(64, '2');

struct Backend {
    const char* name;
    std::function<std::unique_ptr<MetaStore>(const std::filesystem::path&)> make;
};

class MetaStoreContract : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("dermaga-meta-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        std::filesystem::create_directories(dir_);
        store_ = GetParam().make(dir_);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }
    ManifestPut manifest(const std::string& repo, const std::string& digest, std::vector<std::string> tags) {
        ManifestPut m;
        m.repo = repo;
        m.digest = digest;
        m.media_type = "application/vnd.oci.image.manifest.v1+json";
        m.body = "{\"body\":\"" + digest + "\"}";
        m.refs = {{blob_a, ManifestRef::Kind::blob}};
        m.tags = std::move(tags);
        m.now = 100;
        return m;
    }
    static inline int counter_ = 0;
    std::filesystem::path dir_;
    std::unique_ptr<MetaStore> store_;
};

TEST_P(MetaStoreContract, BlobLinksArePerRepository) {
    ASSERT_TRUE(store_->link_blob("a/x", blob_a, 42, "", 1));
    EXPECT_EQ(store_->linked_blob("a/x", blob_a)->value_or(0), 42u);
    EXPECT_FALSE(store_->linked_blob("b/y", blob_a)->has_value());
    EXPECT_TRUE(*store_->unlink_blob("a/x", blob_a));
    EXPECT_FALSE(*store_->unlink_blob("a/x", blob_a));
    EXPECT_FALSE(store_->linked_blob("a/x", blob_a)->has_value());
}

TEST_P(MetaStoreContract, BlobRepositoriesListsWhereABlobIsLinked) {
    for (const char* repo : {"z/c", "a/x", "m/y"}) {
        ASSERT_TRUE(store_->link_blob(repo, blob_a, 1, "", 1));
    }
    ASSERT_TRUE(store_->link_blob("b/other", blob_b, 1, "", 1));
    auto p1 = *store_->blob_repositories(blob_a, "", 2);
    EXPECT_EQ(p1.names, (std::vector<std::string>{"a/x", "m/y"}));
    EXPECT_TRUE(p1.more);
    auto p2 = *store_->blob_repositories(blob_a, "m/y", 2);
    EXPECT_EQ(p2.names, (std::vector<std::string>{"z/c"}));
    EXPECT_FALSE(p2.more);
    ASSERT_TRUE(store_->unlink_blob("a/x", blob_a));
    EXPECT_EQ(store_->blob_repositories(blob_a, "", 10)->names,
              (std::vector<std::string>{"m/y", "z/c"}));
    EXPECT_TRUE(store_->blob_repositories(blob_c, "", 10)->names.empty());
}

TEST_P(MetaStoreContract, SmallBlobBytesAreKeptWithTheRecordFirstCopyWins) {
    const std::string bytes("\0binary\xff", 8);
    ASSERT_TRUE(store_->link_blob("r", blob_a, bytes.size(), "", 1, bytes));
    EXPECT_EQ((*store_->linked_blob_content("r", blob_a))->data.value_or("missing"), bytes);
    ASSERT_TRUE(store_->link_blob("s", blob_a, bytes.size(), "", 2));  // another repository, no bytes
    EXPECT_EQ((*store_->linked_blob_content("r", blob_a))->data.value_or("missing"), bytes) << "the first copy stays";
    ASSERT_TRUE(store_->link_blob("r", blob_b, 0, "", 1, std::string_view()));
    EXPECT_EQ((*store_->linked_blob_content("r", blob_b))->data.value_or("missing"), "") << "an empty blob is not a missing one";
    ASSERT_TRUE(store_->link_blob("r", blob_c, 9, "", 1));
    EXPECT_FALSE((*store_->linked_blob_content("r", blob_c))->data.has_value()) << "bytes in the blob store";
    EXPECT_EQ((*store_->linked_blob_content("r", blob_c))->size, 9u);
    EXPECT_FALSE(store_->linked_blob_content("other", blob_a)->has_value()) << "not linked there";
}

TEST_P(MetaStoreContract, UploadStateIsKeptWithTheSession) {
    ASSERT_TRUE(store_->create_upload({"s1", "r", 1, 1}));
    EXPECT_EQ((*store_->get_upload("s1"))->storage_state, "") << "a new session has no state";
    ASSERT_TRUE(store_->set_upload_state("s1", "v1\nsize 7\ntail 7\n", "hash-bytes", 5));
    auto row = *store_->get_upload("s1");
    ASSERT_TRUE(row);
    EXPECT_EQ(row->storage_state, "v1\nsize 7\ntail 7\n");
    EXPECT_EQ(row->hash_state, "hash-bytes");
    EXPECT_EQ(row->updated_at, 5) << "recording progress keeps the session from expiring";
    EXPECT_TRUE(store_->set_upload_state("missing", "x", "y", 5));
    EXPECT_FALSE((*store_->get_upload("missing")).has_value());
}

TEST_P(MetaStoreContract, LinkingDeletesTheUploadInTheSameTransaction) {
    ASSERT_TRUE(store_->create_upload({"u1", "r", 1, 1}));
    ASSERT_TRUE((*store_->get_upload("u1")).has_value());
    ASSERT_TRUE(store_->link_blob("r", blob_a, 1, "u1", 2));
    EXPECT_FALSE((*store_->get_upload("u1")).has_value());
}

TEST_P(MetaStoreContract, AnUploadHasOneClaimUntilItsLeaseRunsOut) {
    ASSERT_TRUE(store_->create_upload({"u1", "r", 1, 1}));
    EXPECT_TRUE(*store_->claim_upload("u1", "a", 10, 40));
    EXPECT_EQ((*store_->get_upload("u1"))->updated_at, 10) << "a claim refreshes the idle time";
    EXPECT_FALSE(*store_->claim_upload("u1", "b", 20, 50)) << "held by a";
    EXPECT_FALSE(*store_->renew_upload_claim("u1", "b", 20, 50)) << "b holds nothing";
    EXPECT_TRUE(*store_->renew_upload_claim("u1", "a", 30, 60));
    EXPECT_FALSE(*store_->claim_upload("u1", "b", 45, 75)) << "a's renewed lease still runs";
    EXPECT_TRUE(*store_->claim_upload("u1", "b", 61, 91)) << "a's lease ran out: b takes over";
    EXPECT_FALSE(*store_->renew_upload_claim("u1", "a", 62, 92)) << "a lost it";
    ASSERT_TRUE(store_->release_upload_claim("u1", "a"));
    EXPECT_FALSE(*store_->claim_upload("u1", "c", 63, 93)) << "a's release does not free b's claim";
    ASSERT_TRUE(store_->release_upload_claim("u1", "b"));
    EXPECT_TRUE(*store_->claim_upload("u1", "c", 63, 93)) << "free again once b gave it back";
    EXPECT_FALSE(*store_->claim_upload("nope", "c", 63, 93)) << "no such upload";
}

TEST_P(MetaStoreContract, ManifestNeedsItsBlobsInTheSameRepository) {
    ASSERT_TRUE(store_->link_blob("other", blob_a, 1, "", 1));
    auto r = store_->put_manifest(manifest("r", man_1, {"v1"}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::reference_missing);
    EXPECT_EQ(r.error().detail, blob_a);
    // Refused as a whole: no repository, manifest, tag or catalog entry is left behind.
    EXPECT_FALSE(*store_->repository_exists("r"));
    EXPECT_FALSE((*store_->manifest_by_digest("r", man_1)).has_value());
    EXPECT_FALSE((*store_->manifest_by_tag("r", "v1")).has_value());
    EXPECT_FALSE((*store_->list_tags("r", "", 10)).has_value());
    EXPECT_TRUE(store_->list_repositories("", 10)->names.empty());
}

TEST_P(MetaStoreContract, ManifestKeepsTheMediaTypeOfItsFirstPut) {
    ASSERT_TRUE(store_->link_blob("r", blob_a, 1, "", 1));
    ASSERT_TRUE(store_->put_manifest(manifest("r", man_1, {"v1"})));
    auto again = manifest("r", man_1, {"v2"});
    again.media_type = "application/vnd.docker.distribution.manifest.v2+json";
    ASSERT_TRUE(store_->put_manifest(again));
    for (const char* tag : {"v1", "v2"}) {
        auto rec = *store_->manifest_by_tag("r", tag);
        ASSERT_TRUE(rec.has_value()) << tag;
        EXPECT_EQ(rec->media_type, "application/vnd.oci.image.manifest.v1+json") << tag;
    }
    EXPECT_EQ((*store_->manifest_by_digest("r", man_1))->media_type,
              "application/vnd.oci.image.manifest.v1+json");
}

TEST_P(MetaStoreContract, ManifestTagsMoveAndDelete) {
    ASSERT_TRUE(store_->link_blob("r", blob_a, 1, "", 1));
    ASSERT_TRUE(store_->put_manifest(manifest("r", man_1, {"v1", "latest"})));
    ASSERT_TRUE(store_->put_manifest(manifest("r", man_2, {"latest"})));
    EXPECT_EQ((*store_->manifest_by_tag("r", "latest"))->digest, man_2);
    EXPECT_EQ((*store_->manifest_by_tag("r", "v1"))->digest, man_1);
    EXPECT_EQ((*store_->manifest_by_digest("r", man_1))->body, "{\"body\":\"" + man_1 + "\"}");
    EXPECT_TRUE(*store_->delete_tag("r", "v1"));
    EXPECT_TRUE((*store_->manifest_by_digest("r", man_1)).has_value()) << "deleting a tag keeps the manifest";
    EXPECT_TRUE(*store_->delete_manifest("r", man_2));
    EXPECT_FALSE((*store_->manifest_by_tag("r", "latest")).has_value()) << "tags of a deleted manifest go";
    EXPECT_FALSE(*store_->delete_manifest("r", man_2));
}

TEST_P(MetaStoreContract, TagAndCatalogPagination) {
    ASSERT_TRUE(store_->link_blob("r", blob_a, 1, "", 1));
    ASSERT_TRUE(store_->put_manifest(manifest("r", man_1, {"c", "a", "b"})));
    auto p1 = **store_->list_tags("r", "", 2);
    EXPECT_EQ(p1.names, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(p1.more);
    auto p2 = **store_->list_tags("r", "b", 2);
    EXPECT_EQ(p2.names, (std::vector<std::string>{"c"}));
    EXPECT_FALSE(p2.more);
    EXPECT_FALSE((*store_->list_tags("nope", "", 2)).has_value());

    ASSERT_TRUE(store_->link_blob("blobs-only", blob_a, 1, "", 1));
    for (const char* repo : {"z", "m"}) {
        ASSERT_TRUE(store_->link_blob(repo, blob_a, 1, "", 1));
        ASSERT_TRUE(store_->put_manifest(manifest(repo, man_1, {})));
    }
    auto cat = *store_->list_repositories("", 10);
    EXPECT_EQ(cat.names, (std::vector<std::string>{"m", "r", "z"}));
    auto tail = *store_->list_repositories("m", 1);
    EXPECT_EQ(tail.names, (std::vector<std::string>{"r"}));
    EXPECT_TRUE(tail.more);
}

TEST_P(MetaStoreContract, ReferrersFilterByArtifactType) {
    ASSERT_TRUE(store_->link_blob("r", blob_a, 1, "", 1));
    auto sig = manifest("r", man_1, {});
    sig.subject = man_2;
    sig.artifact_type = "application/vnd.example.sig";
    ASSERT_TRUE(store_->put_manifest(sig));
    auto sbom = manifest("r", blob_b, {});
    sbom.subject = man_2;
    sbom.artifact_type = "application/spdx+json";
    ASSERT_TRUE(store_->put_manifest(sbom));
    EXPECT_EQ(store_->referrers("r", man_2, "")->size(), 2u);
    auto only = *store_->referrers("r", man_2, "application/spdx+json");
    ASSERT_EQ(only.size(), 1u);
    EXPECT_EQ(only[0].digest, blob_b);
    EXPECT_TRUE(store_->referrers("other", man_2, "")->empty());
}

TEST_P(MetaStoreContract, ConcurrentWritersAllCommitAndFailuresStayAlone) {
    // Many threads write at once (the SQLite store commits them in groups); every success is
    // durable and visible, and a failing write undoes only itself.
    constexpr int threads = 8;
    constexpr int per_thread = 40;
    std::vector<std::thread> pool;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            const std::string repo = "r" + std::to_string(t);
            for (int i = 0; i < per_thread; ++i) {
                const std::string digest = "sha256:" + std::string(60, 'a') + std::to_string(1000 + i);
                if (!store_->link_blob(repo, digest, static_cast<std::uint64_t>(i), "", 1)) {
                    ++failures;
                }
                if (i % 10 == 0) {
                    auto bad = manifest(repo, man_1, {"x"});
                    bad.refs = {{"sha256:" + std::string(64, 'f'), ManifestRef::Kind::blob}};
                    if (store_->put_manifest(bad)) {
                        ++failures;  // must be refused: the referenced blob is absent
                    }
                }
            }
        });
    }
    for (auto& th : pool) {
        th.join();
    }
    EXPECT_EQ(failures, 0);
    for (int t = 0; t < threads; ++t) {
        const std::string repo = "r" + std::to_string(t);
        for (int i = 0; i < per_thread; ++i) {
            const std::string digest = "sha256:" + std::string(60, 'a') + std::to_string(1000 + i);
            EXPECT_EQ(store_->linked_blob(repo, digest)->value_or(999), static_cast<std::uint64_t>(i));
        }
        EXPECT_FALSE((*store_->manifest_by_digest(repo, man_1)).has_value());
    }
}

TEST_P(MetaStoreContract, ReadyOnceOpened) {
    auto r = store_->ready();
    EXPECT_TRUE(r) << r.error().detail;
}

TEST_P(MetaStoreContract, CountsWhatItHolds) {
    auto empty = store_->counts();
    ASSERT_TRUE(empty) << empty.error().detail;
    EXPECT_EQ(empty->repositories, 0u);
    EXPECT_EQ(empty->blob_bytes, 0u);
    ASSERT_TRUE(store_->link_blob("a", blob_a, 100, "", 1));
    ASSERT_TRUE(store_->link_blob("b", blob_a, 100, "", 1));  // the same blob twice: counted once
    ASSERT_TRUE(store_->link_blob("b", blob_b, 20, "", 1, std::string(20, 'x')));
    ASSERT_TRUE(store_->link_blob("blobs-only", blob_c, 3, "", 1));
    ASSERT_TRUE(store_->put_manifest(manifest("a", man_1, {"v1", "latest"})));
    ASSERT_TRUE(store_->put_manifest(manifest("b", man_1, {})));  // same digest, other repository
    ASSERT_TRUE(store_->put_manifest(manifest("b", man_2, {"v2"})));
    ASSERT_TRUE(store_->create_upload(UploadRow{"u1", "a", 1, 1, ""}));
    ASSERT_TRUE(store_->create_upload(UploadRow{"u2", "b", 1, 1, ""}));
    auto c = store_->counts();
    ASSERT_TRUE(c) << c.error().detail;
    EXPECT_EQ(c->repositories, 2u) << "a repository with blobs only is not listed";
    EXPECT_EQ(c->manifests, 3u);
    EXPECT_EQ(c->tags, 3u);
    EXPECT_EQ(c->blobs, 3u);
    EXPECT_EQ(c->blob_bytes, 123u);
    EXPECT_EQ(c->manifest_bytes, 2 * manifest("a", man_1, {}).body.size() + manifest("b", man_2, {}).body.size());
    EXPECT_EQ(c->uploads, 2u);
    ASSERT_TRUE(store_->delete_upload("u1"));
    ASSERT_TRUE(store_->delete_tag("a", "v1"));
    c = store_->counts();
    EXPECT_EQ(c->uploads, 1u);
    EXPECT_EQ(c->tags, 2u);
}

TEST_P(MetaStoreContract, CatalogAndTagOrderDoNotDependOnTheDatabaseCollation) {
    // Byte order for the catalog; ASCII case-folded order (ties by bytes) for tags. The
    // PostgreSQL test databases collate en-US by default, which orders "_" before "-" and ".",
    // and "a" before "B".
    for (const char* repo : {"a_x", "a0", "a.x", "a-x"}) {
        ASSERT_TRUE(store_->link_blob(repo, blob_a, 1, "", 1));
        ASSERT_TRUE(store_->put_manifest(manifest(repo, man_1, {"b", "B", "a", "A1", "_z", "Z"})));
    }
    EXPECT_EQ(store_->list_repositories("", 10)->names, (std::vector<std::string>{"a-x", "a.x", "a0", "a_x"}));
    EXPECT_EQ(store_->list_repositories("a.x", 10)->names, (std::vector<std::string>{"a0", "a_x"}));
    EXPECT_EQ((*store_->list_tags("a0", "", 10))->names, (std::vector<std::string>{"_z", "a", "A1", "B", "b", "Z"}));
    EXPECT_EQ((*store_->list_tags("a0", "A1", 2))->names, (std::vector<std::string>{"B", "b"}));
    EXPECT_EQ((*store_->list_tags("a0", "B", 10))->names, (std::vector<std::string>{"b", "Z"}));
}

INSTANTIATE_TEST_SUITE_P(
    Backends, MetaStoreContract,
    ::testing::Values(Backend{"sqlite",
                              [](const std::filesystem::path& d) {
                                  return std::unique_ptr<MetaStore>(std::make_unique<SqlMetaStore>(
                                      std::make_shared<sql::sqlite::Database>((d / "meta.db").string(), 2)));
                              }},
                      Backend{"postgres",
                              [](const std::filesystem::path&) {
                                  sql::postgres::Options o;
                                  o.dsn = sql::testing::PostgresServer::shared().create_database();
                                  o.pool_size = 8;
                                  return std::unique_ptr<MetaStore>(
                                      std::make_unique<SqlMetaStore>(std::make_shared<sql::postgres::Database>(o)));
                              }}),
    [](const auto& info) { return std::string(info.param.name); });

// The AuthStore contract ------------------------------------------------------------------
// The methods that decide whether a credential still stands. (The other AuthStore methods are
// exercised through auth/'s unit tests and the API suite.)

struct AuthBackend {
    const char* name;
    /// The metadata store (which may own what the auth store uses) and the auth store.
    std::function<std::pair<std::unique_ptr<MetaStore>, std::unique_ptr<AuthStore>>(
        const std::filesystem::path&)>
        make;
};

std::pair<std::unique_ptr<MetaStore>, std::unique_ptr<AuthStore>> with_auth(std::unique_ptr<SqlMetaStore> meta) {
    auto auth = meta->auth_store();
    return {std::move(meta), std::move(auth)};
}

class AuthStoreContract : public ::testing::TestWithParam<AuthBackend> {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("dermaga-auth-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        std::filesystem::create_directories(dir_);
        std::tie(meta_, store_) = GetParam().make(dir_);
    }
    void TearDown() override {
        store_.reset();
        meta_.reset();
        std::filesystem::remove_all(dir_);
    }
    UserRow user(const std::string& name, bool admin = false) {
        UserRow u;
        u.name = name;
        u.admin = admin;
        u.password_hash = "x";
        u.created_at = 1;
        auto r = store_->create_user(u);
        EXPECT_TRUE(r) << r.error().detail;
        return r.value_or(UserRow{});
    }
    TokenRow token(const UserRow& u, const std::string& name, std::int64_t expires_at) {
        auto r = store_->create_token(TokenRow{0, u.id, u.name, name, "hash-" + u.name + "-" + name,
                                               "pull", 1, expires_at, 0, false});
        EXPECT_TRUE(r) << r.error().detail;
        return r.value_or(TokenRow{});
    }
    SubjectState state(std::string_view kind, std::int64_t id, std::int64_t token_id = 0,
                       std::int64_t now = 100) {
        auto r = store_->subject_state(Subject{kind, id, token_id}, now);
        EXPECT_TRUE(r) << r.error().detail;
        return r.value_or(SubjectState{true, true, -1});
    }
    static inline int counter_ = 0;
    std::filesystem::path dir_;
    std::unique_ptr<MetaStore> meta_;
    std::unique_ptr<AuthStore> store_;
};

TEST_P(AuthStoreContract, SubjectStateFollowsTheAccountById) {
    EXPECT_TRUE(state("anonymous", 0).live);
    const auto alice = user("alice");
    const auto root = user("root", true);
    auto s = state("user", alice.id);
    EXPECT_TRUE(s.live);
    EXPECT_FALSE(s.admin);
    EXPECT_EQ(s.ns_id, alice.ns_id);
    EXPECT_TRUE(state("user", root.id).admin);
    EXPECT_FALSE(state("user", 999999).live) << "an id nobody has";
    EXPECT_FALSE(state("robot", alice.id).live) << "ids are per kind";

    auto disabled = root;
    disabled.disabled = true;
    ASSERT_TRUE(store_->update_user(disabled));
    s = state("user", root.id);
    EXPECT_FALSE(s.live);
    EXPECT_FALSE(s.admin) << "a disabled administrator is no administrator";

    ASSERT_TRUE(*store_->delete_user("alice"));
    EXPECT_FALSE(state("user", alice.id).live);
    const auto again = user("alice");
    EXPECT_NE(again.id, alice.id) << "ids are never reused";
    EXPECT_FALSE(state("user", alice.id).live) << "the old id does not reach the new account";
    EXPECT_TRUE(state("user", again.id).live);
}

TEST_P(AuthStoreContract, SubjectStateChecksThePersonalAccessTokenUsed) {
    const auto alice = user("alice");
    const auto bob = user("bob");
    const auto t = token(alice, "ci", 200);
    EXPECT_TRUE(state("user", alice.id, t.id, 100).live);
    EXPECT_FALSE(state("user", alice.id, t.id, 200).live) << "expired at its expires_at";
    EXPECT_FALSE(state("user", bob.id, t.id, 100).live) << "someone else's token";
    EXPECT_FALSE(state("user", alice.id, t.id + 1000, 100).live) << "a token that does not exist";
    ASSERT_TRUE(*store_->revoke_token(alice.id, "ci"));
    EXPECT_FALSE(state("user", alice.id, t.id, 100).live);
    EXPECT_TRUE(state("user", alice.id, 0, 100).live) << "the account itself stands";
}

TEST_P(AuthStoreContract, SubjectStateChecksRobotsExpiryAndExistence) {
    ASSERT_TRUE(store_->create_org(NamespaceRow{0, "acme", "org", "private", "", 1}));
    auto forever = store_->create_robot(RobotRow{0, "acme", 0, "ci", "h1", 2, "", 1, 0, false});
    auto brief = store_->create_robot(RobotRow{0, "acme", 0, "tmp", "h2", 2, "", 1, 150, false});
    ASSERT_TRUE(forever && brief);
    EXPECT_TRUE(state("robot", forever->id, 0, 100).live);
    EXPECT_TRUE(state("robot", brief->id, 0, 149).live);
    EXPECT_FALSE(state("robot", brief->id, 0, 150).live);
    EXPECT_FALSE(state("robot", forever->id, 1, 100).live)
        << "robots have no personal access tokens";
    EXPECT_FALSE(state("robot", forever->id, 0, 100).admin);
    ASSERT_TRUE(*store_->delete_robot("acme", "ci"));
    EXPECT_FALSE(state("robot", forever->id).live);
}

TEST_P(AuthStoreContract, AccessFactsCarryTheSubjectState) {
    const auto alice = user("alice");
    const auto root = user("root", true);
    ASSERT_TRUE(store_->create_org(NamespaceRow{0, "acme", "org", "public", "", 1}));
    ASSERT_TRUE(store_->set_member("acme", "alice", 2));
    ASSERT_TRUE(store_->set_grant(GrantRow{"acme/app", "user", "alice", 3}));
    auto f = *store_->access_facts(Subject{"user", alice.id, 0}, 100, "acme", "acme/app");
    EXPECT_TRUE(f.subject.live);
    EXPECT_EQ(f.org_role, 2);
    EXPECT_EQ(f.repo_role, 3);
    ASSERT_TRUE(f.ns.has_value());
    EXPECT_EQ(f.ns->default_visibility, "public");
    const auto t = token(alice, "ci", 200);
    f = *store_->access_facts(Subject{"user", alice.id, t.id}, 300, "acme", "acme/app");
    EXPECT_FALSE(f.subject.live) << "the token used has expired";
    EXPECT_EQ(f.org_role, 0);
    EXPECT_EQ(f.repo_role, 0);
    EXPECT_TRUE(
        store_->access_facts(Subject{"user", root.id, 0}, 100, "acme", "acme/app")->subject.admin);
    f = *store_->access_facts(Subject{}, 100, "acme", "acme/app");
    EXPECT_TRUE(f.subject.live);
    EXPECT_EQ(f.ns->default_visibility, "public");
}

TEST_P(AuthStoreContract, DeletingRefreshTokensTouchesOnlyThatSubject) {
    ASSERT_TRUE(store_->put_refresh("r1", RefreshRow{"user", 1, 1000}, 10));
    ASSERT_TRUE(store_->put_refresh("r2", RefreshRow{"user", 1, 1000}, 10));
    ASSERT_TRUE(store_->put_refresh("r3", RefreshRow{"user", 2, 1000}, 10));
    ASSERT_TRUE(store_->put_refresh("r4", RefreshRow{"pat", 1, 1000}, 10));
    ASSERT_TRUE(store_->delete_refresh_tokens("user", 1));
    EXPECT_FALSE(store_->refresh("r1")->has_value());
    EXPECT_FALSE(store_->refresh("r2")->has_value());
    EXPECT_TRUE(store_->refresh("r3")->has_value());
    EXPECT_TRUE(store_->refresh("r4")->has_value());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, AuthStoreContract,
    ::testing::Values(AuthBackend{"sqlite",
                                  [](const std::filesystem::path& d) {
                                      return with_auth(std::make_unique<SqlMetaStore>(
                                          std::make_shared<sql::sqlite::Database>((d / "meta.db").string(), 2)));
                                  }},
                      AuthBackend{"postgres",
                                  [](const std::filesystem::path&) {
                                      sql::postgres::Options o;
                                      o.dsn = sql::testing::PostgresServer::shared().create_database();
                                      o.pool_size = 4;
                                      return with_auth(
                                          std::make_unique<SqlMetaStore>(std::make_shared<sql::postgres::Database>(o)));
                                  }}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace

TEST(SqlMetaStore, NotReadyWhenTheSchemaVersionDiffersOnSqlite) {
    const auto dir = std::filesystem::temp_directory_path() / ("dermaga-meta-ready-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = (dir / "meta.db").string();
    SqlMetaStore store(std::make_shared<sql::sqlite::Database>(path, 2));
    ASSERT_TRUE(store.ready());
    // Another process (a newer node, or a half-done migration) changes the schema version.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
    auto r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::db_error);
    EXPECT_NE(r.error().detail.find("schema is at version 99"), std::string::npos) << r.error().detail;
    std::filesystem::remove_all(dir);
}

TEST(SqlMetaStore, NotReadyWhenTheSchemaVersionDiffersOrTheDatabaseIsGoneOnPostgres) {
    auto& server = sql::testing::PostgresServer::shared();
    sql::postgres::Options o;
    o.dsn = server.create_database();
    auto db = std::make_shared<sql::postgres::Database>(o);
    SqlMetaStore store(db);
    ASSERT_TRUE(store.ready());
    // Another node changes the schema version.
    ASSERT_TRUE(db->write<void>([](sql::Connection& c) { return c.exec("UPDATE dermaga_schema SET version = 99"); }));
    auto r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("schema is at version 99"), std::string::npos) << r.error().detail;
    server.drop_database(o.dsn);
    r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail, "database unreachable") << "no host, port or name in a public reason";
}

/// The value of the sample `name` (a full series name) in an exposition; -1 when absent.
static double sample(const std::string& text, const std::string& name) {
    auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

TEST(SqlMetaStore, GroupCommitsAreMeasured) {
    const auto dir = std::filesystem::temp_directory_path() / ("dermaga-meta-metrics-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        SqlMetaStore store(std::make_shared<sql::sqlite::Database>((dir / "meta.db").string(), 2));
        metrics::Registry reg;
        store.register_metrics(reg);
        const auto before = reg.expose();  // the migrations were writes too
        for (int i = 0; i < 3; ++i) {
            ASSERT_TRUE(store.create_upload(UploadRow{"u" + std::to_string(i), "r", 1, 1, ""}));
        }
        const auto after = reg.expose();
        // One at a time: three commits of one write each.
        for (const char* series : {"dermaga_db_commit_batch_size_sum", "dermaga_db_commit_batch_size_count",
                                   "dermaga_db_commit_duration_seconds_count"}) {
            EXPECT_EQ(sample(after, series) - sample(before, series), 3) << series << "\n" << after;
        }
        EXPECT_EQ(sample(after, "dermaga_db_commit_failures_total"), 0);
        EXPECT_EQ(sample(after, "dermaga_db_transaction_retries_total"), 0);
    }
    std::filesystem::remove_all(dir);
}
