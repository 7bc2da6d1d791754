#pragma once
// JSON Web Tokens signed with ES256 (ECDSA P-256 + SHA-256), as Docker token authentication
// uses them. Only ES256 is ever produced or accepted: "alg": "none", HMAC and RSA tokens are
// refused whatever their signature, which rules out algorithm-confusion attacks.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"

namespace dermaga::auth {

/// A P-256 key pair. kid: the first 16 bytes of SHA-256 over the DER public key, base64url.
class SigningKey {
public:
    /// A fresh key from the system's CSPRNG.
    static Result<SigningKey> generate();
    /// Parses a PKCS#8 PEM private key. Errors: errc::bad_input.
    static Result<SigningKey> from_pem(std::string_view pem);

    std::string private_pem() const;
    const std::string& kid() const noexcept { return kid_; }
    /// The 64-byte raw r||s signature of `data`.
    Result<std::string> sign(std::string_view data) const;
    bool verify(std::string_view data, std::string_view raw_signature) const;

private:
    std::shared_ptr<void> key_;  // EVP_PKEY
    std::string kid_;
};

struct AccessEntry {
    std::string type;  ///< "repository" or "registry"
    std::string name;  ///< repository name, or "catalog"
    std::vector<std::string> actions;
    bool operator==(const AccessEntry&) const = default;
};

struct Claims {
    std::string iss, sub, aud, jti;
    std::int64_t iat = 0, nbf = 0, exp = 0;
    std::vector<AccessEntry> access;
    nlohmann::json extra = nlohmann::json::object();  ///< private claims (who the subject is)
};

/// header.payload.signature with the key's kid in the header.
Result<std::string> encode_jwt(const Claims& c, const SigningKey& key);

/// Splits and decodes a JWT without checking anything but its syntax and header (alg must be
/// ES256, kid present). The caller verifies signature and claims. Errors: errc::unauthenticated.
struct DecodedJwt {
    std::string kid;
    std::string signed_part;  ///< header.payload
    std::string signature;    ///< raw r||s
    Claims claims;
    bool has_iat = false, has_exp = false, has_nbf = false;
};
Result<DecodedJwt> decode_jwt(std::string_view token);

std::string base64url(std::string_view bytes);
/// Errors: errc::bad_input on any character outside the unpadded base64url alphabet.
Result<std::string> base64url_decode(std::string_view text);

}  // namespace dermaga::auth
