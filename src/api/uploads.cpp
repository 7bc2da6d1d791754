// Blob uploads: POST (start, mount, monolithic), PATCH (chunk), PUT (complete), GET (status),
// DELETE (cancel) under /v2/<name>/blobs/uploads/.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <charconv>
#include <memory>

#include "api/handlers.hpp"
#include "api/oci_errors.hpp"

namespace dermaga::api {

namespace {

using namespace boost::asio::experimental::awaitable_operators;

constexpr std::size_t chunk_bytes = 1 << 20;

Error err(registry::errc e, std::string detail = {}) { return Error{make_error_code(e), std::move(detail)}; }

std::string upload_location(const RepoName& repo, const std::string& id) {
    return "/v2/" + repo.str() + "/blobs/uploads/" + id;
}

/// "0-<last byte>" as the distribution spec's Range header for an upload of `size` bytes.
std::string range_header(std::uint64_t size) { return "0-" + std::to_string(size == 0 ? 0 : size - 1); }

struct ContentRange {
    std::uint64_t first;
    std::uint64_t last;
};

/// Parses "<start>-<end>" (tolerating a "bytes " or "bytes=" prefix).
std::optional<ContentRange> parse_content_range(std::string_view h) {
    if (h.substr(0, 6) == "bytes " || h.substr(0, 6) == "bytes=") {
        h.remove_prefix(6);
    }
    auto dash = h.find('-');
    if (dash == std::string_view::npos) {
        return std::nullopt;
    }
    ContentRange cr{};
    auto a = h.substr(0, dash);
    auto b = h.substr(dash + 1);
    if (auto slash = b.find('/'); slash != std::string_view::npos) {
        b = b.substr(0, slash);
    }
    auto ra = std::from_chars(a.data(), a.data() + a.size(), cr.first);
    auto rb = std::from_chars(b.data(), b.data() + b.size(), cr.last);
    if (a.empty() || b.empty() || ra.ec != std::errc() || rb.ec != std::errc() || ra.ptr != a.data() + a.size() ||
        rb.ptr != b.data() + b.size() || cr.last < cr.first) {
        return std::nullopt;
    }
    return cr;
}

/// Streams the request body into upload `id`, reading the next piece from the socket while
/// the previous one is written and hashed on the blocking pool. `start` enforces ordering.
awaitable<Result<std::uint64_t>> stream_into_upload(Context& ctx, http::Request& req, const RepoName& repo,
                                                    const std::string& id, std::optional<std::uint64_t> start) {
    auto begun = co_await ctx.call([&] { return ctx.registry.begin_append(repo, id, start); });
    if (!begun) {
        co_return tl::unexpected(begun.error());
    }
    registry::Append append = std::move(*begun);
    // Buffers sized to the body when it is small, and never zero-filled: a 16 KiB layer must
    // not cost 2 MiB of memset and page faults.
    const std::size_t buf_size = static_cast<std::size_t>(
        std::clamp<std::uint64_t>(req.body().content_length().value_or(chunk_bytes), 1, chunk_bytes));
    auto storage_a = std::make_unique_for_overwrite<char[]>(buf_size);
    auto storage_b = std::make_unique_for_overwrite<char[]>(buf_size);
    std::span<char> a(storage_a.get(), buf_size);
    std::span<char> b(storage_b.get(), buf_size);
    std::uint64_t total = 0;
    Result<void> outcome;
    auto first = co_await req.body().read_some(a);
    if (!first) {
        outcome = tl::unexpected(first.error());
    }
    std::size_t pending = first ? *first : 0;
    while (outcome && pending > 0) {
        auto write = ctx.call([&append, a, pending] { return append.write(std::span<const char>(a.data(), pending)); });
        auto [wrote, next] = co_await (std::move(write) && req.body().read_some(b));
        if (!wrote) {
            outcome = tl::unexpected(wrote.error());
            break;
        }
        total += pending;
        if (!next) {
            outcome = tl::unexpected(next.error());
            break;
        }
        pending = *next;
        std::swap(a, b);
    }
    // Records where the upload stands (storage state, running hash) for the next request,
    // which may reach another node: I/O for stores that keep a state (S3).
    auto ended = co_await ctx.call([&] { return ctx.registry.end_append(std::move(append)); });
    if (outcome && !ended) {
        outcome = tl::unexpected(ended.error());
    }
    if (!outcome) {
        co_return tl::unexpected(outcome.error());
    }
    co_return total;
}

/// The Content-Range of a chunk, if the request has one. Errors: range_invalid when malformed.
Result<std::optional<ContentRange>> chunk_range(http::Request& req) {
    auto h = req.header("Content-Range");
    if (h.empty()) {
        return std::optional<ContentRange>();
    }
    auto cr = parse_content_range(h);
    if (!cr) {
        return tl::unexpected(err(registry::errc::range_invalid, "malformed Content-Range"));
    }
    return cr;
}

http::Response created_blob(const RepoName& repo, const Digest& digest) {
    http::Response r;
    r.status = 201;
    r.set("Location", "/v2/" + repo.str() + "/blobs/" + digest.str());
    r.set("Docker-Content-Digest", digest.str());
    return r;
}

http::Response accepted_upload(const RepoName& repo, const std::string& id, std::uint64_t size) {
    http::Response r;
    r.status = 202;
    r.set("Location", upload_location(repo, id));
    r.set("Range", range_header(size));
    r.set("Docker-Upload-UUID", id);
    return r;
}

bool has_body(http::Request& req) {
    auto cl = req.body().content_length();
    return cl ? *cl > 0 : req.has_header("Transfer-Encoding");
}

/// Completes upload `id` with the request body as its last bytes. A small body in one piece
/// (a Content-Length within the inline limit, no Content-Range) is read into memory and never
/// touches a file; anything else streams into the upload first.
awaitable<Result<std::uint64_t>> complete_with_body(Context& ctx, http::Request& req, const RepoName& repo,
                                                    const std::string& id, const Digest& digest,
                                                    std::optional<std::uint64_t> start) {
    const auto limit = ctx.registry.options().inline_blob_bytes;
    if (auto cl = req.body().content_length(); cl && *cl <= limit && !start) {
        auto body = co_await req.read_body(static_cast<std::size_t>(limit));
        if (!body) {
            co_return tl::unexpected(body.error());
        }
        co_return co_await ctx.call([&] { return ctx.registry.complete_upload_with(repo, id, digest, *body); });
    }
    auto streamed = co_await stream_into_upload(ctx, req, repo, id, start);
    if (!streamed) {
        co_return tl::unexpected(streamed.error());
    }
    co_return co_await ctx.call([&] { return ctx.registry.complete_upload(repo, id, digest); });
}

}  // namespace

awaitable<http::Response> start_upload(Context& ctx, http::Request& req, const RepoName& repo) {
    if (auto mount = req.query("mount")) {
        auto digest = Digest::parse(*mount);
        if (!digest) {
            co_return error_response(digest.error());
        }
        auto from = req.query("from");
        std::optional<RepoName> source;
        if (from) {
            auto parsed = RepoName::parse(*from);
            if (!parsed) {
                co_return error_response(parsed.error());
            }
            source = std::move(*parsed);
        }
        // Mounting needs read access on the source (without `from`: on some repository that
        // holds the blob); without it, fall back to an upload that says nothing about the blob.
        auto mounted = co_await ctx.call([&]() -> Result<bool> {
            if (!source) {
                return ctx.registry.mount_blob_discovered(repo, *digest, ctx.can_read);
            }
            if (ctx.can_read && !ctx.can_read(source->str())) {
                return false;
            }
            return ctx.registry.mount_blob(repo, *source, *digest);
        });
        if (!mounted) {
            co_return error_response(mounted.error());
        }
        if (*mounted) {
            co_return created_blob(repo, *digest);
        }
        // Not mountable: fall back to a normal upload session (202).
    }
    auto id = co_await ctx.call([&] { return ctx.registry.start_upload(repo, ctx.owner); });
    if (!id) {
        co_return error_response(id.error());
    }
    if (auto d = req.query("digest")) {
        // Monolithic upload in a single POST.
        auto digest = Digest::parse(*d);
        if (!digest) {
            co_await ctx.call([&] { return ctx.registry.cancel_upload(repo, *id); });
            co_return error_response(digest.error());
        }
        auto done = co_await complete_with_body(ctx, req, repo, *id, *digest, std::nullopt);
        if (!done) {
            co_return error_response(done.error());
        }
        co_return created_blob(repo, *digest);
    }
    co_return accepted_upload(repo, *id, 0);
}

awaitable<http::Response> patch_upload(Context& ctx, http::Request& req, const RepoName& repo, const std::string& id) {
    auto range = chunk_range(req);
    if (!range) {
        co_return error_response(range.error());
    }
    std::optional<std::uint64_t> start;
    if (const auto& cr = *range) {
        auto cl = req.body().content_length();
        if (cl && *cl != cr->last - cr->first + 1) {
            co_return error_response(err(registry::errc::range_invalid, "Content-Range does not match Content-Length"));
        }
        start = cr->first;
    }
    auto streamed = co_await stream_into_upload(ctx, req, repo, id, start);
    if (!streamed) {
        auto r = error_response(streamed.error());
        if (r.status == 416) {
            if (auto size = co_await ctx.call([&] { return ctx.registry.upload_size(repo, id); })) {
                r.set("Location", upload_location(repo, id));
                r.set("Range", range_header(*size));
            }
        }
        co_return r;
    }
    auto size = co_await ctx.call([&] { return ctx.registry.upload_size(repo, id); });
    if (!size) {
        co_return error_response(size.error());
    }
    co_return accepted_upload(repo, id, *size);
}

awaitable<http::Response> put_upload(Context& ctx, http::Request& req, const RepoName& repo, const std::string& id) {
    auto d = req.query("digest");
    if (!d) {
        co_return error_response(err(registry::errc::digest_invalid, "digest query parameter is required"));
    }
    auto digest = Digest::parse(*d);
    if (!digest) {
        co_return error_response(digest.error());
    }
    Result<std::uint64_t> done;
    if (has_body(req)) {
        auto range = chunk_range(req);
        if (!range) {
            co_return error_response(range.error());
        }
        std::optional<std::uint64_t> start;
        if (*range) {
            start = (*range)->first;
        }
        done = co_await complete_with_body(ctx, req, repo, id, *digest, start);
    } else {
        done = co_await ctx.call([&] { return ctx.registry.complete_upload(repo, id, *digest); });
    }
    if (!done) {
        co_return error_response(done.error());
    }
    co_return created_blob(repo, *digest);
}

awaitable<http::Response> get_upload(Context& ctx, const RepoName& repo, const std::string& id) {
    auto size = co_await ctx.call([&] { return ctx.registry.upload_size(repo, id); });
    if (!size) {
        co_return error_response(size.error());
    }
    auto r = accepted_upload(repo, id, *size);
    r.status = 204;
    co_return r;
}

awaitable<http::Response> delete_upload(Context& ctx, const RepoName& repo, const std::string& id) {
    auto done = co_await ctx.call([&] { return ctx.registry.cancel_upload(repo, id); });
    if (!done) {
        co_return error_response(done.error());
    }
    http::Response r;
    r.status = 204;
    co_return r;
}

}  // namespace dermaga::api
