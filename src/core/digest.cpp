#include "core/digest.hpp"

// SHA-256 runs on OpenSSL's low-level API (deprecated in 3.0, same assembly as EVP) because
// only its context can be saved and restored: an upload's running hash must survive the
// node that started it.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
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
    EVP_MD_CTX* ctx = nullptr;  ///< sha512
    SHA256_CTX sha256{};        ///< sha256
    ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
    if (algorithm == DigestAlgorithm::sha256) {
        SHA256_Init(&ctx_->sha256);
        return;
    }
    ctx_->ctx = EVP_MD_CTX_new();
    if (ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, md_for(algorithm), nullptr) != 1) {
        throw std::runtime_error("OpenSSL digest initialisation failed");
    }
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const char> bytes) {
    if (algorithm_ == DigestAlgorithm::sha256) {
        SHA256_Update(&ctx_->sha256, bytes.data(), bytes.size());
    } else {
        EVP_DigestUpdate(ctx_->ctx, bytes.data(), bytes.size());
    }
    size_ += bytes.size();
}

Hasher Hasher::clone() const {
    Hasher h(algorithm_);
    if (algorithm_ == DigestAlgorithm::sha256) {
        h.ctx_->sha256 = ctx_->sha256;
    } else {
        EVP_MD_CTX_copy_ex(h.ctx_->ctx, ctx_->ctx);
    }
    h.size_ = size_;
    return h;
}

namespace {
// A saved SHA-256 state: "s256:" then hex of the byte count (u64) and of the context's words
// (h[8], Nl, Nh, data[16], num), each little-endian: independent of the struct's layout.
constexpr std::string_view saved_prefix = "s256:";

void put_le(std::string& out, std::uint64_t v, int bytes) {
    static constexpr char hexdigits[] = "0123456789abcdef";
    for (int i = 0; i < bytes; ++i) {
        const auto b = static_cast<unsigned>((v >> (8 * i)) & 0xff);
        out.push_back(hexdigits[b >> 4]);
        out.push_back(hexdigits[b & 0xf]);
    }
}

bool get_le(std::string_view& in, std::uint64_t& v, int bytes) {
    if (in.size() < static_cast<std::size_t>(bytes) * 2) {
        return false;
    }
    v = 0;
    for (int i = 0; i < bytes; ++i) {
        unsigned b = 0;
        for (char c : in.substr(2 * i, 2)) {
            b <<= 4;
            if (c >= '0' && c <= '9') b |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') b |= static_cast<unsigned>(c - 'a' + 10);
            else return false;
        }
        v |= static_cast<std::uint64_t>(b) << (8 * i);
    }
    in.remove_prefix(static_cast<std::size_t>(bytes) * 2);
    return true;
}
}  // namespace

std::optional<std::string> Hasher::save() const {
    if (algorithm_ != DigestAlgorithm::sha256) {
        return std::nullopt;
    }
    const SHA256_CTX& c = ctx_->sha256;
    std::string out(saved_prefix);
    put_le(out, size_, 8);
    for (auto w : c.h) put_le(out, w, 4);
    put_le(out, c.Nl, 4);
    put_le(out, c.Nh, 4);
    for (auto w : c.data) put_le(out, w, 4);
    put_le(out, c.num, 4);
    return out;
}

std::optional<Hasher> Hasher::restore(std::string_view saved) {
    if (!saved.starts_with(saved_prefix)) {
        return std::nullopt;
    }
    saved.remove_prefix(saved_prefix.size());
    Hasher h(DigestAlgorithm::sha256);
    SHA256_CTX& c = h.ctx_->sha256;
    std::uint64_t v = 0;
    bool ok = get_le(saved, v, 8);
    h.size_ = v;
    for (auto& w : c.h) ok = ok && get_le(saved, v, 4), w = static_cast<SHA_LONG>(v);
    ok = ok && get_le(saved, v, 4), c.Nl = static_cast<SHA_LONG>(v);
    ok = ok && get_le(saved, v, 4), c.Nh = static_cast<SHA_LONG>(v);
    for (auto& w : c.data) ok = ok && get_le(saved, v, 4), w = static_cast<SHA_LONG>(v);
    ok = ok && get_le(saved, v, 4), c.num = static_cast<unsigned>(v);
    // The context's own byte count must agree with ours, and the buffer must be partial.
    const std::uint64_t bits = (static_cast<std::uint64_t>(c.Nh) << 32) | c.Nl;
    if (!ok || !saved.empty() || c.num >= SHA256_CBLOCK || bits != h.size_ * 8) {
        return std::nullopt;
    }
    return h;
}

Digest Hasher::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (algorithm_ == DigestAlgorithm::sha256) {
        SHA256_Final(out, &ctx_->sha256);
        len = SHA256_DIGEST_LENGTH;
    } else {
        EVP_DigestFinal_ex(ctx_->ctx, out, &len);
    }
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
