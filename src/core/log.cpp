#include "core/log.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>

#include <fmt/format.h>

namespace dermaga::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::warn)};
std::shared_ptr<spdlog::logger> g_logger;  // set once in init(), before threads start
thread_local std::string_view t_request_id;

spdlog::level::level_enum to_spd(Level l) {
    switch (l) {
        case Level::debug: return spdlog::level::debug;
        case Level::info: return spdlog::level::info;
        case Level::warn: return spdlog::level::warn;
        case Level::error: return spdlog::level::err;
        case Level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

void append_value(std::string& out, const Value& v) {
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string_view>) {
                append_json_string(out, x);
            } else if constexpr (std::is_same_v<T, bool>) {
                out += x ? "true" : "false";
            } else {
                fmt::format_to(std::back_inserter(out), "{}", x);
            }
        },
        v);
}
}  // namespace

bool parse_level(std::string_view text, Level& out) {
    if (text == "debug") { out = Level::debug; }
    else if (text == "info") { out = Level::info; }
    else if (text == "warn") { out = Level::warn; }
    else if (text == "error") { out = Level::error; }
    else if (text == "off") { out = Level::off; }
    else { return false; }
    return true;
}

void init(Level level) {
    spdlog::init_thread_pool(8192, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_logger = std::make_shared<spdlog::async_logger>("dermaga", sink, spdlog::thread_pool(),
                                                      spdlog::async_overflow_policy::block);
    g_logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})",
                          spdlog::pattern_time_type::utc);
    g_logger->set_level(to_spd(level));
    g_logger->flush_on(spdlog::level::warn);
    g_level = static_cast<int>(level);
}

void shutdown() {
    if (g_logger) {
        g_logger->flush();
    }
    spdlog::shutdown();
    g_logger.reset();
}

void flush() {
    if (g_logger) {
        g_logger->flush();
    }
}

bool enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
    if (!enabled(level) || !g_logger) {
        return;
    }
    try {
        std::string line;
        line.reserve(256);
        line += "\"event\":";
        append_json_string(line, event);
        if (!t_request_id.empty()) {
            line += ",\"rid\":";
            append_json_string(line, t_request_id);
        }
        for (const auto& [k, v] : fields) {
            line += ',';
            append_json_string(line, k);
            line += ':';
            append_value(line, v);
        }
        g_logger->log(to_spd(level), line);
    } catch (...) {
        // Logging must never take a request down.
    }
}

ScopedRequestId::ScopedRequestId(std::string_view id) : previous_(t_request_id) { t_request_id = id; }
ScopedRequestId::~ScopedRequestId() { t_request_id = previous_; }

namespace {
/// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 0;
    if (n == 0 || b >= 0xf5 || i + n > s.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < n; ++k) {
        if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}
}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            // Valid UTF-8 passes through; a stray byte (e.g. from a hostile URL) is escaped so
            // the line stays valid JSON.
            if (std::size_t n = utf8_sequence(s, i)) {
                out.append(s.substr(i, n));
                i += n - 1;
            } else {
                fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
            }
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

}  // namespace dermaga::log
