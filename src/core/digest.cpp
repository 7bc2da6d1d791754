#include "core/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace dermaga {

namespace {

bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

const EVP_MD* md_for(DigestAlgorithm a) {
    return a == DigestAlgorithm::sha256 ? EVP_sha256() : EVP_sha512();
}

}  // namespace

Result<Digest> Digest::parse(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return fail(core::errc::digest_invalid, "digest must be algorithm:hex");
    }
    auto alg = text.substr(0, colon);
    auto hex = text.substr(colon + 1);
    DigestAlgorithm a;
    std::size_t want;
    if (alg == "sha256") {
        a = DigestAlgorithm::sha256;
        want = 64;
    } else if (alg == "sha512") {
        a = DigestAlgorithm::sha512;
        want = 128;
    } else {
        return fail(core::errc::digest_unsupported, "unsupported digest algorithm");
    }
    if (hex.size() != want || !is_lower_hex(hex)) {
        return fail(core::errc::digest_invalid, "digest hex part is malformed");
    }
    return Digest(a, std::string(text));
}

struct Hasher::Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
    if (ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, md_for(algorithm), nullptr) != 1) {
        throw std::runtime_error("OpenSSL digest initialisation failed");
    }
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const char> bytes) {
    EVP_DigestUpdate(ctx_->ctx, bytes.data(), bytes.size());
    size_ += bytes.size();
}

Hasher Hasher::clone() const {
    Hasher h(algorithm_);
    EVP_MD_CTX_copy_ex(h.ctx_->ctx, ctx_->ctx);
    h.size_ = size_;
    return h;
}

Digest Hasher::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_->ctx, out, &len);
    static constexpr char hexdigits[] = "0123456789abcdef";
    std::string text = algorithm_ == DigestAlgorithm::sha256 ? "sha256:" : "sha512:";
    for (unsigned i = 0; i < len; ++i) {
        text.push_back(hexdigits[out[i] >> 4]);
        text.push_back(hexdigits[out[i] & 0xf]);
    }
    return Digest(algorithm_, std::move(text));
}

Digest digest_of(std::string_view bytes, DigestAlgorithm algorithm) {
    Hasher h(algorithm);
    h.update(bytes);
    return h.finish();
}

}  // namespace dermaga
