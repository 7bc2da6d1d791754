#include "metrics/process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dermaga::metrics {

namespace {

/// Seconds since the epoch at boot ("btime" in /proc/stat); 0 when unknown.
std::int64_t boot_time() {
    std::ifstream in("/proc/stat");
    std::string key;
    std::int64_t value = 0;
    while (in >> key) {
        if (key == "btime" && in >> value) {
            return value;
        }
        in.ignore(1 << 16, '\n');
    }
    return 0;
}

std::uint64_t count_fds() {
    std::error_code ec;
    std::uint64_t n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n > 0 ? n - 1 : 0;  // the directory listing holds one descriptor itself
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) {
        return std::nullopt;
    }
    // "pid (comm) state ...": comm may hold spaces and parentheses; fields follow the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream fields(line.substr(close + 2));
    std::vector<std::string> f;  // f[0] is field 3 (state)
    for (std::string x; fields >> x;) {
        f.push_back(std::move(x));
    }
    if (f.size() < 22) {
        return std::nullopt;
    }
    const auto field = [&](int n) { return std::stod(f[static_cast<std::size_t>(n - 3)]); };
    static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    static const std::int64_t boot = boot_time();
    ProcessStats s;
    s.cpu_seconds = (field(14) + field(15)) / ticks;
    s.threads = static_cast<std::uint64_t>(field(20));
    s.start_time_seconds = static_cast<double>(boot) + field(22) / ticks;
    s.virtual_bytes = static_cast<std::uint64_t>(field(23));
    s.resident_bytes = static_cast<std::uint64_t>(field(24) * page);
    s.open_fds = count_fds();
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        s.max_fds = static_cast<std::uint64_t>(lim.rlim_cur);
    }
    return s;
}

void add_process_metrics(Registry& r) {
    r.add_collector(
        {"process_cpu_seconds_total", "process_resident_memory_bytes",
         "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
         "process_start_time_seconds", "process_threads"},
        [](Writer& w) {
            const auto s = read_process_stats();
            const auto one = [&](const char* name, const char* help, Type t, auto value) {
                w.family(name, help, t);
                if (s) {
                    w.sample(name, {}, static_cast<double>(value(*s)));
                }
            };
            using P = const ProcessStats&;
            one("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
                Type::counter, [](P p) { return p.cpu_seconds; });
            one("process_resident_memory_bytes", "Resident memory size in bytes.", Type::gauge,
                [](P p) { return p.resident_bytes; });
            one("process_virtual_memory_bytes", "Virtual memory size in bytes.", Type::gauge,
                [](P p) { return p.virtual_bytes; });
            one("process_open_fds", "Open file descriptors.", Type::gauge,
                [](P p) { return p.open_fds; });
            one("process_max_fds", "Maximum number of open file descriptors (soft limit).",
                Type::gauge, [](P p) { return p.max_fds; });
            one("process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.", Type::gauge,
                [](P p) { return p.start_time_seconds; });
            one("process_threads", "Threads in the process.", Type::gauge,
                [](P p) { return p.threads; });
        });
}

}  // namespace dermaga::metrics
