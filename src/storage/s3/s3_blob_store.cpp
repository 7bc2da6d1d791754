#include "storage/s3/s3_blob_store.hpp"

#include <ctime>
#include <stdexcept>

#include "core/log.hpp"
#include "storage/s3/upload_state.hpp"

namespace dermaga::storage::s3 {

namespace {

constexpr std::uint64_t min_part_size = 5u << 20;      // S3's minimum for all but the last part
constexpr std::size_t max_delete_batch = 1000;         // keys per DeleteObjects

/// Streams a committed object in ranged GETs.
class S3Reader final : public BlobReader {
public:
    S3Reader(S3Client& client, std::string key) : client_(client), key_(std::move(key)) {}
    Result<std::size_t> read_at(std::uint64_t offset, std::span<char> into) override {
        return client_.get_range(key_, offset, into);
    }

private:
    S3Client& client_;
    std::string key_;
};

class S3UploadWriter final : public UploadWriter {
public:
    S3UploadWriter(S3BlobStore& store, std::string id, S3Upload upload)
        : store_(store), id_(std::move(id)), up_(std::move(upload)) {}

    Result<void> write(std::span<const char> bytes) override {
        DERMAGA_CHECK(load_tail());
        const auto part = store_.options().part_size;
        while (!bytes.empty()) {
            const auto take = std::min<std::size_t>(bytes.size(), part - buf_.size());
            buf_.append(bytes.data(), take);
            bytes = bytes.subspan(take);
            if (buf_.size() == part) {
                DERMAGA_CHECK(send_part());
            }
        }
        return {};
    }

    std::uint64_t size() const override { return flushed() + (loaded_ ? buf_.size() : up_.tail); }

    Result<UploadState> finish() override {
        if (dirty_) {
            // What does not fill a part waits in the tail object, so another node can go on.
            if (!buf_.empty()) {
                DERMAGA_CHECK(store_.client().put(store_.upload_key(id_, "tail"), buf_));
            }
            up_.tail = buf_.size();
            up_.size = flushed() + up_.tail;
            dirty_ = false;
        }
        return up_.encode();
    }

private:
    std::uint64_t flushed() const {
        std::uint64_t n = 0;
        for (auto s : up_.part_sizes) n += s;
        return n;
    }

    /// Brings the tail object back into the buffer before the first byte is appended.
    Result<void> load_tail() {
        if (loaded_) {
            return {};
        }
        if (up_.tail > 0) {
            DERMAGA_TRY(tail, store_.client().get(store_.upload_key(id_, "tail")));
            if (tail.size() != up_.tail) {
                return fail(errc::io_error, "s3 upload " + id_ + ": tail object has " + std::to_string(tail.size()) +
                                                " bytes, state says " + std::to_string(up_.tail));
            }
            buf_ = std::move(tail);
        }
        loaded_ = true;
        dirty_ = true;
        return {};
    }

    Result<void> send_part() {
        auto& s3 = store_.client();
        const auto data_key = store_.upload_key(id_, "data");
        if (up_.multipart_id.empty()) {
            DERMAGA_TRY(mpu, s3.create_multipart(data_key));
            up_.multipart_id = std::move(mpu);
        }
        const int number = static_cast<int>(up_.parts.size()) + 1;
        DERMAGA_TRY(etag, s3.upload_part(data_key, up_.multipart_id, number, buf_));
        up_.parts.push_back({number, std::move(etag)});
        up_.part_sizes.push_back(buf_.size());
        buf_.clear();
        return {};
    }

