#pragma once
// The local operator's view of a Dermaga installation: the metadata store named by the config
// opened directly (SQLite WAL and PostgreSQL both let this run beside `dermaga serve`), with
// the same auth services the server builds. Used by the management commands of the CLI.

#include <memory>

#include "app/config.hpp"
#include "auth/admin.hpp"

namespace dermaga::app {

class Operator {
public:
    /// Opens (creating when absent) the data directory and metadata store, applying
    /// migrations. Throws std::runtime_error with a one-line reason.
    explicit Operator(const Config& config);
    /// Stores every audit entry recorded.
    ~Operator();
    Operator(const Operator&) = delete;
    Operator& operator=(const Operator&) = delete;

    auth::Services& services();
    auth::Admin& admin();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace dermaga::app
