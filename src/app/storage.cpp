#include "app/storage.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "storage/fs/fs_blob_store.hpp"

extern char** environ;

namespace dermaga::app {

namespace {

tl::unexpected<Error> bad(const std::string& key, const std::string& why) {
    return fail(errc::invalid, key + ": " + why);
}

std::string trim(std::string s) {
    const auto a = s.find_first_not_of(" \t\r");
    const auto b = s.find_last_not_of(" \t\r");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

/// Reads "name = value" lines (an AWS credentials file, or access_key / secret_key lines).
Result<storage::s3::Credentials> read_credentials_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return bad("storage.s3.credentials_file", "cannot read " + path);
    }
    storage::s3::Credentials cr;
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos) {
            continue;  // blank, comment or [profile] line
        }
        const auto name = trim(line.substr(0, eq));
        const auto value = trim(line.substr(eq + 1));
        if ((name == "aws_access_key_id" || name == "access_key") && cr.access_key.empty()) {
            cr.access_key = value;
        } else if ((name == "aws_secret_access_key" || name == "secret_key") && cr.secret_key.empty()) {
            cr.secret_key = value;
        } else if (name == "aws_session_token" && cr.session_token.empty()) {
            cr.session_token = value;
        }
    }
    if (cr.access_key.empty() || cr.secret_key.empty()) {
        return bad("storage.s3.credentials_file", path + " has no access key and secret key");
    }
    return cr;
}

std::map<std::string, std::string> process_env() {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string kv(*e);
        if (auto eq = kv.find('='); eq != std::string::npos && kv.starts_with("AWS_")) {
            env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
        }
    }
    return env;
}

}  // namespace

Result<storage::s3::S3StoreOptions> s3_options(const Config& c, const std::map<std::string, std::string>& env) {
    storage::s3::S3StoreOptions o;
    o.s3.endpoint = c.s3_endpoint;
    o.s3.region = c.s3_region;
    o.s3.bucket = c.s3_bucket;
    o.s3.path_style = c.s3_path_style;
    o.s3.http.ca_file = c.s3_ca_file;
    o.s3.http.connect_timeout = std::chrono::seconds(c.s3_connect_timeout);
    o.s3.http.stall_timeout = std::chrono::seconds(c.s3_stall_timeout);
    o.s3.attempts = static_cast<int>(c.s3_attempts);
    o.prefix = c.s3_prefix;
    o.part_size = c.s3_part_size;
    o.redirect_seconds = c.s3_redirect ? c.s3_redirect_expiry : 0;
    if (!c.s3_access_key.empty()) {
        o.s3.credentials = {c.s3_access_key, c.s3_secret_key, ""};
    } else if (!c.s3_credentials_file.empty()) {
        DERMAGA_TRY(cr, read_credentials_file(c.s3_credentials_file));
        o.s3.credentials = std::move(cr);
    } else {
        auto get = [&](const char* k) {
            auto it = env.find(k);
            return it == env.end() ? std::string() : it->second;
        };
        o.s3.credentials = {get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN")};
        if (o.s3.credentials.access_key.empty() || o.s3.credentials.secret_key.empty()) {
            return bad("storage.s3.access_key",
                       "no S3 credentials: set access_key and secret_key, credentials_file, or AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY");
        }
    }
    return o;
}

std::unique_ptr<storage::BlobStore> make_blob_store(const Config& c) {
    if (c.storage_driver != "s3") {
        std::filesystem::create_directories(c.data_dir);
        return std::make_unique<storage::FsBlobStore>(c.blob_root());
    }
    auto o = s3_options(c, process_env());
    if (!o) {
        throw std::runtime_error(o.error().detail);
    }
    std::unique_ptr<storage::s3::S3BlobStore> store;
    try {
        store = std::make_unique<storage::s3::S3BlobStore>(std::move(*o));
    } catch (const std::invalid_argument& e) {
        throw std::runtime_error(e.what());
    }
    if (c.s3_create_bucket) {
        if (auto r = store->create_bucket(); !r) {
            throw std::runtime_error("storage.s3.create_bucket: " + r.error().detail);
        }
    }
    return store;
}

}  // namespace dermaga::app
