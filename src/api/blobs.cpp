// GET/HEAD/DELETE /v2/<name>/blobs/<digest>
#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
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

/// Bytes of a blob read from object storage per ranged GET while streaming it through.
constexpr std::uint64_t stream_piece = 4u << 20;

/// Streams bytes [first, first + length) of a blob that is not a local file. A producer on
/// the I/O thread reads pieces on the blocking pool into a channel of one, so the next piece
/// is fetched while this one is sent: at most three pieces in memory per download. The
/// producer stops when the response ends (the channel is closed with the body).
http::StreamBody stream_blob(boost::asio::any_io_executor io, boost::asio::thread_pool& pool,
                             std::unique_ptr<storage::BlobReader> reader, std::uint64_t first, std::uint64_t length,
                             std::string rid) {
    using Channel = boost::asio::experimental::concurrent_channel<void(boost::system::error_code, Result<std::string>)>;
    auto ch = std::make_shared<Channel>(io, 1);
    std::shared_ptr<storage::BlobReader> src(std::move(reader));
    auto produce = [](std::shared_ptr<Channel> ch, std::shared_ptr<storage::BlobReader> src,
                      boost::asio::thread_pool& pool, std::uint64_t off, std::uint64_t end,
                      std::string rid) -> awaitable<void> {
        while (off < end && ch->is_open()) {
            const auto n = std::min(stream_piece, end - off);
            auto piece = co_await run_blocking(pool, [&]() -> Result<std::string> {
                log::ScopedRequestId scope(rid);
                std::string buf(n, '\0');
                std::uint64_t got = 0;
                while (got < n) {
                    DERMAGA_TRY(k, src->read_at(off + got, std::span<char>(buf.data() + got, n - got)));
                    if (k == 0) {
                        return fail(storage::errc::io_error, "blob shorter than its size");
                    }
                    got += k;
                }
                return buf;
            });
            const bool ok = piece.has_value();
            if (!ok) {
                log::error("blob_stream_failed", {{"detail", piece.error().detail}});
            }
            auto [ec] = co_await ch->async_send(boost::system::error_code{}, std::move(piece),
                                                boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec || !ok) {
                co_return;
            }
            off += n;
        }
    };
    boost::asio::co_spawn(io, produce(ch, src, pool, first, first + length, std::move(rid)), boost::asio::detached);
    // Closing the channel when the body goes releases a producer waiting to send.
    std::shared_ptr<void> closer(nullptr, [ch](void*) { ch->close(); });
    return http::StreamBody{length, [ch, closer]() -> awaitable<Result<std::string>> {
                                auto [ec, piece] =
                                    co_await ch->async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
                                if (ec) {
                                    co_return fail(storage::errc::io_error, "blob stream ended");
                                }
                                co_return std::move(piece);
                            }};
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
    if (auto* redirect = std::get_if<registry::BlobRedirect>(&*blob)) {
        // Bytes straight from object storage, under a presigned URL of short validity; the
        // caller was authorised for this repository before we got here.
        http::Response moved;
        moved.status = 307;
        moved.set("Location", std::move(redirect->url));
        moved.set("Docker-Content-Digest", digest.str());
        co_return moved;
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
    if (file->reader) {  // not a local file: streamed from object storage
        auto io = co_await boost::asio::this_coro::executor;
        r.body = stream_blob(io, ctx.blocking, std::move(file->reader), first, length, std::string(ctx.request_id));
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
