#pragma once
// The composition root: typed config → concrete drivers → registry → API → HTTP server.
// The only place that names a concrete driver.

#include <cstdint>
#include <memory>

#include "app/config.hpp"
#include "core/result.hpp"

namespace dermaga::app {

/// A running (or ready to run) Dermaga instance. Used by `dermaga serve` and by the API tests.
class App {
public:
    /// Opens storage and metadata (applying migrations). Throws std::runtime_error with a
    /// one-line reason on failure.
    explicit App(Config config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    /// Binds the listener (and the metrics listener, with metrics.addr) and starts the I/O
    /// threads. Returns the bound port.
    std::uint16_t start();
    /// The metrics listener's bound port after start(); 0 without metrics.addr.
    std::uint16_t metrics_port() const;
    /// Graceful stop: no new connections, in-flight requests finish (up to the grace period),
    /// threads joined. Idempotent.
    void stop();
    /// Reloads the HTTPS certificate, key and client CA from their files; see
    /// http::Server::reload_tls. Blocking; thread-safe. Errors: http::errc::tls_config.
    Result<void> reload_tls();
    /// start(), then block until SIGTERM or SIGINT, then stop(). Returns the exit code. Each
    /// SIGHUP meanwhile reloads the TLS files (logged as tls_reloaded or tls_reload_failed).
    /// See block_shutdown_signals().
    int run_until_signal();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread it starts later, so
/// that run_until_signal() receives them with sigwait. Call first thing in main(), before any
/// thread (the logger's included) exists; a signal arriving during start-up then waits instead
/// of killing the process (a SIGHUP, which would otherwise kill it, included).
void block_shutdown_signals();

/// The version string of this build.
const char* version();

}  // namespace dermaga::app
