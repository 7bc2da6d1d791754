#include "app/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>

#include "auth/ldap/directory.hpp"
#include "core/log.hpp"
#include "sql/postgres/postgres.hpp"

extern char** environ;

namespace dermaga::app {

namespace {

struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.config"; }
    std::string message(int) const override { return "invalid configuration"; }
};

tl::unexpected<Error> bad(const std::string& key, const std::string& why) {
    return fail(errc::invalid, key + ": " + why);
}

Result<std::uint64_t> parse_uint(const std::string& key, std::string_view v) {
    std::uint64_t out = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
        return bad(key, "expected a non-negative integer, got \"" + std::string(v) + "\"");
    }
    return out;
}

/// "30", "30s", "5m", "24h" → seconds.
Result<std::int64_t> parse_duration(const std::string& key, std::string_view v) {
    std::int64_t mult = 1;
    if (!v.empty() && (v.back() == 's' || v.back() == 'm' || v.back() == 'h')) {
        mult = v.back() == 's' ? 1 : v.back() == 'm' ? 60 : 3600;
        v.remove_suffix(1);
    }
    auto n = parse_uint(key, v);
    if (!n) {
        return bad(key, "expected a duration such as 30s, 5m or 24h");
    }
    return static_cast<std::int64_t>(*n) * mult;
}

/// "4194304", "4MiB", "16KiB", "1GiB" → bytes.
Result<std::uint64_t> parse_size(const std::string& key, std::string_view v) {
    std::uint64_t mult = 1;
    for (auto [suffix, m] : {std::pair{"KiB", 1ull << 10}, std::pair{"MiB", 1ull << 20}, std::pair{"GiB", 1ull << 30}}) {
        std::string_view s(suffix);
        if (v.size() > s.size() && v.substr(v.size() - s.size()) == s) {
            mult = m;
            v.remove_suffix(s.size());
            break;
        }
    }
    auto n = parse_uint(key, v);
    if (!n) {
        return bad(key, "expected a size such as 4194304, 512KiB or 4MiB");
    }
    return *n * mult;
}

Result<bool> parse_bool(const std::string& key, std::string_view v) {
    if (v == "true" || v == "1" || v == "yes") {
        return true;
    }
    if (v == "false" || v == "0" || v == "no") {
        return false;
    }
    return bad(key, "expected true or false");
}

using Setter = std::function<Result<void>(Config&, const std::string& key, const std::string& value)>;
using Getter = std::function<std::string(const Config&)>;

struct Key {
    const char* name;
    const char* help;
    Setter set;
    Getter get;
};

template <class T>
Key str_key(const char* name, const char* help, T Config::*field) {
    return {name, help, [field](Config& c, const std::string&, const std::string& v) -> Result<void> {
                c.*field = v;
                return {};
            },
            [field](const Config& c) { return std::string(c.*field); }};
}

template <class T, class Parse>
Key num_key(const char* name, const char* help, T Config::*field, Parse parse) {
    return {name, help, [field, parse](Config& c, const std::string& k, const std::string& v) -> Result<void> {
                auto r = parse(k, v);
                if (!r) {
                    return tl::unexpected(r.error());
                }
                c.*field = static_cast<T>(*r);
                return {};
            },
            [field](const Config& c) { return std::to_string(c.*field); }};
}

Key bool_key(const char* name, const char* help, bool Config::*field) {
    return {name, help, [field](Config& c, const std::string& k, const std::string& v) -> Result<void> {
                DERMAGA_TRY(b, parse_bool(k, v));
                c.*field = b;
                return {};
            },
            [field](const Config& c) { return std::string(c.*field ? "true" : "false"); }};
}