    S3BlobStore& store_;
    std::string id_;
    S3Upload up_;
    std::string buf_;     ///< the tail: bytes after the last part (at most one part)
    bool loaded_ = false;  ///< buf_ holds the tail object's bytes
    bool dirty_ = false;
};

Result<S3Upload> decode_state(std::string_view id, const UploadState& state) {
    if (!valid_upload_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    auto up = S3Upload::decode(state);
    if (!up) {
        return fail(errc::upload_unknown, "upload state not written by the s3 store");
    }
    return std::move(*up);
}

/// Seconds since the epoch of an S3 timestamp "2026-12-06T01:02:03.000Z"; 0 if unreadable.
std::int64_t parse_iso8601(const std::string& s) {
    std::tm tm{};
    if (::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
        return 0;
    }
    return static_cast<std::int64_t>(::timegm(&tm));
}

}  // namespace

S3BlobStore::S3BlobStore(S3StoreOptions options)
    : options_(std::move(options)), client_(std::make_unique<S3Client>(options_.s3)) {
    if (options_.part_size < min_part_size) {
        throw std::invalid_argument("storage.s3.part_size must be at least 5 MiB");
    }
    if (!options_.prefix.empty() && options_.prefix.back() != '/') {
        options_.prefix += '/';
    }
    if (options_.copy_part_size < min_part_size) {
        throw std::invalid_argument("copy part size must be at least 5 MiB");
    }
}

std::string S3BlobStore::blob_key(const Digest& d) const {
    const char* alg = d.algorithm() == DigestAlgorithm::sha256 ? "sha256" : "sha512";
    return options_.prefix + "blobs/" + alg + "/" + std::string(d.hex());
}

std::string S3BlobStore::upload_key(std::string_view id, std::string_view what) const {
    return options_.prefix + "uploads/" + std::string(id) + "/" + std::string(what);
}

Result<std::uint64_t> S3BlobStore::stat(const Digest& digest) {
    DERMAGA_TRY(info, client_->head(blob_key(digest)));
    if (!info) {
        return fail(errc::not_found, digest.str());
    }
    return info->size;
}

Result<OpenBlob> S3BlobStore::open(const Digest& digest) {
    DERMAGA_TRY(size, stat(digest));
    return OpenBlob{UniqueFd(), size, std::make_unique<S3Reader>(*client_, blob_key(digest))};
}

Result<void> S3BlobStore::remove(const Digest& digest) { return client_->remove(blob_key(digest)); }

Result<void> S3BlobStore::remove_many(std::span<const Digest> digests) {
    std::vector<std::string> keys;
    for (const auto& d : digests) {
        keys.push_back(blob_key(d));
        if (keys.size() == max_delete_batch) {
            DERMAGA_CHECK(client_->remove_batch(keys));
            keys.clear();
        }
    }
    return client_->remove_batch(keys);
}

Result<void> S3BlobStore::ready() {
    auto r = client_->head_bucket();
    if (!r) {
        // The readiness answer is public: the endpoint, bucket and request ids go to the log only.
        log::warn("storage_not_ready", {{"reason", std::string_view(r.error().detail)}});
        // An answer's status and S3 error code are safe to show; a transport error's text names
        // the endpoint.
        const auto& d = r.error().detail;
        const auto http = d.find("HTTP ");
        std::string reason = http == std::string::npos
                                 ? "object storage unreachable"
                                 : "object storage answered " + d.substr(http, d.find(" (request") - http);
        return fail(errc::io_error, std::move(reason));
    }
    return {};
}

std::optional<std::string> S3BlobStore::redirect_url(const Digest& digest) {
    if (options_.redirect_seconds <= 0) {
        return std::nullopt;
    }
    return client_->presign_get(blob_key(digest), options_.redirect_seconds);
}

Result<void> S3BlobStore::create_upload(std::string_view id) {
    // Nothing exists in S3 until the first bytes: the multipart upload starts with the first
    // full part, the tail object with the first request that leaves bytes over.
    if (!valid_upload_id(id)) {
        return fail(errc::upload_unknown, "bad upload id");
    }
    return {};
}

Result<std::unique_ptr<UploadWriter>> S3BlobStore::append_upload(std::string_view id, const UploadState& state) {
    DERMAGA_TRY(up, decode_state(id, state));
    return std::unique_ptr<UploadWriter>(std::make_unique<S3UploadWriter>(*this, std::string(id), std::move(up)));
}

Result<std::uint64_t> S3BlobStore::upload_size(std::string_view id, const UploadState& state) {
    DERMAGA_TRY(up, decode_state(id, state));
    return up.size;
}

Result<OpenBlob> S3BlobStore::read_upload(std::string_view id, const UploadState& state) {
    DERMAGA_TRY(up, decode_state(id, state));
    if (!up.parts.empty()) {
        return fail(errc::io_error, "s3 upload " + std::string(id) + " has sent parts, which S3 cannot read back");
    }
    return OpenBlob{UniqueFd(), up.tail, std::make_unique<S3Reader>(*client_, upload_key(id, "tail"))};
}

Result<void> S3BlobStore::commit_upload(std::string_view id, const UploadState& state, const Digest& digest) {
    DERMAGA_TRY(up, decode_state(id, state));
    const auto key = blob_key(digest);
    DERMAGA_TRY(existing, client_->head(key));
    if (existing) {
        return {};  // dedup: the committed copy wins; ours is identical by digest
    }
    if (up.parts.empty()) {
        if (up.tail == 0) {
            return fail(errc::upload_unknown, std::string(id));  // nothing was written (as fs)
        }
        return client_->copy(upload_key(id, "tail"), key);
    }
    const auto data_key = upload_key(id, "data");
    if (auto done = complete(id, up); !done) {
        // The multipart upload is gone: completed by an earlier attempt at this commit?
        DERMAGA_TRY(info, client_->head(data_key));
        if (done.error().code != errc::not_found || !info || info->size != up.size) {
            return tl::unexpected(done.error());
        }
    }
    if (up.size <= options_.multipart_copy_above) {
        return client_->copy(data_key, key);
    }
    return copy_large(data_key, key, up.size);
}

Result<void> S3BlobStore::complete(std::string_view id, const S3Upload& up) {
    const auto data_key = upload_key(id, "data");
    auto parts = up.parts;
    if (up.tail > 0) {  // the tail is the last part, which may be smaller than the others
        DERMAGA_TRY(tail, client_->get(upload_key(id, "tail")));
        const int number = static_cast<int>(parts.size()) + 1;
        DERMAGA_TRY(etag, client_->upload_part(data_key, up.multipart_id, number, tail));
        parts.push_back({number, std::move(etag)});
    }
    return client_->complete_multipart(data_key, up.multipart_id, parts);
}

Result<void> S3BlobStore::copy_large(std::string_view from, std::string_view to, std::uint64_t size) {
    DERMAGA_TRY(mpu, client_->create_multipart(to));
    std::vector<Part> parts;
    for (std::uint64_t off = 0; off < size; off += options_.copy_part_size) {
        const int number = static_cast<int>(parts.size()) + 1;
        auto etag = client_->upload_part_copy(to, mpu, number, from, off, std::min(size, off + options_.copy_part_size) - 1);
        if (!etag) {
            (void)client_->abort_multipart(to, mpu);
            return tl::unexpected(etag.error());
        }
        parts.push_back({number, std::move(*etag)});
    }
    if (auto r = client_->complete_multipart(to, mpu, parts); !r) {
        (void)client_->abort_multipart(to, mpu);
        return r;
    }
    return {};
}

Result<void> S3BlobStore::delete_upload(std::string_view id, const UploadState& state) {
    if (!valid_upload_id(id)) {
        return {};
    }
    const auto data_key = upload_key(id, "data");
    auto up = S3Upload::decode(state);
    if (up && !up->multipart_id.empty()) {
        DERMAGA_CHECK(client_->abort_multipart(data_key, up->multipart_id));
    } else if (state.empty()) {
        // No state (an orphan found by stale_uploads): find its multipart uploads by key.
        DERMAGA_TRY(open, client_->list_multipart(upload_key(id, "")));
        for (const auto& m : open) {
            DERMAGA_CHECK(client_->abort_multipart(m.key, m.upload_id));
        }
    }
    return client_->remove_batch({upload_key(id, "tail"), data_key});
}

Result<std::vector<std::string>> S3BlobStore::stale_uploads(std::int64_t modified_before, std::size_t limit) {
    const auto prefix = options_.prefix + "uploads/";
    DERMAGA_TRY(open, client_->list_multipart(prefix));
    std::vector<std::string> out;
    for (const auto& m : open) {
        if (out.size() >= limit) {
            break;
        }
        auto rest = std::string_view(m.key).substr(prefix.size());
        auto id = rest.substr(0, rest.find('/'));
        if (parse_iso8601(m.initiated) < modified_before && valid_upload_id(id)) {
            out.emplace_back(id);
        }
    }
    return out;
}

}  // namespace dermaga::storage::s3
