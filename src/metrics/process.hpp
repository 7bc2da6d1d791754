#pragma once
// The standard process metrics, read from /proc/self when scraped (Linux).

#include <cstdint>
#include <optional>

#include "metrics/registry.hpp"

namespace dermaga::metrics {

struct ProcessStats {
    double cpu_seconds = 0;  ///< user + system CPU time
    std::uint64_t resident_bytes = 0;
    std::uint64_t virtual_bytes = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;      ///< the soft RLIMIT_NOFILE
    double start_time_seconds = 0;  ///< Unix time the process started
    std::uint64_t threads = 0;
};

/// Reads this process's figures from /proc/self/{stat,fd} and /proc/stat; nullopt when
/// /proc cannot be read. Does file I/O on procfs (no disk); a few tens of microseconds.
std::optional<ProcessStats> read_process_stats();

/// Registers process_cpu_seconds_total, process_resident_memory_bytes,
/// process_virtual_memory_bytes, process_open_fds, process_max_fds,
/// process_start_time_seconds and process_threads (the names every Prometheus client uses),
/// read once per scrape. Without /proc the families are written without samples.
void add_process_metrics(Registry& r);

}  // namespace dermaga::metrics
