#include "auth/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "auth/secrets.hpp"
#include "core/digest.hpp"

namespace dermaga::auth {

namespace {

using Json = nlohmann::json;

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

EVP_PKEY* pkey(const std::shared_ptr<void>& k) { return static_cast<EVP_PKEY*>(k.get()); }

std::shared_ptr<void> own(EVP_PKEY* k) {
    return std::shared_ptr<void>(k, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
}

Result<std::string> kid_of(EVP_PKEY* k) {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(k, &der);
    if (len <= 0) {
        return fail(errc::bad_input, "cannot encode public key");
    }
    std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    auto d = digest_of(bytes);
    std::string raw;
    for (std::size_t i = 0; i < 32; i += 2) {
        raw.push_back(static_cast<char>(std::stoi(std::string(d.hex().substr(i, 2)), nullptr, 16)));
    }
    return base64url(raw);
}

bool is_p256(EVP_PKEY* k) {
    char group[64] = {0};
    std::size_t len = 0;
    return EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
           EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &len) == 1 &&
           std::string_view(group) == "prime256v1";
}

}  // namespace

std::string base64url(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

Result<std::string> base64url_decode(std::string_view text) {
    std::string out(text.size(), '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                          &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size()) {
        return fail(errc::bad_input, "invalid base64url");
    }
    out.resize(len);
    return out;
}

Result<SigningKey> SigningKey::generate() {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (k == nullptr) {
        return fail(errc::unavailable, "cannot generate a P-256 key");
    }
    SigningKey out;
    out.key_ = own(k);
    DERMAGA_TRY(kid, kid_of(k));
    out.kid_ = std::move(kid);
    return out;
}

Result<SigningKey> SigningKey::from_pem(std::string_view pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* k = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (k == nullptr) {
        return fail(errc::bad_input, "not a PEM private key");
    }
    SigningKey out;
    out.key_ = own(k);
    if (!is_p256(k)) {
        return fail(errc::bad_input, "signing keys must be ECDSA P-256");
    }
    DERMAGA_TRY(kid, kid_of(k));
    out.kid_ = std::move(kid);
    return out;
}

std::string SigningKey::private_pem() const {
    Bio bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), pkey(key_), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> SigningKey::sign(std::string_view data) const {
    MdCtx ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey(key_)) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return fail(errc::unavailable, "ECDSA signing failed");
    }
    std::string der(len, '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    if (EVP_DigestSign(ctx.get(), p, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        return fail(errc::unavailable, "ECDSA signing failed");
    }
    const unsigned char* cp = p;
    EcSig sig(d2i_ECDSA_SIG(nullptr, &cp, static_cast<long>(len)));
    if (!sig) {
        return fail(errc::unavailable, "ECDSA signature decoding failed");
    }
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    return raw;
}

bool SigningKey::verify(std::string_view data, std::string_view raw) const {
    if (raw.size() != 64) {
        return false;
    }
    EcSig sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return false;
    }
    unsigned char* der = nullptr;
    int der_len = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_len <= 0) {
        return false;
    }
    MdCtx ctx(EVP_MD_CTX_new());
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey(key_)) == 1 &&
              EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len),
                               reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    OPENSSL_free(der);
    return ok;
}

Result<std::string> encode_jwt(const Claims& c, const SigningKey& key) {
    Json header = {{"typ", "JWT"}, {"alg", "ES256"}, {"kid", key.kid()}};
    Json payload = c.extra;
    payload["iss"] = c.iss;
    payload["sub"] = c.sub;
    payload["aud"] = c.aud;
    payload["exp"] = c.exp;
    payload["nbf"] = c.nbf;
    payload["iat"] = c.iat;
    payload["jti"] = c.jti;
    payload["access"] = Json::array();
    for (const auto& a : c.access) {
        payload["access"].push_back({{"type", a.type}, {"name", a.name}, {"actions", a.actions}});
    }
    std::string signed_part = base64url(header.dump()) + "." + base64url(payload.dump());
    DERMAGA_TRY(sig, key.sign(signed_part));
    return signed_part + "." + base64url(sig);
}

Result<DecodedJwt> decode_jwt(std::string_view token) {
    auto bad = [](const char* why) { return fail(errc::unauthenticated, std::string("invalid token: ") + why); };
    auto d1 = token.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
        return bad("expected three dot-separated parts");
    }
    auto header_b = base64url_decode(token.substr(0, d1));
    auto payload_b = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    auto sig_b = base64url_decode(token.substr(d2 + 1));
    if (!header_b || !payload_b || !sig_b) {
        return bad("not base64url");
    }
    Json header = Json::parse(*header_b, nullptr, false);
    Json payload = Json::parse(*payload_b, nullptr, false);
    if (!header.is_object() || !payload.is_object()) {
        return bad("header and payload must be JSON objects");
    }
    if (!header.contains("alg") || header["alg"] != "ES256") {
        return bad("only ES256 is accepted");
    }
    if (!header.contains("kid") || !header["kid"].is_string()) {
        return bad("kid missing");
    }
    DecodedJwt out;
    out.kid = header["kid"].get<std::string>();
    out.signed_part = std::string(token.substr(0, d2));
    out.signature = std::move(*sig_b);
    auto& c = out.claims;
    try {
        auto str = [&](const char* k) { return payload.contains(k) ? payload[k].get<std::string>() : std::string(); };
        auto num = [&](const char* k, bool& has) -> std::int64_t {
            has = payload.contains(k);
            return has ? payload[k].get<std::int64_t>() : 0;
        };
        c.iss = str("iss");
        c.sub = str("sub");
        c.jti = str("jti");
        if (payload.contains("aud")) {
            const auto& aud = payload["aud"];
            c.aud = aud.is_array() && aud.size() == 1 ? aud[0].get<std::string>() : aud.get<std::string>();
        }
        c.iat = num("iat", out.has_iat);
        c.nbf = num("nbf", out.has_nbf);
        c.exp = num("exp", out.has_exp);
        if (payload.contains("access")) {
            for (const auto& a : payload["access"]) {
                c.access.push_back(AccessEntry{a.at("type").get<std::string>(), a.at("name").get<std::string>(),
                                               a.at("actions").get<std::vector<std::string>>()});
            }
        }
        for (auto& [k, v] : payload.items()) {
            if (k != "iss" && k != "sub" && k != "aud" && k != "jti" && k != "iat" && k != "nbf" && k != "exp" &&
                k != "access") {
                c.extra[k] = v;
            }
        }
    } catch (const Json::exception&) {
        return bad("claims have the wrong types");
    }
    return out;
}

}  // namespace dermaga::auth