const std::vector<Key>& keys() {
    static const std::vector<Key> all = {
        str_key("http.addr", "listen address host:port", &Config::http_addr),
        num_key("http.threads", "I/O threads (0: one per core)", &Config::http_threads, parse_uint),
        num_key("http.read_timeout", "deadline for each read of a request", &Config::http_read_timeout, parse_duration),
        num_key("http.write_timeout", "deadline for each write of a response", &Config::http_write_timeout, parse_duration),
        num_key("http.idle_timeout", "keep-alive connection idle limit", &Config::http_idle_timeout, parse_duration),
        num_key("http.max_header_bytes", "largest request header", &Config::http_max_header_bytes, parse_size),
        num_key("http.max_connections", "open connections limit", &Config::http_max_connections, parse_uint),
        num_key("http.max_inflight", "concurrent requests before 429", &Config::http_max_inflight, parse_uint),
        num_key("http.min_body_rate", "slowest average request body rate per second after read_timeout (0: none)",
                &Config::http_min_body_rate, parse_size),
        num_key("http.shutdown_grace", "time in-flight requests get at shutdown", &Config::http_shutdown_grace, parse_duration),
        str_key("http.tls.cert", "PEM certificate chain: serve HTTPS only (with http.tls.key)", &Config::http_tls_cert),
        str_key("http.tls.key", "PEM private key of http.tls.cert", &Config::http_tls_key),
        str_key("http.tls.client_ca", "PEM CAs that verify client certificates", &Config::http_tls_client_ca),
        str_key("http.tls.client_auth", "client certificates: none, optional or require", &Config::http_tls_client_auth),
        bool_key("http.tls.kernel", "let the kernel encrypt (kernel TLS) where it offers to", &Config::http_tls_kernel),
        str_key("storage.data_dir", "directory for data (blobs and database)", &Config::data_dir),
        str_key("storage.driver", "blob storage driver: filesystem or s3", &Config::storage_driver),
        str_key("storage.filesystem.root", "root of blobs/ and uploads/ (default <data_dir>)", &Config::storage_filesystem_root),
        num_key("storage.inline_blob_bytes", "blobs up to this size are kept in the metadata store (at most 1MiB)", &Config::storage_inline_blob_bytes, parse_size),
        str_key("storage.s3.endpoint", "S3 endpoint, http(s)://host[:port]", &Config::s3_endpoint),
        str_key("storage.s3.region", "region the requests are signed for", &Config::s3_region),
        str_key("storage.s3.bucket", "bucket (must exist unless create_bucket)", &Config::s3_bucket),
        str_key("storage.s3.prefix", "key prefix inside the bucket", &Config::s3_prefix),
        bool_key("storage.s3.path_style", "endpoint/bucket/key (false: bucket.endpoint/key)", &Config::s3_path_style),
        str_key("storage.s3.access_key", "access key id (else credentials_file, else AWS_ACCESS_KEY_ID)", &Config::s3_access_key),
        str_key("storage.s3.secret_key", "secret access key", &Config::s3_secret_key),
        str_key("storage.s3.credentials_file", "file with access_key and secret_key lines (AWS credentials style)", &Config::s3_credentials_file),
        str_key("storage.s3.ca_file", "CA certificates (PEM) for an https endpoint (default: system store)", &Config::s3_ca_file),
        num_key("storage.s3.part_size", "multipart part size, at least 5MiB (memory per upload)", &Config::s3_part_size, parse_size),
        bool_key("storage.s3.redirect", "answer blob GETs with 307 to a presigned URL", &Config::s3_redirect),
        num_key("storage.s3.redirect_expiry", "validity of presigned URLs", &Config::s3_redirect_expiry, parse_duration),
        num_key("storage.s3.connect_timeout", "limit for connecting to S3", &Config::s3_connect_timeout, parse_duration),
        num_key("storage.s3.stall_timeout", "an S3 transfer moving no byte this long fails", &Config::s3_stall_timeout, parse_duration),
        num_key("storage.s3.attempts", "tries per S3 call on 5xx, SlowDown and connection errors", &Config::s3_attempts, parse_uint),
        bool_key("storage.s3.create_bucket", "create the bucket at start-up if missing", &Config::s3_create_bucket),
        str_key("meta.driver", "metadata driver: sqlite (one node) or postgres (many nodes)", &Config::meta_driver),
        str_key("meta.sqlite.path", "SQLite file (default <data_dir>/meta.db)", &Config::meta_sqlite_path),
        str_key("meta.postgres.dsn", "PostgreSQL connection string or URI (libpq)", &Config::meta_postgres_dsn),
        num_key("meta.postgres.pool_size", "PostgreSQL connections per node, at most", &Config::meta_postgres_pool_size, parse_uint),
        num_key("meta.postgres.connect_timeout", "give up connecting to PostgreSQL after", &Config::meta_postgres_connect_timeout, parse_duration),
        num_key("meta.postgres.statement_timeout", "longest PostgreSQL statement or lock wait", &Config::meta_postgres_statement_timeout, parse_duration),
        num_key("runtime.blocking_threads", "threads for file, fsync and database work (0: 8 per core, at least 16)", &Config::blocking_threads, parse_uint),
        num_key("limits.max_manifest_bytes", "largest manifest accepted", &Config::max_manifest_bytes, parse_size),
        num_key("limits.max_page_size", "largest n for tags/list and _catalog", &Config::max_page_size, parse_uint),
        num_key("cache.manifest_bytes", "memory for hot manifests (0 disables)", &Config::manifest_cache_bytes, parse_size),
        num_key("cache.manifest_max_age", "with meta.driver postgres: longest a node serves a cached manifest without asking the database (0: no cache)",
                &Config::manifest_cache_max_age, parse_duration),
        num_key("limits.upload_expiry", "idle upload sessions expire after", &Config::upload_expiry, parse_duration),
        str_key("log.level", "debug, info, warn, error or off", &Config::log_level),
        bool_key("log.access", "write an access log line per request", &Config::log_access),
        bool_key("auth.enabled", "access control (false: anyone may pull and push; for trusted networks only)", &Config::auth_enabled),
        str_key("auth.realm", "token endpoint URL sent in challenges (default: from the request's Host)", &Config::auth_realm),
        str_key("auth.service", "service name (token audience)", &Config::auth_service),
        str_key("auth.issuer", "token issuer", &Config::auth_issuer),
        num_key("auth.token_ttl", "bearer token lifetime", &Config::auth_token_ttl, parse_duration),
        num_key("auth.refresh_ttl", "refresh token lifetime (docker login)", &Config::auth_refresh_ttl, parse_duration),
        num_key("auth.lockout.threshold", "failed logins for one user before it is locked", &Config::auth_lockout_threshold, parse_uint),
        num_key("auth.lockout.ip_threshold", "failed logins from one address before it is locked", &Config::auth_lockout_ip_threshold, parse_uint),
        num_key("auth.lockout.window", "period over which failed logins count", &Config::auth_lockout_window, parse_duration),
        num_key("auth.lockout.duration", "how long a locked user or address waits", &Config::auth_lockout_duration, parse_duration),
        str_key("auth.ldap.url", "LDAP server (ldap://host:389 or ldaps://host:636); empty: no LDAP", &Config::ldap_url),
        str_key("auth.ldap.bind_dn", "service account for user searches (empty: anonymous search)", &Config::ldap_bind_dn),
        str_key("auth.ldap.bind_password", "service account password", &Config::ldap_bind_password),
        str_key("auth.ldap.user_base", "where users are searched", &Config::ldap_user_base),
        str_key("auth.ldap.user_filter", "user search filter; {user} is the escaped login name", &Config::ldap_user_filter),
        str_key("auth.ldap.group_base", "where groups are searched (empty: no group lookup)", &Config::ldap_group_base),
        str_key("auth.ldap.group_filter", "group filter; {dn} is the user's DN, {user} the login name", &Config::ldap_group_filter),
        str_key("auth.ldap.group_name_attr", "group name attribute", &Config::ldap_group_name_attr),
        bool_key("auth.ldap.start_tls", "upgrade ldap:// connections with StartTLS", &Config::ldap_start_tls),
        str_key("auth.ldap.ca_file", "CA certificate (PEM) to verify the LDAP server", &Config::ldap_ca_file),
        num_key("auth.ldap.timeout", "limit for each LDAP network step", &Config::ldap_timeout, parse_duration),
        bool_key("auth.certificate_users", "a verified client certificate's CN logs in that user", &Config::auth_certificate_users),
        bool_key("metrics.enabled", "keep request metrics and serve /metrics", &Config::metrics_enabled),
        str_key("metrics.addr", "separate plain-HTTP listener for /metrics, /healthz, /readyz (empty: on http.addr)", &Config::metrics_addr),
        bool_key("metrics.public", "/metrics on http.addr without credentials when access control is on", &Config::metrics_public),
        num_key("metrics.store_interval", "how often the stored-object counts are recounted", &Config::metrics_store_interval, parse_duration),
    };
    return all;
}

