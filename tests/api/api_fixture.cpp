#include "api_fixture.hpp"

#include <openssl/evp.h>

#include <cstdlib>
#include <stdexcept>

#include "sql/testing/postgres_server.hpp"
#include "sql/testing/test_database.hpp"

namespace dermaga::test {

namespace {

std::string hex_digest(const EVP_MD* md, std::string_view prefix, std::string_view bytes) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), out, &len, md, nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    static constexpr char hexdigits[] = "0123456789abcdef";
    std::string s(prefix);
    for (unsigned i = 0; i < len; ++i) {
        s.push_back(hexdigits[out[i] >> 4]);
        s.push_back(hexdigits[out[i] & 0xf]);
    }
    return s;
}

std::string desc_json(const Desc& d) {
    return "{ \"mediaType\":\"" + d.media_type + "\",\n      \"digest\" : \"" + d.digest +
           "\", \"size\":" + std::to_string(d.size) + d.extra + "}";
}

std::string join_descs(const std::vector<Desc>& ds) {
    std::string out;
    for (std::size_t i = 0; i < ds.size(); ++i) {
        out += i ? ",\n\t\t" : "\n\t\t";
        out += desc_json(ds[i]);
    }
    return out;
}

}  // namespace

void use_test_s3(app::Config& config, const std::string& prefix) {
    const char* endpoint = std::getenv("DERMAGA_TEST_S3_ENDPOINT");
    if (endpoint == nullptr || *endpoint == '\0') {
        return;
    }
    auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    config.storage_driver = "s3";
    config.s3_endpoint = endpoint;
    config.s3_region = env("DERMAGA_TEST_S3_REGION");
    config.s3_bucket = env("DERMAGA_TEST_S3_BUCKET");
    config.s3_access_key = env("DERMAGA_TEST_S3_ACCESS_KEY");
    config.s3_secret_key = env("DERMAGA_TEST_S3_SECRET_KEY");
    config.s3_prefix = prefix + "/";  // one registry's blobs apart from the others'
    config.s3_part_size = 5 * 1024 * 1024;
    config.s3_create_bucket = true;
    config.storage_inline_blob_bytes = 0;  // every blob with a byte goes through S3
}

std::string sha256(std::string_view bytes) { return hex_digest(EVP_sha256(), "sha256:", bytes); }
std::string sha512(std::string_view bytes) { return hex_digest(EVP_sha512(), "sha512:", bytes); }
std::string absent_digest(std::string_view salt) {
    return sha256("never pushed: " + std::string(salt));
}

Desc desc_of(std::string_view media_type, std::string_view bytes, std::string extra) {
    return Desc{std::string(media_type), sha256(bytes), bytes.size(), std::move(extra)};
}

std::string image_manifest(const Desc& config, const std::vector<Desc>& layers,
                           std::string_view media_type, std::string_view extra) {
    std::string m = "{\n  \"schemaVersion\" :2,";
    if (!media_type.empty()) {
        m += "\n\t\"mediaType\":   \"" + std::string(media_type) + "\",";
    }
    m += "\n  \"config\": " + desc_json(config) + " ,\n  \"layers\": [" + join_descs(layers) +
         "\n  ]";
    m += extra;
    m += "\n}\n";
    return m;
}

std::string index_manifest(const std::vector<Desc>& manifests, std::string_view media_type,
                           std::string_view extra) {
    std::string m = "{\"schemaVersion\": 2 ,";
    if (!media_type.empty()) {
        m += " \"mediaType\" : \"" + std::string(media_type) + "\",";
    }
    m += "\r\n \"manifests\": [" + join_descs(manifests) + "]";
    m += extra;
    m += "}  ";
    return m;
}

std::string describe(const HttpResponse& r) {
    std::string s = "HTTP " + std::to_string(r.status) + "\n";
    for (const auto& [k, v] : r.headers) {
        s += k + ": " + v + "\n";
    }
    s += "\n" + r.body.substr(0, 2000);
    return s;
}

::testing::AssertionResult IsOciError(const HttpResponse& r, unsigned status,
                                      std::string_view code) {
    if (r.status != status) {
        return ::testing::AssertionFailure()
               << "expected status " << status << " " << code << ", got\n"
               << describe(r);
    }
    if (r.header("Content-Type").rfind("application/json", 0) != 0) {
        return ::testing::AssertionFailure() << "error body is not JSON:\n" << describe(r);
    }
    json doc = json::parse(r.body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("errors") ||
        !doc["errors"].is_array() || doc["errors"].empty()) {
        return ::testing::AssertionFailure() << "not an OCI error envelope:\n" << describe(r);
    }
    for (const auto& e : doc["errors"]) {
        if (!e.is_object() || !e.contains("code") || !e["code"].is_string() ||
            (e.contains("message") && !e["message"].is_string())) {
            return ::testing::AssertionFailure() << "malformed error entry:\n" << describe(r);
        }
    }
    if (doc["errors"][0]["code"] != code) {
        return ::testing::AssertionFailure() << "expected code " << code << ", got\n"
                                             << describe(r);
    }
    return ::testing::AssertionSuccess();
}

