#include "auth_fixture.hpp"

#include <chrono>
#include <thread>

#include "app/meta_database.hpp"
#include "auth/jwt.hpp"
#include "auth/secrets.hpp"

namespace dermaga::test {

namespace {

std::string b64(std::string_view in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                     static_cast<unsigned char>(in[i + 2]);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
    }
    if (i + 1 == in.size()) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
        unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
        out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
    }
    return out;
}

}  // namespace

Headers basic(std::string_view user, std::string_view password) {
    return {{"Authorization", "Basic " + b64(std::string(user) + ":" + std::string(password))}};
}

Headers bearer(std::string_view token) { return {{"Authorization", "Bearer " + std::string(token)}}; }

json jwt_payload(const std::string& token) {
    auto a = token.find('.');
    auto b = token.find('.', a + 1);
    auto raw = auth::base64url_decode(token.substr(a + 1, b - a - 1));
    return raw ? json::parse(*raw) : json();
}

void AuthApiTest::SetUp() {
    ApiTest::SetUp();
    meta_ = std::make_unique<meta::SqlMetaStore>(app::open_meta_database(config_, 2));
    store_ = meta_->auth_store();
}

void AuthApiTest::TearDown() {
    store_.reset();
    meta_.reset();
    ApiTest::TearDown();
}

void AuthApiTest::add_user(const std::string& name, bool admin) {
    meta::UserRow u;
    u.name = name;
    u.admin = admin;
    u.password_hash = *auth::hash_password(password_of(name));
    u.created_at = 1;
    auto r = store_->create_user(u);
    ASSERT_TRUE(r) << r.error().detail;
}

void AuthApiTest::add_org(const std::string& name, const std::string& visibility) {
    auto r = store_->create_org(meta::NamespaceRow{0, name, "org", visibility, "", 1});
    ASSERT_TRUE(r) << r.error().detail;
}

std::string AuthApiTest::token(const Headers& creds, const std::string& scope) {
    auto r = http().get("/token?service=dermaga&scope=" + scope, creds);
    EXPECT_EQ(r.status, 200u) << describe(r);
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("token") ? j["token"].get<std::string>() : std::string();
}

std::string AuthApiTest::push_blob_as(const Headers& creds, std::string_view repo, std::string_view bytes) {
    const std::string digest = sha256(bytes);
    auto start = http().post("/v2/" + std::string(repo) + "/blobs/uploads/", {}, creds);
    if (start.status != 202) {
        ADD_FAILURE() << "POST upload: " << describe(start);
        return digest;
    }
    Headers h = creds;
    h.emplace_back("Content-Type", "application/octet-stream");
    auto put = http().put(with_query(start.header("Location"), "digest=" + digest), bytes, h);
    if (put.status != 201) {
        ADD_FAILURE() << "PUT upload: " << describe(put);
    }
    return digest;
}

Image AuthApiTest::push_image_as(const Headers& creds, std::string_view repo, std::string_view tag,
                                 std::string_view seed) {
    Image img;
    img.config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"seed":")" + std::string(seed) + "\"}";
    img.layer = "layer-" + std::string(seed);
    push_blob_as(creds, repo, img.config);
    push_blob_as(creds, repo, img.layer);
    img.manifest = image_manifest(desc_of(oci_config, img.config), {desc_of(oci_layer, img.layer)}, oci_manifest);
    img.digest = sha256(img.manifest);
    Headers h = creds;
    h.emplace_back("Content-Type", std::string(oci_manifest));
    auto r = http().put("/v2/" + std::string(repo) + "/manifests/" + std::string(tag), img.manifest, h);
    if (r.status != 201) {
        ADD_FAILURE() << "PUT manifest: " << describe(r);
    }
    return img;
}

std::vector<meta::AuditRow> AuthApiTest::audit(const std::string& action, const std::string& outcome,
                                               std::size_t min) {
    meta::AuditQuery q;
    q.action = action;
    q.outcome = outcome;
    q.limit = 1000;
    std::vector<meta::AuditRow> rows;
    for (int i = 0; i < 60; ++i) {
        rows = store_->query_audit(q).value_or(std::vector<meta::AuditRow>{});
        if (rows.size() >= min) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return rows;
}

}  // namespace dermaga::test