std::string env_name(std::string_view key) {
    std::string out = "DERMAGA_";
    for (char ch : key) {
        out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return out;
}

Result<void> walk(Config& c, const YAML::Node& node, const std::string& prefix) {
    if (node.IsNull()) {
        return {};
    }
    if (!node.IsMap()) {
        return bad(prefix.empty() ? "config" : prefix, "expected a mapping");
    }
    for (const auto& kv : node) {
        std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
        if (kv.second.IsMap()) {
            DERMAGA_CHECK(walk(c, kv.second, key));
        } else if (kv.second.IsScalar()) {
            DERMAGA_CHECK(apply_key(c, key, kv.second.Scalar()));
        } else if (!kv.second.IsNull()) {
            return bad(key, "expected a scalar value");
        }
    }
    return {};
}

}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

auth::ldap::Config ldap_config(const Config& c) {
    auth::ldap::Config l;
    l.url = c.ldap_url;
    l.bind_dn = c.ldap_bind_dn;
    l.bind_password = c.ldap_bind_password;
    l.user_base = c.ldap_user_base;
    l.user_filter = c.ldap_user_filter;
    l.group_base = c.ldap_group_base;
    l.group_filter = c.ldap_group_filter;
    l.group_name_attr = c.ldap_group_name_attr;
    l.start_tls = c.ldap_start_tls;
    l.ca_file = c.ldap_ca_file;
    l.timeout = std::chrono::seconds(c.ldap_timeout);
    return l;
}

