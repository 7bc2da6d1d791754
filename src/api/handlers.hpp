#pragma once
// Handlers of the /v2 API, one file per resource. Internal to api/.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <string>

#include "core/blocking.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "http/message.hpp"
#include "registry/registry.hpp"

namespace dermaga::api {

using boost::asio::awaitable;

struct Context {
    registry::Registry& registry;
    boost::asio::thread_pool& blocking;
    std::string_view request_id;
    /// With access control on: whether the caller may pull from a repository (blocking; used
    /// for cross-repository mounts). Empty: everything is readable.
    std::function<bool(const std::string& repo)> can_read;
    /// With access control on: a catalog page of what the caller may pull from (blocking).
    /// Empty: the whole catalog.
    std::function<Result<registry::Page>(std::string_view last, std::size_t n)> list_readable;
    /// The principal that owns upload sessions opened by this request ("" without access control).
    std::string owner;

    /// Runs a blocking registry call off the io threads; its log lines carry the request id.
    template <class F>
    auto call(F f) {
        return run_blocking(blocking, [rid = request_id, f = std::move(f)]() mutable {
            log::ScopedRequestId scope(rid);
            return f();
        });
    }
};

/// The API version header every /v2 response carries.
inline void add_api_version(http::Response& r) {
    r.set("Docker-Distribution-API-Version", "registry/2.0");
}

awaitable<http::Response> get_blob(Context& ctx, http::Request& req, const RepoName& repo, const Digest& digest);
awaitable<http::Response> delete_blob(Context& ctx, const RepoName& repo, const Digest& digest);

awaitable<http::Response> start_upload(Context& ctx, http::Request& req, const RepoName& repo);
awaitable<http::Response> patch_upload(Context& ctx, http::Request& req, const RepoName& repo, const std::string& id);
awaitable<http::Response> put_upload(Context& ctx, http::Request& req, const RepoName& repo, const std::string& id);
awaitable<http::Response> get_upload(Context& ctx, const RepoName& repo, const std::string& id);
awaitable<http::Response> delete_upload(Context& ctx, const RepoName& repo, const std::string& id);

awaitable<http::Response> put_manifest(Context& ctx, http::Request& req, const RepoName& repo, const Reference& ref);
awaitable<http::Response> get_manifest(Context& ctx, http::Request& req, const RepoName& repo, const Reference& ref);
awaitable<http::Response> delete_manifest(Context& ctx, const RepoName& repo, const Reference& ref);

awaitable<http::Response> list_tags(Context& ctx, http::Request& req, const RepoName& repo);
awaitable<http::Response> catalog(Context& ctx, http::Request& req);
awaitable<http::Response> referrers(Context& ctx, http::Request& req, const RepoName& repo, const Digest& digest);

}  // namespace dermaga::api
