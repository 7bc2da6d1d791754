#pragma once
// run_blocking: run a blocking call (file I/O, fsync, SQLite) on the bounded blocking pool and
// resume the calling coroutine on its own executor afterwards. I/O threads never block.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <type_traits>

namespace dermaga {

namespace asio = boost::asio;

/// Runs f() on `pool` and returns its result to the caller's executor. Exceptions propagate.
template <class F>
asio::awaitable<std::invoke_result_t<F&>> run_blocking(asio::thread_pool& pool, F f) {
    using R = std::invoke_result_t<F&>;
    auto home = co_await asio::this_coro::executor;
    // post(ex, token) would only queue an intermediate step on ex and then resume us on our own
    // executor; binding the token to the pool makes the coroutine itself continue there.
    co_await asio::post(asio::bind_executor(pool.get_executor(), asio::use_awaitable));
    std::exception_ptr error;
    if constexpr (std::is_void_v<R>) {
        try {
            f();
        } catch (...) {
            error = std::current_exception();
        }
        co_await asio::post(home, asio::use_awaitable);
        if (error) {
            std::rethrow_exception(error);
        }
    } else {
        std::optional<R> result;
        try {
            result.emplace(f());
        } catch (...) {
            error = std::current_exception();
        }
        co_await asio::post(home, asio::use_awaitable);
        if (error) {
            std::rethrow_exception(error);
        }
        co_return std::move(*result);
    }
}

}  // namespace dermaga
