#include "storage/blob_store.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace dermaga::storage {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.storage"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::not_found: return "blob not found";
            case errc::upload_unknown: return "upload not found";
            case errc::io_error: return "storage I/O error";
        }
        return "unknown storage error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

}  // namespace dermaga::storage

namespace dermaga::storage {

bool valid_upload_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128) {
        return false;
    }
    for (char c : id) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

Result<std::size_t> read_at(OpenBlob& blob, std::uint64_t offset, std::span<char> into) {
    if (blob.reader) {
        return blob.reader->read_at(offset, into);
    }
    for (;;) {
        const ssize_t n = ::pread(blob.fd.get(), into.data(), into.size(), static_cast<off_t>(offset));
        if (n >= 0) {
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) {
            return fail(errc::io_error, std::string("pread: ") + std::strerror(errno));
        }
    }
}

Result<void> BlobStore::remove_many(std::span<const Digest> digests) {
    for (const auto& d : digests) {
        DERMAGA_CHECK(remove(d));
    }
    return {};
}

std::optional<std::string> BlobStore::redirect_url(const Digest&) { return std::nullopt; }

}  // namespace dermaga::storage
