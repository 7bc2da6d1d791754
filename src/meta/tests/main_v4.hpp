#pragma once
// The database main's binary wrote before the SQL layer (fixtures/main_v4.sql, made by
// fixtures/make_main_v4.sh): loading it, and what any store opened on it must read back.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <sstream>
#include <string>

#include "meta/auth_store.hpp"
#include "meta/meta_store.hpp"

namespace dermaga::meta::fixture {

inline const std::string main_manifest = "sha256:379e0d60a3a8d1066b0bbea43e789ecb326efe731f3ae34d692b39838f2380c6";
inline const std::string main_config = "sha256:c5b1d63604f273462ef36fadac3182d43ae6a6138731cf594b314835cf1c034f";
inline const std::string main_layer = "sha256:0875e6300656663805ce35ff86fb6acdebdcd1c9db6cfae78be57e999c509fc5";

/// Writes the fixture into a new SQLite file at `path`, as main's binary left it.
inline void load_main_v4(const std::string& path) {
    std::ifstream in(DERMAGA_META_FIXTURES "/main_v4.sql");
    ASSERT_TRUE(in) << "missing fixture main_v4.sql";
    std::stringstream dump;
    dump << in.rdbuf();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, dump.str().c_str(), nullptr, nullptr, &err);
    const std::string why = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << why;
}

/// Checks, through the store contracts, everything the fixture holds.
inline void expect_main_v4(MetaStore& m, AuthStore& a) {
    auto v1 = m.manifest_by_tag("acme/app", "v1");
    ASSERT_TRUE(v1 && *v1);
    EXPECT_EQ((*v1)->digest, main_manifest);
    EXPECT_EQ((*v1)->media_type, "application/vnd.oci.image.manifest.v1+json");
    EXPECT_EQ((*m.manifest_by_tag("acme/app", "Latest"))->digest, main_manifest);
    EXPECT_EQ((*m.list_tags("acme/app", "", 10))->names, (std::vector<std::string>{"Latest", "v1"}));
    EXPECT_EQ(m.list_repositories("", 10)->names, (std::vector<std::string>{"acme/app", "alice/private"}));
    auto config = m.linked_blob_content("acme/app", main_config);
    ASSERT_TRUE(config && *config);
    EXPECT_EQ((*config)->data.value_or("missing"),
              R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})");
    auto layer = m.linked_blob_content("alice/private", main_layer);
    ASSERT_TRUE(layer && *layer);
    EXPECT_EQ((*layer)->size, 100000u);
    EXPECT_FALSE((*layer)->data) << "a large blob lives in the blob store";
    EXPECT_EQ(m.expired_uploads(INT64_MAX, 10)->size(), 1u);

    auto users = *a.users();
    ASSERT_EQ(users.size(), 3u);
    EXPECT_EQ(users[0].name, "alice");
    EXPECT_TRUE(users[2].admin);
    auto bob = users[1];
    auto facts = a.access_facts(Subject{"user", bob.id, 0}, 100, "acme", "acme/app");
    ASSERT_TRUE(facts);
    EXPECT_EQ(facts->org_role, 1) << "read, through team acme/devs";
    EXPECT_EQ(facts->repo_role, 2) << "write, granted on acme/app";
    EXPECT_EQ(facts->ns->default_visibility, "public");
    auto teams = *a.teams("acme");
    ASSERT_EQ(teams.size(), 1u);
    EXPECT_EQ(teams[0].members, (std::vector<std::string>{"bob"}));
    auto robots = *a.robots("acme");
    ASSERT_EQ(robots.size(), 1u);
    EXPECT_EQ(robots[0].role, 2);
    EXPECT_EQ(a.tokens(bob.id)->size(), 1u);
    EXPECT_EQ(a.signing_keys()->size(), 1u);
    EXPECT_EQ(a.grants("acme/app")->size(), 2u);
    AuditQuery q;
    q.limit = 1000;
    EXPECT_EQ(a.query_audit(q)->size(), 22u);
}

/// New rows after the fixture's take ids beyond the copied ones (a user, an audit entry).
inline void expect_new_ids_follow_main_v4(AuthStore& a) {
    const auto root = (*a.user("root"))->id;
    UserRow u;
    u.name = "carol";
    auto carol = a.create_user(u);
    ASSERT_TRUE(carol) << carol.error().detail;
    EXPECT_GT(carol->id, root);
    AuditRow row;
    row.actor = "x";
    row.action = "y";
    row.outcome = "allowed";
    ASSERT_TRUE(a.append_audit({row}));
    AuditQuery q;
    q.limit = 1;
    EXPECT_GT((*a.query_audit(q))[0].id, 22);
}

}  // namespace dermaga::meta::fixture
