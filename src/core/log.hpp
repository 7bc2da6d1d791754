#pragma once
// Structured logging: one JSON object per line on stderr, written by a background thread.
//   {"ts":"2026-11-28T13:00:00.123Z","level":"info","event":"request","rid":"…",…}

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace dermaga::log {

enum class Level { debug, info, warn, error, off };

/// Parses "debug|info|warn|error|off". Returns false on an unknown name.
bool parse_level(std::string_view text, Level& out);

/// Sets up the process-wide logger. Call once at start-up; safe to skip (then logs go nowhere
/// below warn, which keeps unit tests quiet).
void init(Level level);
/// Flushes and stops the background writer.
void shutdown();
/// Writes out what is queued; the writer keeps running.
void flush();
bool enabled(Level level);

using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
using Field = std::pair<std::string_view, Value>;

/// Writes one event with fields. Thread-safe; never throws; strings are JSON-escaped.
void write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::debug, e, f); }
inline void info(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::info, e, f); }
inline void warn(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::warn, e, f); }
inline void error(std::string_view e, std::initializer_list<Field> f = {}) { write(Level::error, e, f); }

/// While alive, every line this thread writes carries "rid": id (the request being served).
/// Used around blocking work done for a request on a pool thread.
class ScopedRequestId {
public:
    explicit ScopedRequestId(std::string_view id);
    ~ScopedRequestId();
    ScopedRequestId(const ScopedRequestId&) = delete;
    ScopedRequestId& operator=(const ScopedRequestId&) = delete;

private:
    std::string_view previous_;
};

/// Appends s to out as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

}  // namespace dermaga::log
