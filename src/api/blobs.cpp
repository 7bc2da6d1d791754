// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <charconv>
#include <memory>

#include "api/handlers.hpp"
#include "api/oci_errors.hpp"

namespace dermaga::api {

namespace {

struct ByteRange {
    std::uint64_t first;
    std::uint64_t last;  // inclusive
};

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty()) {
        return false;
    }
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

/// Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range against `size`.
/// nullopt: unsatisfiable or malformed (answered with 416).
std::optional<ByteRange> parse_range(std::string_view h, std::uint64_t size) {
    if (h.substr(0, 6) != "bytes=") {
        return std::nullopt;
    }
    h.remove_prefix(6);
    auto dash = h.find('-');
    if (dash == std::string_view::npos || h.find(',') != std::string_view::npos) {
        return std::nullopt;
    }
    auto a = h.substr(0, dash);
    auto b = h.substr(dash + 1);
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    if (a.empty()) {
        std::uint64_t n = 0;
        if (!parse_u64(b, n) || n == 0 || size == 0) {
            return std::nullopt;
        }
        first = n >= size ? 0 : size - n;
        last = size - 1;
    } else {
        if (!parse_u64(a, first) || first >= size) {
            return std::nullopt;
        }
        if (b.empty()) {
            last = size - 1;
        } else if (!parse_u64(b, last) || last < first) {
            return std::nullopt;
        }
        last = std::min(last, size - 1);
    }
    return ByteRange{first, last};
}

/// A large blob may be cold (pushed blobs are not cached): its next windows are read into
/// the page cache on the blocking pool while the I/O thread sends, instead of the I/O thread
/// stalling on each page fault-in. Each job is one short readahead(2) on its own descriptor.
std::function<void(std::uint64_t, std::uint64_t)> read_ahead_on(boost::asio::thread_pool& pool, int fd) {
    auto own = std::make_shared<UniqueFd>(::dup(fd));
    if (!*own) {
        return {};
    }
    return [&pool, own](std::uint64_t off, std::uint64_t len) {
        boost::asio::post(pool, [own, off, len] {
            ::readahead(own->get(), static_cast<off64_t>(off), static_cast<std::size_t>(len));
        });
    };
}

}  // namespace

awaitable<http::Response> get_blob(Context& ctx, http::Request& req, const RepoName& repo, const Digest& digest) {
    const bool head = req.method() == http::Method::head;
    http::Response r;
    r.set("Docker-Content-Digest", digest.str());
    r.set("Accept-Ranges", "bytes");
    r.set("Content-Type", "application/octet-stream");
    r.set("ETag", "\"" + digest.str() + "\"");
    r.set("Cache-Control", "max-age=31536000");
    if (head) {
        auto size = co_await ctx.call([&] { return ctx.registry.blob_size(repo, digest); });
        if (!size) {
            co_return error_response(size.error());
        }
        r.content_length = *size;
        r.body = std::string();
        co_return r;
    }
    auto blob = co_await ctx.call([&] { return ctx.registry.open_blob(repo, digest); });
    if (!blob) {
        co_return error_response(blob.error());
    }
    auto* file = std::get_if<storage::OpenBlob>(&*blob);
    auto* data = std::get_if<std::string>(&*blob);
    const std::uint64_t size = file ? file->size : data->size();
    std::uint64_t first = 0;
    std::uint64_t length = size;
    if (auto range = req.header("Range"); !range.empty()) {
        auto br = parse_range(range, size);
        if (!br) {
            auto e = error_response(Error{make_error_code(registry::errc::range_invalid), std::string(range)});
            e.set("Content-Range", "bytes */" + std::to_string(size));
            co_return e;
        }
        r.status = 206;
        r.set("Content-Range", "bytes " + std::to_string(br->first) + "-" + std::to_string(br->last) + "/" +
                                   std::to_string(size));
        first = br->first;
        length = br->last - br->first + 1;
    }
    if (data) {  // a small blob kept in the metadata store
        r.body = length == size ? std::move(*data) : data->substr(first, length);
        co_return r;
    }
    http::FileBody body{std::move(file->fd), first, length};
    if (body.length > http::read_ahead_window) {
        body.read_ahead = read_ahead_on(ctx.blocking, body.fd.get());
    }
    r.body = std::move(body);
    co_return r;
}

awaitable<http::Response> delete_blob(Context& ctx, const RepoName& repo, const Digest& digest) {
    auto done = co_await ctx.call([&] { return ctx.registry.delete_blob(repo, digest); });
    if (!done) {
        co_return error_response(done.error());
    }
    http::Response r;
    r.status = 202;
    r.set("Docker-Content-Digest", digest.str());
    co_return r;
}

}  // namespace dermaga::api
