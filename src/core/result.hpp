#pragma once
// Result<T>: the return type of every operation that can fail in an expected way.

#include <string>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace dermaga {

/// An expected failure: a categorised code plus a human-readable detail for logs and clients.
struct Error {
    std::error_code code;
    std::string detail;
};

template <class T>
using Result = tl::expected<T, Error>;

/// Builds the error side of a Result: `return fail(errc::x, "why");`
template <class E>
tl::unexpected<Error> fail(E code, std::string detail = {}) {
    return tl::unexpected<Error>(Error{make_error_code(code), std::move(detail)});
}

inline tl::unexpected<Error> fail(Error e) {
    return tl::unexpected<Error>(std::move(e));
}

}  // namespace dermaga

/// Propagates the error of a Result expression, else yields its value.
#define DERMAGA_TRY(var, expr)                  \
    auto var##_result_ = (expr);                \
    if (!var##_result_) {                       \
        return ::tl::unexpected(std::move(var##_result_.error())); \
    }                                           \
    auto var = std::move(*var##_result_)

/// Propagates the error of a Result<void> expression.
#define DERMAGA_CHECK(expr)                                     \
    do {                                                        \
        auto dermaga_check_result_ = (expr);                    \
        if (!dermaga_check_result_) {                           \
            return ::tl::unexpected(std::move(dermaga_check_result_.error())); \
        }                                                       \
    } while (0)
