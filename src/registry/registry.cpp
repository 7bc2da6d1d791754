#include "registry/registry.hpp"

#include "core/log.hpp"

namespace dermaga::registry {

Error unavailable(const Error& e) {
    if (e.code.category() == category()) {
        return e;
    }
    log::error("backend_failure", {{"category", e.code.category().name()},
                                   {"error", e.code.message()},
                                   {"detail", e.detail}});
    return Error{make_error_code(errc::unavailable), {}};
}

Registry::Registry(storage::BlobStore& blobs, meta::MetaStore& meta, const Clock& clock,
                   Options options)
    : blobs_(blobs),
      meta_(meta),
      clock_(clock),
      options_(options),
      cache_(options.manifest_cache_bytes, options.manifest_cache_max_age) {}

Result<std::uint64_t> Registry::blob_size(const RepoName& repo, const Digest& digest) {
    auto linked = meta_.linked_blob(repo.str(), digest.str());
    if (!linked) {
        return fail(unavailable(linked.error()));
    }
    if (!*linked) {
        return fail(errc::blob_unknown, digest.str());
    }
    return **linked;
}

Result<BlobContent> Registry::open_blob(const RepoName& repo, const Digest& digest) {
    auto linked = meta_.linked_blob_content(repo.str(), digest.str());
    if (!linked) {
        return fail(unavailable(linked.error()));
    }
    if (!*linked) {
        return fail(errc::blob_unknown, digest.str());
    }
    if (auto& data = (*linked)->data) {
        return BlobContent(std::move(*data));  // a small blob kept in the metadata store
    }
    if (auto url = blobs_.redirect_url(digest)) {
        return BlobContent(BlobRedirect{std::move(*url)});  // the client fetches from storage
    }
    auto b = blobs_.open(digest);
    if (!b) {
        if (b.error().code == storage::errc::not_found) {
            return fail(errc::blob_unknown, digest.str());
        }
        return fail(unavailable(b.error()));
    }
    return BlobContent(std::move(*b));
}

Result<void> Registry::delete_blob(const RepoName& repo, const Digest& digest) {
    auto removed = meta_.unlink_blob(repo.str(), digest.str());
    if (!removed) {
        return fail(unavailable(removed.error()));
    }
    if (!*removed) {
        return fail(errc::blob_unknown, digest.str());
    }
    return {};
}

Result<Page> Registry::list_tags(const RepoName& repo, std::string_view last, std::size_t n) {
    if (n > options_.max_page_size) {
        return fail(errc::pagination_invalid, "n must be at most " + std::to_string(options_.max_page_size));
    }
    auto page = meta_.list_tags(repo.str(), last, n);
    if (!page) {
        return fail(unavailable(page.error()));
    }
    if (!*page) {
        return fail(errc::name_unknown, repo.str());
    }
    return std::move(**page);
}

Result<Page> Registry::catalog(std::string_view last, std::size_t n) {
    if (n > options_.max_page_size) {
        return fail(errc::pagination_invalid, "n must be at most " + std::to_string(options_.max_page_size));
    }
    auto page = meta_.list_repositories(last, n);
    if (!page) {
        return fail(unavailable(page.error()));
    }
    return std::move(*page);
}

}  // namespace dermaga::registry
