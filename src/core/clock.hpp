#pragma once
// Wall-clock access behind an interface so tests can move time.

#include <chrono>
#include <cstdint>

namespace dermaga {

/// Source of "now" in seconds since the Unix epoch. Implementations must be thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    virtual std::int64_t now_unix() const = 0;
};

class SystemClock final : public Clock {
public:
    std::int64_t now_unix() const override {
        return std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
};

}  // namespace dermaga
