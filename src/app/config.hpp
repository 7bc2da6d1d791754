#pragma once
// Typed configuration. Sources, later ones winning: built-in defaults, the YAML file,
// DERMAGA_* environment variables, command-line flags. Every key is listed once in the key
// table in config.cpp, which also drives validation, environment names and `check-config`.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "auth/ldap/directory.hpp"
#include "core/result.hpp"

namespace dermaga::app {

struct Config {
    // http
    std::string http_addr = "127.0.0.1:5000";
    unsigned http_threads = 0;  ///< 0: one per core
    std::int64_t http_read_timeout = 60;
    std::int64_t http_write_timeout = 60;
    std::int64_t http_idle_timeout = 120;
    std::uint64_t http_max_header_bytes = 16 * 1024;
    std::uint64_t http_max_connections = 10000;
    std::uint64_t http_max_inflight = 4096;
    std::uint64_t http_min_body_rate = 4096;  ///< bytes per second; 0: no limit
    std::int64_t http_shutdown_grace = 30;
    // http.tls: HTTPS when cert and key are set
    std::string http_tls_cert;                ///< PEM certificate chain, leaf first
    std::string http_tls_key;                 ///< PEM private key
    std::string http_tls_client_ca;           ///< PEM CAs for client certificates
    std::string http_tls_client_auth = "none";  ///< none | optional | require
    bool http_tls_kernel = true;              ///< kernel TLS where the kernel offers it
    // storage
    std::string data_dir = "./data";
    std::string storage_driver = "filesystem";
    std::string storage_filesystem_root;  ///< default: <data_dir>
    std::uint64_t storage_inline_blob_bytes = 64 * 1024;  ///< blobs up to this size live in the metadata store
    // storage.s3 (storage.driver: s3)
    std::string s3_endpoint;  ///< scheme://host[:port]
    std::string s3_region = "us-east-1";
    std::string s3_bucket;
    std::string s3_prefix;  ///< key prefix inside the bucket
    bool s3_path_style = true;
    std::string s3_access_key;  ///< else credentials_file, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
    std::string s3_secret_key;
    std::string s3_credentials_file;
    std::string s3_ca_file;  ///< PEM bundle for https endpoints (default: the system store)
    std::uint64_t s3_part_size = 8 * 1024 * 1024;
    bool s3_redirect = false;
    std::int64_t s3_redirect_expiry = 300;
    std::int64_t s3_connect_timeout = 3;
    std::int64_t s3_stall_timeout = 15;
    std::uint64_t s3_attempts = 3;
    bool s3_create_bucket = false;
    // metadata
    std::string meta_driver = "sqlite";  ///< sqlite | postgres
    std::string meta_sqlite_path;  ///< default: <data_dir>/meta.db
    std::string meta_postgres_dsn;  ///< libpq connection string or URI (meta.driver postgres)
    std::uint64_t meta_postgres_pool_size = 16;
    std::int64_t meta_postgres_connect_timeout = 5;    ///< seconds
    std::int64_t meta_postgres_statement_timeout = 10; ///< seconds
    unsigned blocking_threads = 0;   ///< 0: 8 per core, at least 16
    // limits
    std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
    std::uint64_t max_page_size = 10000;
    std::int64_t upload_expiry = 24 * 3600;
    std::uint64_t manifest_cache_bytes = 64 * 1024 * 1024;
    /// Seconds a node serves a cached manifest before asking the database again, with
    /// meta.driver postgres (other nodes' writes); 0: no cache there. SQLite: unused (exact).
    std::int64_t manifest_cache_max_age = 1;
    // access control
    bool auth_enabled = true;
    std::string auth_realm;  ///< token endpoint URL for challenges; default from the request's Host
    std::string auth_service = "dermaga";
    std::string auth_issuer = "dermaga";
    std::int64_t auth_token_ttl = 300;
    std::int64_t auth_refresh_ttl = 30 * 86400;
    std::uint64_t auth_lockout_threshold = 10;
    std::uint64_t auth_lockout_ip_threshold = 100;
    std::int64_t auth_lockout_window = 900;
    std::int64_t auth_lockout_duration = 900;
    bool auth_certificate_users = true;
    // LDAP (login for accounts the directory owns; off while url is empty)
    std::string ldap_url;
    std::string ldap_bind_dn;
    std::string ldap_bind_password;
    std::string ldap_user_base;
    std::string ldap_user_filter = "(uid={user})";
    std::string ldap_group_base;
    std::string ldap_group_filter = "(member={dn})";
    std::string ldap_group_name_attr = "cn";
    bool ldap_start_tls = false;
    std::string ldap_ca_file;
    std::int64_t ldap_timeout = 5;
    // metrics
    bool metrics_enabled = true;
    std::string metrics_addr;  ///< separate listener for /metrics; empty: on http_addr
    bool metrics_public = false;  ///< /metrics on http_addr without credentials (access control on)
    std::int64_t metrics_store_interval = 60;  ///< seconds between recounts of stored objects
    // log
    std::string log_level = "info";
    bool log_access = true;

    bool tls_enabled() const { return !http_tls_cert.empty(); }
    std::string blob_root() const;
    std::string sqlite_path() const;
};

/// Errors are config errors with a one-line reason naming the key.
enum class errc { invalid = 1 };
const std::error_category& category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// Applies a YAML document (text). Unknown keys are rejected.
Result<void> apply_yaml(Config& c, const std::string& yaml_text);
/// Applies DERMAGA_* variables from `env` (name → value).
Result<void> apply_env(Config& c, const std::map<std::string, std::string>& env);
/// Applies one key by its dotted name ("http.addr").
Result<void> apply_key(Config& c, const std::string& key, const std::string& value);
/// Checks cross-key constraints (drivers known, addr parseable, ...).
Result<void> validate(const Config& c);
/// Loads: defaults, then `path` (if not empty), then the process environment.
Result<Config> load(const std::string& path);

/// Every documented key with its environment variable and current value, for check-config.
std::vector<std::vector<std::string>> describe(const Config& c);

/// The LDAP client settings from the auth.ldap.* keys.
auth::ldap::Config ldap_config(const Config& c);

/// Splits "host:port". Errors: errc::invalid, naming `key`.
Result<std::pair<std::string, std::uint16_t>> split_addr(const std::string& addr, const std::string& key = "http.addr");

}  // namespace dermaga::app

template <>
struct std::is_error_code_enum<dermaga::app::errc> : std::true_type {};
