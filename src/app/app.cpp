#include "app/app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <pthread.h>
#include <boost/asio/thread_pool.hpp>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "api/access.hpp"
#include "api/routes.hpp"
#include "app/bootstrap.hpp"
#include "app/meta_database.hpp"
#include "app/telemetry.hpp"
#include "core/blocking.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "http/server.hpp"
#include "meta/sql_meta_store.hpp"
#include "registry/registry.hpp"
#include "app/storage.hpp"

namespace dermaga::app {

namespace asio = boost::asio;

namespace {
unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

registry::Options registry_options(const Config& c) {
    registry::Options o;
    o.max_manifest_bytes = c.max_manifest_bytes;
    o.max_page_size = c.max_page_size;
    o.upload_expiry_seconds = c.upload_expiry;
    o.manifest_cache_bytes = c.manifest_cache_bytes;
    o.inline_blob_bytes = c.storage_inline_blob_bytes;
    if (c.meta_driver == "postgres") {
        // Other nodes write to the same database: bound how stale a cached manifest may be.
        o.manifest_cache_max_age = std::chrono::seconds(c.manifest_cache_max_age);
    }
    return o;
}

http::ServerOptions server_options(const Config& c, http::ServerObserver* observer = nullptr) {
    http::ServerOptions o{.read_timeout = std::chrono::seconds(c.http_read_timeout),
                          .write_timeout = std::chrono::seconds(c.http_write_timeout),
                          .idle_timeout = std::chrono::seconds(c.http_idle_timeout),
                          .max_header_bytes = c.http_max_header_bytes,
                          .max_connections = c.http_max_connections,
                          .access_log = c.log_access,
                          .min_body_rate = c.http_min_body_rate};
    o.observer = observer;
    if (c.tls_enabled()) {
        auto auth = c.http_tls_client_auth == "require"    ? http::ClientAuth::require
                    : c.http_tls_client_auth == "optional" ? http::ClientAuth::optional
                                                           : http::ClientAuth::none;
        o.tls = http::TlsOptions{c.http_tls_cert, c.http_tls_key, c.http_tls_client_ca, auth, c.http_tls_kernel};
    }
    return o;
}
}  // namespace

const char* version() { return DERMAGA_VERSION; }

struct App::Impl {
    explicit Impl(Config c)
        : config(std::move(c)),
          io_threads(config.http_threads ? config.http_threads : cores()),
          io(static_cast<int>(io_threads)),
          blocking_threads(config.blocking_threads ? config.blocking_threads : std::max(16u, 8 * cores())),
          blocking(blocking_threads),
          blobs((std::filesystem::create_directories(config.data_dir), make_blob_store(config))),
          meta(open_meta_database(config, std::max(4u, blocking_threads))),
          registry(*blobs, meta, clock, registry_options(config)),
          auth_store(meta.auth_store()),
          auth(config.auth_enabled ? make_auth_services(config, *auth_store, clock) : nullptr),
          gate(auth ? std::make_unique<api::Gate>(*auth, blocking, !config.http_tls_cert.empty()) : nullptr),
          telemetry(io, meta, blocking, config.metrics_store_interval),
          api(registry, blocking, api::ApiOptions{config.http_max_inflight, probes(config.metrics_addr.empty())},
              gate.get()),
          server(io, server_options(config, config.metrics_enabled ? &telemetry.requests : nullptr),
                 [this](http::Request& req) { return api.handle(req); }) {
        if (!config.metrics_enabled) {
            return;
        }
        telemetry.register_common(server, blocking_threads, version());
        // The page is written on the blocking pool, so the readiness check may run here too.
        telemetry.registry.add_gauge({"dermaga_ready", "1 when /readyz would answer 200 (database, storage, schema).", {}},
                                     [this] { return ready() ? 1.0 : 0.0; });
        meta.register_metrics(telemetry.registry);
        telemetry.registry.add(registry.manifest_cache_lookups());
        if (auth) {
            auth->register_metrics(telemetry.registry);
        }
        if (!config.metrics_addr.empty()) {
            metrics_probes = probes(true);
            auto plain = server_options(config);
            plain.tls.reset();  // a private plain-HTTP listener (docs/security.md)
            metrics_server = std::make_unique<http::Server>(io, std::move(plain),
                                                            api::probe_handler(metrics_probes, blocking));
        }
    }

    /// Whether this node can serve: the database, its schema, and the blob storage. Blocking.
    Result<void> ready() {
        if (auto r = meta.ready(); !r) {
            return tl::unexpected(Error{r.error().code, "database: " + r.error().detail});
        }
        if (auto r = blobs->ready(); !r) {
            return tl::unexpected(Error{r.error().code, "storage: " + r.error().detail});
        }
        return {};
    }

    /// /readyz and /metrics; `with_metrics` false: /metrics is served by the metrics listener
    /// instead (or not at all).
    api::Probes probes(bool with_metrics) {
        api::Probes p;
        p.ready = [this] { return ready(); };
        if (config.metrics_enabled && with_metrics) {
            p.metrics = [this] { return telemetry.registry.expose(); };
        }
        p.metrics_public = config.metrics_public;
        return p;
    }

    Config config;
    unsigned io_threads;
    asio::io_context io;
    unsigned blocking_threads;
    asio::thread_pool blocking;
    SystemClock clock;
    std::unique_ptr<storage::BlobStore> blobs;
    meta::SqlMetaStore meta;
    registry::Registry registry;
    std::unique_ptr<meta::AuthStore> auth_store;
    std::unique_ptr<auth::Services> auth;
    std::unique_ptr<api::Gate> gate;
    Telemetry telemetry;
    api::Api api;
    http::Server server;
    api::Probes metrics_probes;                   ///< the metrics listener's (metrics.addr)
    std::unique_ptr<http::Server> metrics_server;  ///< when metrics.addr is set
    asio::steady_timer sweep_timer{io};
    std::vector<std::thread> threads;