std::string Config::blob_root() const {
    return storage_filesystem_root.empty() ? data_dir : storage_filesystem_root;
}

std::string Config::sqlite_path() const {
    return meta_sqlite_path.empty() ? data_dir + "/meta.db" : meta_sqlite_path;
}

Result<void> apply_key(Config& c, const std::string& key, const std::string& value) {
    for (const auto& k : keys()) {
        if (key == k.name) {
            return k.set(c, key, value);
        }
    }
    return fail(errc::invalid, "unknown config key \"" + key + "\"");
}

Result<void> apply_yaml(Config& c, const std::string& yaml_text) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        return fail(errc::invalid, std::string("YAML: ") + e.what());
    }
    return walk(c, root, "");
}

Result<void> apply_env(Config& c, const std::map<std::string, std::string>& env) {
    for (const auto& k : keys()) {
        auto it = env.find(env_name(k.name));
        if (it != env.end()) {
            DERMAGA_CHECK(k.set(c, it->first, it->second));
        }
    }
    // A DERMAGA_ variable naming no key is a typo worth stopping for.
    for (const auto& [name, value] : env) {
        if (name.rfind("DERMAGA_", 0) != 0 || name == "DERMAGA_CONFIG" || name.rfind("DERMAGA_BOOTSTRAP_ADMIN_", 0) == 0) {
            continue;
        }
        bool known = std::any_of(keys().begin(), keys().end(), [&](const Key& k) { return env_name(k.name) == name; });
        if (!known) {
            return fail(errc::invalid, "unknown environment variable " + name);
        }
    }
    return {};
}

