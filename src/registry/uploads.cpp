// Upload use cases: start, mount, append in order, complete with digest verification, cancel.
#include <unistd.h>

#include "core/random.hpp"
#include "registry/registry.hpp"

namespace dermaga::registry {

namespace {
constexpr std::size_t max_cached_hashes = 4096;
constexpr std::size_t rehash_buffer = 1 << 20;
}  // namespace

Result<void> Append::write(std::span<const char> bytes) {
    if (auto kept = claim->keep(); !kept) {
        failed = true;  // another writer may own the upload now: keep nothing of this one
        return kept;
    }
    auto r = writer->write(bytes);
    if (!r) {
        failed = true;
        return fail(unavailable(r.error()));
    }
    hasher.update(bytes);
    return {};
}

Result<std::string> Registry::start_upload(const RepoName& repo, std::string owner) {
    std::string id = random_hex(16);
    auto now = clock_.now_unix();
    if (auto r = blobs_.create_upload(id); !r) {
        return fail(unavailable(r.error()));
    }
    if (auto r = meta_.create_upload({id, repo.str(), now, now, std::move(owner)}); !r) {
        (void)blobs_.delete_upload(id, {});
        return fail(unavailable(r.error()));
    }
    return id;
}

Result<bool> Registry::mount_blob(const RepoName& to, const RepoName& from, const Digest& digest) {
    auto linked = meta_.linked_blob(from.str(), digest.str());
    if (!linked) {
        return fail(unavailable(linked.error()));
    }
    if (!*linked) {
        return false;
    }
    if (auto r = meta_.link_blob(to.str(), digest.str(), **linked, "", clock_.now_unix()); !r) {
        return fail(unavailable(r.error()));
    }
    return true;
}

Result<bool> Registry::mount_blob_discovered(
    const RepoName& to, const Digest& digest,
    const std::function<bool(const std::string&)>& readable) {
    constexpr std::size_t page_size = 64;
    std::string last;
    std::size_t seen = 0;
    while (true) {
        auto page = meta_.blob_repositories(digest.str(), last, page_size);
        if (!page) {
            return fail(unavailable(page.error()));
        }
        for (const auto& name : page->names) {
            if (seen++ == max_mount_candidates) {
                return false;
            }
            auto from = RepoName::parse(name);
            if (from && (!readable || readable(name))) {
                return mount_blob(to, *from, digest);
            }
        }
        if (!page->more || page->names.empty()) {
            return false;
        }
        last = page->names.back();
    }
}

Result<meta::UploadRow> Registry::find_upload(const RepoName& repo, std::string_view id) {
    auto row = meta_.get_upload(id);
    if (!row) {
        return fail(unavailable(row.error()));
    }
    // An upload id is valid only in the repository that opened it.
    if (!*row || (*row)->repo != repo.str()) {
        return fail(errc::blob_upload_unknown, std::string(id));
    }
    if ((*row)->updated_at + options_.upload_expiry_seconds < clock_.now_unix()) {
        forget_upload(id);
        (void)meta_.delete_upload(id);
        (void)blobs_.delete_upload(id, (*row)->storage_state);
        return fail(errc::blob_upload_unknown, "upload expired");
    }
    return std::move(**row);
}

Result<void> Registry::check_upload_owner(const RepoName& repo, std::string_view id, std::string_view owner) {
    DERMAGA_TRY(row, find_upload(repo, id));
    if (row.owner != owner) {
        return fail(errc::blob_upload_unknown, std::string(id));
    }
    return {};
}

Result<std::uint64_t> Registry::upload_size(const RepoName& repo, std::string_view id) {
    DERMAGA_TRY(row, find_upload(repo, id));
    auto size = blobs_.upload_size(id, row.storage_state);
    if (!size) {
        if (size.error().code == storage::errc::upload_unknown) {
            return fail(errc::blob_upload_unknown, std::string(id));
        }
        return fail(unavailable(size.error()));
    }
    return *size;
}

Result<Hasher> Registry::running_hash(const meta::UploadRow& row, std::uint64_t size, DigestAlgorithm alg) {
    if (alg == DigestAlgorithm::sha256) {
        {
            std::lock_guard lock(mu_);
            auto it = hashes_.find(row.id);
            if (it != hashes_.end() && it->second.size() == size) {
                Hasher h = std::move(it->second);
                hashes_.erase(it);
                return h;
            }
        }
        // Saved with the session by the node that last appended (any node).
        if (auto h = Hasher::restore(row.hash_state); h && h->size() == size) {
            return std::move(*h);
        }
    }
    Hasher h(alg);
    if (size == 0) {
        return h;  // a new upload: nothing to re-hash
    }
    // After a restart (or for another algorithm) re-hash what is stored.
    auto src = blobs_.read_upload(row.id, row.storage_state);
    if (!src) {
        return fail(unavailable(src.error()));
    }
    auto storage = std::make_unique_for_overwrite<char[]>(rehash_buffer);
    std::span<char> buf(storage.get(), rehash_buffer);
    std::uint64_t off = 0;
    while (off < size) {
        auto n = storage::read_at(*src, off, buf.subspan(0, std::min<std::uint64_t>(buf.size(), size - off)));
        if (!n || *n == 0) {
            return fail(unavailable(n ? Error{make_error_code(errc::unavailable), "short read re-hashing upload"} : n.error()));
        }
        h.update(std::span<const char>(buf.data(), *n));
        off += *n;
    }
    return h;
}

Result<Append> Registry::begin_append(const RepoName& repo, std::string_view id, std::optional<std::uint64_t> start) {
    DERMAGA_TRY(row, find_upload(repo, id));
    // The claim also refreshes the session's idle time.
    DERMAGA_TRY(claim, claim_upload(id));
    auto writer = blobs_.append_upload(id, row.storage_state);
    if (!writer) {
        claim->release();
        if (writer.error().code == storage::errc::upload_unknown) {
            return fail(errc::blob_upload_unknown, std::string(id));
        }
        return fail(unavailable(writer.error()));
    }
    const auto size = (*writer)->size();
    if (start && *start != size) {
        claim->release();
        return fail(errc::range_invalid, "chunk must start at " + std::to_string(size));
    }
    auto h = running_hash(row, size, DigestAlgorithm::sha256);
    if (!h) {
        claim->release();
        return tl::unexpected(h.error());
    }
    return Append{std::string(id), std::move(*writer), std::move(*h), std::move(claim),
                  std::move(row.storage_state)};
}

Result<void> Registry::end_append(Append append) {
    auto recorded = record_append(append);
    // After the state is recorded and the writer closed, so that the next writer (any node)
    // finds every byte and the state that goes with them.
    append.writer.reset();
    append.claim->release();
    return recorded;
}

Result<void> Registry::record_append(Append& append) {
    if (append.failed) {
        forget_upload(append.id);  // storage and hash may disagree: start again from storage
        return {};
    }
    auto state = append.writer->finish();
    if (!state) {
        forget_upload(append.id);
        return fail(unavailable(state.error()));
    }
    // Stores that need a state (S3) get it recorded with the running hash; the fs store's
    // state is always empty and costs no database write per request.
    if (*state != append.state) {
        auto saved = append.hasher.save();
        if (auto r = meta_.set_upload_state(append.id, *state, saved.value_or(""), clock_.now_unix()); !r) {
            forget_upload(append.id);
            return fail(unavailable(r.error()));
        }
    }
    std::lock_guard lock(mu_);
    if (hashes_.size() >= max_cached_hashes) {
        hashes_.erase(hashes_.begin());  // it will be restored or re-hashed if needed
    }
    hashes_.insert_or_assign(append.id, std::move(append.hasher));
    return {};
}

void Registry::forget_upload(std::string_view id) {
    std::lock_guard lock(mu_);
    hashes_.erase(std::string(id));
}

Result<std::shared_ptr<UploadClaim>> Registry::claim_upload(std::string_view id) {
    std::string holder = random_hex(8);
    const auto now = clock_.now_unix();
    const auto lease = options_.upload_lease_seconds;
    auto claimed = meta_.claim_upload(id, holder, now, now + lease);
    if (!claimed) {
        return fail(unavailable(claimed.error()));
    }
    if (!*claimed) {
        auto row = meta_.get_upload(id);
        if (row && !*row) {
            return fail(errc::blob_upload_unknown, std::string(id));
        }
        return fail(errc::blob_upload_invalid, "another request is writing to this upload");
    }
    return std::make_shared<UploadClaim>(meta_, clock_, std::string(id), std::move(holder), lease);
}

Result<std::uint64_t> Registry::link_inline(const RepoName& repo, const meta::UploadRow& row, const Digest& digest,
                                            std::string_view bytes) {
    forget_upload(row.id);
    if (auto r = meta_.link_blob(repo.str(), digest.str(), bytes.size(), row.id, clock_.now_unix(), bytes); !r) {
        return fail(unavailable(r.error()));
    }
    (void)blobs_.delete_upload(row.id, row.storage_state);  // when the bytes came through storage
    return bytes.size();
}

namespace {
Result<std::string> read_all(storage::BlobStore& blobs, const meta::UploadRow& row, std::uint64_t size) {
    if (size == 0) {
        return std::string();
    }
    auto src = blobs.read_upload(row.id, row.storage_state);
    if (!src) {
        return tl::unexpected(src.error());
    }
    std::string bytes(size, '\0');
    std::uint64_t off = 0;
    while (off < size) {
        auto n = storage::read_at(*src, off, std::span<char>(bytes.data() + off, size - off));
        if (!n || *n == 0) {
            return fail(unavailable(Error{make_error_code(errc::unavailable), "short read of upload " + row.id}));
        }
        off += *n;
    }
    return bytes;
}
}  // namespace

Result<Registry::Completing> Registry::begin_completion(const RepoName& repo, std::string_view id) {
    DERMAGA_TRY(row, find_upload(repo, id));
    // Held until the completion returns, so no PATCH can append between hashing and commit.
    DERMAGA_TRY(claim, claim_upload(id));
    auto size = blobs_.upload_size(id, row.storage_state);
    if (!size) {
        claim->release();
        return fail(errc::blob_upload_unknown, std::string(id));
    }
    return Completing{std::move(claim), *size, std::move(row)};
}

Result<void> Registry::check_digest(const meta::UploadRow& row, Hasher& hasher, const Digest& expected) {
    Digest actual = hasher.finish();
    if (actual != expected) {
        discard_upload(row);
        return fail(errc::digest_invalid, "content digest is " + actual.str());
    }
    return {};
}

Result<std::uint64_t> Registry::complete_upload(const RepoName& repo, std::string_view id, const Digest& digest) {
    DERMAGA_TRY(up, begin_completion(repo, id));
    auto done = complete_claimed(repo, digest, up);
    if (!done) {
        up.claim->release();  // a no-op when the session went (a digest mismatch discards it)
    }
    return done;
}

Result<std::uint64_t> Registry::complete_claimed(const RepoName& repo, const Digest& digest,
                                                 const Completing& up) {
    const auto& id = up.row.id;
    DERMAGA_TRY(hasher, running_hash(up.row, up.size, digest.algorithm()));
    DERMAGA_CHECK(check_digest(up.row, hasher, digest));
    if (up.size <= options_.inline_blob_bytes) {
        auto bytes = read_all(blobs_, up.row, up.size);
        if (!bytes) {
            return fail(unavailable(bytes.error()));
        }
        return link_inline(repo, up.row, digest, *bytes);
    }
    if (auto r = blobs_.commit_upload(id, up.row.storage_state, digest); !r) {
        return fail(unavailable(r.error()));
    }
    forget_upload(id);
    // Deletes the session (and with it the claim) in the same transaction.
    if (auto r = meta_.link_blob(repo.str(), digest.str(), up.size, id, clock_.now_unix()); !r) {
        return fail(unavailable(r.error()));
    }
    (void)blobs_.delete_upload(id, up.row.storage_state);  // a crash before this leaves a file the sweeper removes
    return up.size;
}

Result<std::uint64_t> Registry::complete_upload_with(const RepoName& repo, std::string_view id, const Digest& digest,
                                                     std::string_view body) {
    if (body.size() <= options_.inline_blob_bytes) {
        DERMAGA_TRY(row, find_upload(repo, id));
        auto size = blobs_.upload_size(id, row.storage_state);
        if (!size) {
            return fail(errc::blob_upload_unknown, std::string(id));
        }
        if (*size == 0) {
            // The commonest push, without a claim (a database write): these bytes never touch
            // the upload's storage, and what is linked is exactly the verified body. A PATCH
            // that races it (on any node) can only lose its own bytes along with the session;
            // its client then gets BLOB_UPLOAD_UNKNOWN.
            Hasher h(digest.algorithm());
            h.update(body);
            DERMAGA_CHECK(check_digest(row, h, digest));  // a mismatch discards the session
            return link_inline(repo, row, digest, body);
        }
    }
    // Not a small blob in one piece: append like a PATCH, then complete.
    DERMAGA_TRY(append, begin_append(repo, id, std::nullopt));
    auto wrote = append.write(body);
    auto ended = end_append(std::move(append));
    if (!wrote) {
        return tl::unexpected(wrote.error());
    }
    if (!ended) {
        return tl::unexpected(ended.error());
    }
    return complete_upload(repo, id, digest);
}

void Registry::discard_upload(const meta::UploadRow& row) {
    forget_upload(row.id);
    (void)meta_.delete_upload(row.id);
    (void)blobs_.delete_upload(row.id, row.storage_state);
}

Result<void> Registry::cancel_upload(const RepoName& repo, std::string_view id) {
    DERMAGA_TRY(row, find_upload(repo, id));
    forget_upload(id);
    if (auto r = meta_.delete_upload(id); !r) {
        return fail(unavailable(r.error()));
    }
    (void)blobs_.delete_upload(id, row.storage_state);
    return {};
}

Result<std::size_t> Registry::purge_expired_uploads(std::size_t limit) {
    auto ids = meta_.expired_uploads(clock_.now_unix() - options_.upload_expiry_seconds, limit);
    if (!ids) {
        return fail(unavailable(ids.error()));
    }
    std::size_t purged = 0;
    for (const auto& id : *ids) {
        // A writer's claim and its renewals refresh the idle time, so an upload being written
        // is never idle for the expiry.
        forget_upload(id);
        // The session's storage state says what to abort (an S3 multipart upload).
        auto row = meta_.get_upload(id);
        const std::string state = row && *row ? (*row)->storage_state : std::string();
        if (meta_.delete_upload(id) && blobs_.delete_upload(id, state)) {
            ++purged;
        }
    }
    // Upload files no session refers to (a crash between commit and cleanup, or between
    // creating the file and recording the session).
    auto files = blobs_.stale_uploads(clock_.now_unix() - options_.upload_expiry_seconds, limit);
    if (!files) {
        return fail(unavailable(files.error()));
    }
    for (const auto& id : *files) {
        auto row = meta_.get_upload(id);
        if (row && !*row && blobs_.delete_upload(id, {})) {
            ++purged;
        }
    }
    return purged;
}

}  // namespace dermaga::registry