std::string with_query(const std::string& url, std::string_view param) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(param);
}

std::string next_link(const HttpResponse& r) {
    auto link = r.header("Link");
    if (link.empty()) {
        return {};
    }
    auto open = link.find('<');
    auto close = link.find('>');
    if (open == std::string::npos || close == std::string::npos || close < open ||
        link.find("rel=\"next\"", close) == std::string::npos) {
        ADD_FAILURE() << "malformed Link header: " << link;
        return {};
    }
    return link.substr(open + 1, close - open - 1);
}

void ApiTest::SetUp() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dermaga-api-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        FAIL() << "mkdtemp failed";
    }
    dir_ = tmpl;
    config_.http_addr = "127.0.0.1:0";
    config_.data_dir = dir_.string();
    config_.log_access = false;
    config_.http_threads = 2;
    config_.blocking_threads = 8;
    config_.http_shutdown_grace = 1;
    config_.auth_enabled = false;  // the open-registry suites; access control has its own
    if (sql::testing::test_engine() == "postgres") {
        config_.meta_driver = "postgres";
        config_.meta_postgres_dsn = sql::testing::PostgresServer::shared().create_schema();
        config_.meta_postgres_pool_size = 8;
    }
    use_test_s3(config_, dir_.filename().string());
    configure(config_);
    start_app();
}


void ApiTest::TearDown() {
    client_.reset();
    if (app_) {
        app_->stop();
        app_.reset();
    }
    std::error_code ignore;
    std::filesystem::remove_all(dir_, ignore);
    if (!config_.meta_postgres_dsn.empty()) {
        sql::testing::PostgresServer::shared().drop_schema(config_.meta_postgres_dsn);
    }
}

void ApiTest::start_app() {
    app_ = std::make_unique<app::App>(config_);
    port_ = app_->start();
    client_ = new_client();
}

void ApiTest::restart_app() {
    client_.reset();
    app_->stop();
    app_.reset();
    start_app();
}

std::uint16_t ApiTest::metrics_port() const { return app_->metrics_port(); }

std::unique_ptr<HttpClient> ApiTest::new_client() const {
    return std::make_unique<HttpClient>("127.0.0.1", port_);
}

std::string ApiTest::push_blob(std::string_view repo, std::string_view bytes) {
    const std::string digest = sha256(bytes);
    auto start = http().post("/v2/" + std::string(repo) + "/blobs/uploads/");
    if (start.status != 202 || start.header("Location").empty()) {
        ADD_FAILURE() << "POST upload: " << describe(start);
        return digest;
    }
    auto put = http().put(with_query(start.header("Location"), "digest=" + digest), bytes,
                          {{"Content-Type", "application/octet-stream"}});
    if (put.status != 201) {
        ADD_FAILURE() << "PUT upload: " << describe(put);
    }
    return digest;
}

std::string ApiTest::push_manifest(std::string_view repo, std::string_view reference,
                                   std::string_view body, std::string_view content_type) {
    const std::string digest = sha256(body);
    Headers h;
    if (!content_type.empty()) {
        h.emplace_back("Content-Type", std::string(content_type));
    }
    auto r =
        http().put("/v2/" + std::string(repo) + "/manifests/" + std::string(reference), body, h);
    if (r.status != 201) {
        ADD_FAILURE() << "PUT manifest " << repo << ":" << reference << ": " << describe(r);
    } else if (reference.find(':') == std::string_view::npos &&
               r.header("Docker-Content-Digest") != digest) {
        ADD_FAILURE() << "PUT manifest digest mismatch: " << describe(r);
    }
    return digest;
}

Image ApiTest::push_image(std::string_view repo, std::string_view tag, std::string_view seed,
                          std::string_view manifest_media_type) {
    Image img;
    const bool docker = manifest_media_type == docker_manifest;
    img.config = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},"seed":")" +
                 std::string(seed) + "\"}";
    img.layer = "layer bytes of " + std::string(seed) + std::string(300, 'x');
    push_blob(repo, img.config);
    push_blob(repo, img.layer);
    img.manifest = image_manifest(desc_of(docker ? docker_config : oci_config, img.config),
                                  {desc_of(docker ? docker_layer : oci_layer, img.layer)},
                                  manifest_media_type);
    img.digest = sha256(img.manifest);
    img.descriptor = Desc{std::string(manifest_media_type), img.digest, img.manifest.size(), {}};
    push_manifest(repo, tag.empty() ? std::string_view(img.digest) : tag, img.manifest,
                  manifest_media_type);
    return img;
}

json ApiTest::get_json(const std::string& target) {
    auto r = http().get(target);
    if (r.status != 200) {
        ADD_FAILURE() << "GET " << target << ": " << describe(r);
        return json();
    }
    json doc = json::parse(r.body, nullptr, false);
    if (doc.is_discarded()) {
        ADD_FAILURE() << "GET " << target << " is not JSON: " << r.body;
        return json();
    }
    return doc;
}

}  // namespace dermaga::test
