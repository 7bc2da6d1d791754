#pragma once
// Wall-clock access behind an interface so tests can move time.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace dermaga {

/// Source of "now" in seconds since the Unix epoch. Implementations must be thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t now_unix() const = 0;
};

/// Unix seconds as UTC text in strftime `format` (e.g. "%Y-%m-%dT%H:%M:%SZ" for RFC 3339).
inline std::string format_utc(std::int64_t t, const char* format) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

class SystemClock final : public Clock {
public:
    std::int64_t now_unix() const override {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

}  // namespace dermaga