Result<std::pair<std::string, std::uint16_t>> split_addr(const std::string& addr, const std::string& key) {
    auto colon = addr.rfind(':');
    if (colon == std::string::npos) {
        return bad(key, "expected host:port, got \"" + addr + "\"");
    }
    std::string host = addr.substr(0, colon);
    if (host.empty()) {
        host = "0.0.0.0";
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    auto port = parse_uint(key, std::string_view(addr).substr(colon + 1));
    if (!port || *port > 65535) {
        return bad(key, "port must be 0-65535");
    }
    return std::pair{host, static_cast<std::uint16_t>(*port)};
}

namespace {
/// Only the combination; whether the files load is the server's start-up check.
Result<void> validate_tls(const Config& c) {
    const auto& auth = c.http_tls_client_auth;
    if (auth != "none" && auth != "optional" && auth != "require") {
        return bad("http.tls.client_auth", "expected none, optional or require, got \"" + auth + "\"");
    }
    if (c.http_tls_cert.empty() != c.http_tls_key.empty()) {
        return bad(c.http_tls_cert.empty() ? "http.tls.cert" : "http.tls.key",
                   "http.tls.cert and http.tls.key must be set together");
    }
    if (auth != "none" && !c.tls_enabled()) {
        return bad("http.tls.client_auth", auth + " needs HTTPS: set http.tls.cert and http.tls.key");
    }
    if (auth != "none" && c.http_tls_client_ca.empty()) {
        return bad("http.tls.client_ca", "required when http.tls.client_auth is " + auth);
    }
    if (auth == "none" && !c.http_tls_client_ca.empty()) {
        // Silently not checking client certificates would be a surprise.
        return bad("http.tls.client_ca", "set, but http.tls.client_auth is none (use optional or require)");
    }
    return {};
}

Result<void> validate_meta(const Config& c) {
    if (c.meta_driver != "sqlite" && c.meta_driver != "postgres") {
        return bad("meta.driver", "unknown driver \"" + c.meta_driver + "\" (supported: sqlite, postgres)");
    }
    if (c.meta_driver != "postgres") {
        return {};
    }
    if (c.meta_postgres_dsn.empty()) {
        return bad("meta.postgres.dsn", "required when meta.driver is postgres");
    }
    if (auto r = sql::postgres::check_dsn(c.meta_postgres_dsn); !r) {
        return bad("meta.postgres.dsn", r.error().detail);
    }
    if (c.meta_postgres_pool_size == 0 || c.meta_postgres_connect_timeout <= 0 ||
        c.meta_postgres_statement_timeout <= 0) {
        return bad("meta.postgres", "pool_size, connect_timeout and statement_timeout must be positive");
    }
    return {};
}

Result<void> validate_s3(const Config& c) {
    if (c.storage_driver != "s3") {
        return {};
    }
    if (!c.s3_endpoint.starts_with("http://") && !c.s3_endpoint.starts_with("https://")) {
        return bad("storage.s3.endpoint", "required with storage.driver s3, as http(s)://host[:port]");
    }
    if (c.s3_bucket.empty()) {
        return bad("storage.s3.bucket", "required with storage.driver s3");
    }
    if (c.s3_region.empty()) {
        return bad("storage.s3.region", "must not be empty");
    }
    if (c.s3_part_size < 5 * 1024 * 1024 || c.s3_part_size > 5ull * 1024 * 1024 * 1024) {
        return bad("storage.s3.part_size", "must be between 5MiB and 5GiB");
    }
    if (c.s3_access_key.empty() != c.s3_secret_key.empty()) {
        return bad("storage.s3.access_key", "access_key and secret_key must be set together");
    }
    if (c.s3_redirect_expiry < 1 || c.s3_redirect_expiry > 7 * 86400) {
        return bad("storage.s3.redirect_expiry", "must be between 1s and 7 days");
    }
    if (c.s3_connect_timeout <= 0 || c.s3_stall_timeout <= 0 || c.s3_attempts == 0 || c.s3_attempts > 10) {
        return bad("storage.s3", "connect_timeout and stall_timeout must be positive, attempts between 1 and 10");
    }
    return {};
}

}  // namespace

Result<void> validate(const Config& c) {
    DERMAGA_CHECK(split_addr(c.http_addr));
    if (c.storage_driver != "filesystem" && c.storage_driver != "s3") {
        return bad("storage.driver", "unknown driver \"" + c.storage_driver + "\" (supported: filesystem, s3)");
    }
    DERMAGA_CHECK(validate_s3(c));
    if (c.storage_inline_blob_bytes > 1024 * 1024) {
        return bad("storage.inline_blob_bytes", "must be at most 1MiB (the blobs ride in database rows)");
    }
    DERMAGA_CHECK(validate_meta(c));
    log::Level l;
    if (!log::parse_level(c.log_level, l)) {
        return bad("log.level", "expected debug, info, warn, error or off");
    }
    if (c.max_manifest_bytes == 0 || c.max_page_size == 0 || c.upload_expiry <= 0) {
        return bad("limits", "limits.max_manifest_bytes, max_page_size and upload_expiry must be positive");
    }
    if (c.http_read_timeout <= 0 || c.http_write_timeout <= 0 || c.http_idle_timeout <= 0 ||
        c.http_max_connections == 0 || c.http_max_inflight == 0 || c.http_max_header_bytes < 1024) {
        return bad("http", "timeouts and connection/request limits must be positive (max_header_bytes at least 1KiB)");
    }
    if (c.auth_token_ttl < 30 || c.auth_token_ttl > 86400) {
        return bad("auth.token_ttl", "must be between 30s and 24h");
    }
    if (c.auth_refresh_ttl < 60 || c.auth_lockout_window <= 0 || c.auth_lockout_duration <= 0 ||
        c.auth_lockout_threshold == 0 || c.auth_lockout_ip_threshold == 0) {
        return bad("auth", "refresh_ttl (at least 1m), lockout thresholds, window and duration must be positive");
    }
    if (c.auth_service.empty() || c.auth_issuer.empty()) {
        return bad("auth", "service and issuer must not be empty");
    }
    if (!c.ldap_url.empty()) {
        if (auto r = auth::ldap::check_config(ldap_config(c)); !r) {
            return bad("auth.ldap", r.error().detail);
        }
    }
    DERMAGA_CHECK(validate_tls(c));
    if (!c.metrics_addr.empty()) {
        DERMAGA_CHECK(split_addr(c.metrics_addr, "metrics.addr"));
        if (!c.metrics_enabled) {
            return bad("metrics.addr", "set, but metrics.enabled is false");
        }
    }
    if (c.metrics_store_interval < 1) {
        return bad("metrics.store_interval", "must be at least 1s");
    }
    if (c.data_dir.empty()) {
        return bad("storage.data_dir", "must not be empty");
    }
    return {};
}

Result<Config> load(const std::string& path) {
    Config c;
    if (!path.empty()) {
        std::ifstream in(path);
        if (!in) {
            return fail(errc::invalid, "cannot read config file " + path);
        }
        std::stringstream ss;
        ss << in.rdbuf();
        DERMAGA_CHECK(apply_yaml(c, ss.str()));
    }
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos && kv.substr(0, 8) == "DERMAGA_") {
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        }
    }
    DERMAGA_CHECK(apply_env(c, env));
    return c;
}

std::vector<std::vector<std::string>> describe(const Config& c) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& k : keys()) {
        // Secrets are never printed, only whether they are set.
        const bool secret = std::string_view(k.name).find("password") != std::string_view::npos ||
                            std::string_view(k.name).find("secret") != std::string_view::npos;
        auto value = k.get(c);
        if (std::string_view(k.name) == "meta.postgres.dsn" && !value.empty()) {
            value = sql::postgres::describe_dsn(value);  // without a password it may hold
        }
        rows.push_back({k.name, env_name(k.name), secret && !value.empty() ? "(set)" : value, k.help});
    }
    return rows;
}

}  // namespace dermaga::app
