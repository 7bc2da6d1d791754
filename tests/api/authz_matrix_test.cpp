// The authorisation matrix: every /v2 endpoint × every kind of caller × public and private
// repositories, asserting the exact status of each cell. Callers authenticate with HTTP Basic
// (403 when refused) except the anonymous one (401 with a Bearer challenge).

#include <algorithm>
#include <map>

#include "auth/secrets.hpp"
#include "auth_fixture.hpp"

namespace dermaga::test {
namespace {

enum Need { kPull, kPush, kDelete };

struct Endpoint {
    const char* name;
    Need need;
    unsigned ok;  ///< status when allowed
};

const Endpoint endpoints[] = {
    {"GET manifest by tag", kPull, 200}, {"HEAD blob", kPull, 200},         {"GET tags/list", kPull, 200},
    {"GET referrers", kPull, 200},       {"POST upload", kPush, 202},       {"PUT manifest (overwrite tag)", kPush, 201},
    {"DELETE tag", kDelete, 202},        {"DELETE manifest by digest", kDelete, 202},
    {"DELETE blob", kDelete, 202},
};

/// Who may do what: the expected role of each caller on acme's repositories.
struct Who {
    const char* name;
    int role;          ///< 0 none, 1 read, 2 write, 3 delete, 4 admin on acme/*
    bool anonymous = false;
};

const Who callers[] = {
    {"anonymous", 0, true}, {"reader", 1}, {"writer", 2},   {"deleter", 3}, {"orgadmin", 4},
    {"robot", 2},           {"token", 1},  {"outsider", 0}, {"root", 4},
};

class AuthzMatrix : public AuthApiTest {
protected:
    void SetUp() override {
        AuthApiTest::SetUp();
        for (const char* u : {"reader", "writer", "deleter", "orgadmin", "outsider", "tokenowner"}) {
            add_user(u);
        }
        add_user("root", true);
        add_org("acme");
        add_org("other");
        ASSERT_TRUE(store_->set_member("acme", "reader", 1));
        ASSERT_TRUE(store_->put_team(meta::TeamRow{0, "acme", "devs", 2, "", {}}));
        ASSERT_TRUE(store_->add_team_member("acme", "devs", "writer"));
        ASSERT_TRUE(store_->set_member("acme", "orgadmin", 4));
        ASSERT_TRUE(store_->set_member("acme", "tokenowner", 4));
        ASSERT_TRUE(store_->set_member("other", "outsider", 4));
        // deleter holds its role through repository grants only.
        for (const char* repo : {"acme/pub", "acme/priv"}) {
            ASSERT_TRUE(store_->set_grant(meta::GrantRow{repo, "user", "deleter", 3}));
        }
        ASSERT_TRUE(store_->set_visibility("acme/pub", "public"));
        robot_secret_ = auth::new_secret("dmg_robot_");
        ASSERT_TRUE(store_->create_robot(
            meta::RobotRow{0, "acme", 0, "ci", auth::secret_hash(robot_secret_), 2, "", 1, 0, false}));
        // An org admin's personal access token limited to pulling.
        pat_ = auth::new_secret("dmg_pat_");
        auto owner = store_->user("tokenowner");
        ASSERT_TRUE(owner && *owner);
        ASSERT_TRUE(store_->create_token(
            meta::TokenRow{0, (*owner)->id, "tokenowner", "ro", auth::secret_hash(pat_), "pull", 1, 4'000'000'000, 0, false}));
    }

    Headers creds(const Who& w) {
        if (w.anonymous) return {};
        if (std::string(w.name) == "robot") return basic("acme+ci", robot_secret_);
        if (std::string(w.name) == "token") return basic("tokenowner", pat_);
        return as(w.name);
    }

    /// Fresh state for one cell: an image tagged "v1" in `repo`, pushed by root.
    Image seed(const std::string& repo) { return push_image_as(as("root"), repo, "v1", repo + std::to_string(++n_)); }

    HttpResponse call(const Endpoint& e, const std::string& repo, const Image& img, const Headers& h) {
        const std::string base = "/v2/" + repo;
        const std::string e_name = e.name;
        if (e_name == "GET manifest by tag") return http().get(base + "/manifests/v1", h);
        if (e_name == "HEAD blob") return http().head(base + "/blobs/" + sha256(img.layer), h);
        if (e_name == "GET tags/list") return http().get(base + "/tags/list", h);
        if (e_name == "GET referrers") return http().get(base + "/referrers/" + img.digest, h);
        if (e_name == "POST upload") return http().post(base + "/blobs/uploads/", {}, h);
        if (e_name == "PUT manifest (overwrite tag)") {
            Headers hh = h;
            hh.emplace_back("Content-Type", std::string(oci_manifest));
            return http().put(base + "/manifests/v1", img.manifest, hh);
        }
        if (e_name == "DELETE tag") return http().del(base + "/manifests/v1", h);
        if (e_name == "DELETE manifest by digest") return http().del(base + "/manifests/" + img.digest, h);
        return http().del(base + "/blobs/" + sha256(img.layer), h);
    }

    std::string robot_secret_, pat_;
    int n_ = 0;
};

TEST_F(AuthzMatrix, EveryEndpointEveryCallerBothVisibilities) {
    int cells = 0;
    for (const std::string repo : {"acme/pub", "acme/priv"}) {
        const bool pub = repo == "acme/pub";
        Image img = seed(repo);
        for (const auto& e : endpoints) {
            for (const auto& w : callers) {
                const int needed_role = e.need == kPull ? 1 : e.need == kPush ? 2 : 3;
                const bool allowed = w.role >= needed_role || (e.need == kPull && pub);
                const unsigned expect = allowed ? e.ok : w.anonymous ? 401u : 403u;
                auto r = call(e, repo, img, creds(w));
                EXPECT_EQ(r.status, expect) << repo << " | " << e.name << " | " << w.name << "\n" << describe(r);
                if (!allowed && w.anonymous) {
                    EXPECT_NE(r.header("WWW-Authenticate").find("Bearer realm="), std::string::npos);
                }
                if (!allowed && !w.anonymous && std::string(e.name) != "HEAD blob") {
                    EXPECT_TRUE(IsOciError(r, 403, "DENIED"));
                }
                if (allowed && e.need == kDelete) {
                    img = seed(repo);  // the next caller needs something to delete
                }
                ++cells;
            }
        }
    }
    EXPECT_EQ(cells, 2 * 9 * 9);
}

TEST_F(AuthzMatrix, BearerTokensFollowTheSameRules) {
    Image img = seed("acme/priv");
    // A token only carries what was both asked for and allowed.
    auto reader_token = token(as("reader"), "repository:acme/priv:pull,push,delete");
    auto access = jwt_payload(reader_token)["access"];
    ASSERT_EQ(access.size(), 1u);
    EXPECT_EQ(access[0]["actions"], json::array({"pull"}));
    EXPECT_EQ(http().get("/v2/acme/priv/manifests/v1", bearer(reader_token)).status, 200u);
    auto push = http().post("/v2/acme/priv/blobs/uploads/", {}, bearer(reader_token));
    EXPECT_EQ(push.status, 401u);
    EXPECT_NE(push.header("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
    // A token for one repository does not open another.
    auto other = http().get("/v2/acme/pub/tags/list", bearer(reader_token));
    EXPECT_EQ(other.status, 401u) << describe(other);
    // Anonymous tokens pull public repositories only.
    auto anon = token({}, "repository:acme/pub:pull&scope=repository:acme/priv:pull");
    EXPECT_TRUE(IsOciError(http().get("/v2/acme/pub/tags/list", bearer(anon)), 404, "NAME_UNKNOWN")) << "allowed, empty";
    EXPECT_EQ(http().get("/v2/acme/priv/tags/list", bearer(anon)).status, 401u);
    EXPECT_EQ(jwt_payload(anon)["access"].size(), 1u);
}

TEST_F(AuthzMatrix, CatalogListsExactlyWhatEachCallerMayPull) {
    // Repositories across namespaces, reachable in different ways.
    const std::vector<std::string> repos = {"acme/pub", "acme/priv", "acme/granted", "other/x", "other/y",
                                            "outsider/own", "root/z", "toplevel"};
    for (const auto& r : repos) {
        seed(r);
    }
    ASSERT_TRUE(store_->set_grant(meta::GrantRow{"other/y", "user", "reader", 1}));
    ASSERT_TRUE(store_->set_visibility("other/x", "public"));
    for (const auto& w : callers) {
        // The truth: which repositories this caller can pull, one request each.
        std::vector<std::string> expected;
        for (const auto& r : repos) {
            if (http().get("/v2/" + r + "/tags/list", creds(w)).status == 200) {
                expected.push_back(r);
            }
        }
        std::sort(expected.begin(), expected.end());
        // The catalog, walked one entry per page, bearer token for the anonymous caller.
        Headers h = w.anonymous ? bearer(token({}, "registry:catalog:*")) : creds(w);
        std::vector<std::string> listed;
        std::string next = "/v2/_catalog?n=1";
        while (!next.empty()) {
            auto r = http().get(next, h);
            ASSERT_EQ(r.status, 200u) << w.name << " " << describe(r);
            const auto page = json::parse(r.body);
            for (const auto& name : page["repositories"]) {
                listed.push_back(name);
            }
            next = next_link(r);
            // A Link never names a repository the caller may not see.
            if (!next.empty()) {
                auto last = next.substr(next.find("last=") + 5);
                EXPECT_NE(std::find(expected.begin(), expected.end(), last), expected.end()) << w.name << " " << next;
            }
        }
        EXPECT_EQ(listed, expected) << w.name;
    }
}

TEST_F(AuthzMatrix, GrantsRevokedAfterIssueStopTheToken) {
    auto t = token(as("writer"), "repository:acme/priv:pull,push");
    EXPECT_EQ(http().post("/v2/acme/priv/blobs/uploads/", {}, bearer(t)).status, 202u);
    ASSERT_TRUE(store_->remove_team_member("acme", "devs", "writer"));
    EXPECT_EQ(http().post("/v2/acme/priv/blobs/uploads/", {}, bearer(t)).status, 401u);
}

}  // namespace
}  // namespace dermaga::test