    /// Deletes expired upload sessions now and then, in batches, while traffic goes on.
    asio::awaitable<void> sweep_uploads() {
        // A tenth of the expiry, between 1 s and 1 h: a short expiry (tests, small sites) is
        // swept promptly, the default 24 h hourly.
        const auto every =
            std::chrono::seconds(std::clamp<std::int64_t>(config.upload_expiry / 10, 1, 3600));
        while (true) {
            sweep_timer.expires_after(every);
            boost::system::error_code ec;
            co_await sweep_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                co_return;
            }
            auto purged = co_await run_blocking(blocking, [this] { return registry.purge_expired_uploads(1000); });
            if (purged && *purged > 0) {
                log::info("uploads_expired", {{"count", static_cast<std::uint64_t>(*purged)}});
            }
        }
    }
    bool started = false;
    bool stopped = false;
};

App::App(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {
    if (impl_->auth) {
        if (auto r = impl_->auth->tokens.init(); !r) {
            throw std::runtime_error("token signing keys: " + r.error().detail);
        }
        bootstrap_admin_from_env(*impl_->auth_store, impl_->clock);
    }
}

App::~App() { stop(); }

std::uint16_t App::start() {
    auto [host, port] = *split_addr(impl_->config.http_addr);
    impl_->server.listen(host, port);
    if (impl_->metrics_server) {  // before the threads: a bind failure must leave none running
        auto [mhost, mport] = *split_addr(impl_->config.metrics_addr, "metrics.addr");
        impl_->metrics_server->listen(mhost, mport);
        log::info("metrics_listening", {{"addr", std::string_view(mhost)},
                                        {"port", static_cast<std::uint64_t>(impl_->metrics_server->port())}});
    }
    if (impl_->config.meta_driver == "sqlite") {
        // The embedded database has one writer, this process: a claim left on an upload is one
        // a killed predecessor held, and the client resuming that upload must not wait out its
        // lease. (On PostgreSQL other nodes may hold live claims; those run out by their lease.)
        if (auto r = impl_->meta.release_all_upload_claims(); !r) {
            log::warn("upload_claims_not_released", {{"reason", std::string_view(r.error().detail)}});
        }
    }
    for (unsigned i = 0; i < impl_->io_threads; ++i) {
        impl_->threads.emplace_back([this] { impl_->io.run(); });
    }
    impl_->started = true;
    asio::co_spawn(impl_->io, impl_->sweep_uploads(), asio::detached);
    if (impl_->config.metrics_enabled) {
        impl_->telemetry.start();
    }
    auto bound = impl_->server.port();
    log::info("listening", {{"addr", std::string_view(host)},
                            {"port", static_cast<std::uint64_t>(bound)},
                            {"tls", impl_->server.tls()},
                            {"version", std::string_view(version())},
                            {"data_dir", std::string_view(impl_->config.data_dir)},
                            {"meta_driver", std::string_view(impl_->config.meta_driver)},
                            {"meta", std::string_view(meta_location(impl_->config))}});
    return bound;
}

void App::stop() {
    if (!impl_ || impl_->stopped) {
        return;
    }
    impl_->stopped = true;
    if (impl_->started) {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        asio::post(impl_->io, [this] { impl_->sweep_timer.cancel(); });
        impl_->telemetry.stop();
        if (impl_->metrics_server) {
            impl_->metrics_server->shutdown(std::chrono::seconds(0), [] {});
        }
        impl_->server.shutdown(std::chrono::seconds(impl_->config.http_shutdown_grace), [&] {
            std::lock_guard lock(mu);
            done = true;
            cv.notify_all();
        });
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return done; });
        }
        impl_->io.stop();
        for (auto& t : impl_->threads) {
            t.join();
        }
    }
    impl_->blocking.join();
}

Result<void> App::reload_tls() { return impl_->server.reload_tls(); }

std::uint16_t App::metrics_port() const { return impl_->metrics_server ? impl_->metrics_server->port() : 0; }

namespace {
sigset_t shutdown_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

sigset_t handled_signals() {
    sigset_t set = shutdown_signals();
    sigaddset(&set, SIGHUP);
    return set;
}
}  // namespace

void block_shutdown_signals() {
    sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int App::run_until_signal() {
    block_shutdown_signals();
    start();
    sigset_t waited = handled_signals();
    int which = 0;
    while (true) {
        if (sigwait(&waited, &which) != 0) {
            continue;
        }
        if (which != SIGHUP) {
            break;
        }
        if (!impl_->server.tls()) {
            log::info("sighup_ignored", {{"reason", std::string_view("TLS is not configured")}});
        } else if (auto r = reload_tls(); r) {
            log::info("tls_reloaded", {{"cert", std::string_view(impl_->config.http_tls_cert)}});
        } else {
            log::error("tls_reload_failed", {{"reason", std::string_view(r.error().detail)}});
        }
    }
    // From here on SIGHUP stays blocked and pending: a reload during the drain would be moot.
    sigset_t set = shutdown_signals();
    // A second signal while in-flight requests drain means "now": exit at once.
    std::thread([set] {
        int again = 0;
        sigwait(&set, &again);
        // Written directly: the async logger would not get to it before _Exit.
        std::fprintf(stderr, "{\"level\":\"warning\",\"event\":\"forced_exit\",\"signal\":%d}\n", again);
        std::_Exit(128 + again);
    }).detach();
    log::info("shutting_down", {{"signal", static_cast<std::int64_t>(which)}});
    stop();
    log::info("stopped");
    return 0;
}

}  // namespace dermaga::app
