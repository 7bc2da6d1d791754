#include "auth/secrets.hpp"

#include <crypt.h>
#include <sodium.h>

#include <cstring>
#include <stdexcept>

#include "core/digest.hpp"

namespace dermaga::auth {

namespace {

struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.auth"; }
    std::string message(int c) const override {
        switch (static_cast<errc>(c)) {
            case errc::bad_input: return "invalid input";
            case errc::unauthenticated: return "authentication required";
            case errc::locked: return "too many failed logins";
            case errc::denied: return "access denied";
            case errc::not_found: return "not found";
            case errc::conflict: return "conflict";
            case errc::unavailable: return "service unavailable";
        }
        return "auth error";
    }
};

// OWASP's Argon2id floor: 19 MiB, 2 iterations. Keeps concurrent logins affordable on a
// small machine while costing an attacker ~20 ms of memory-hard work per guess.
constexpr unsigned long long argon_ops = 2;
constexpr std::size_t argon_mem = 19 * 1024 * 1024;

void ensure_sodium() {
    static const bool ok = sodium_init() >= 0;
    if (!ok) {
        throw std::runtime_error("libsodium failed to initialise");
    }
}

bool is_bcrypt(std::string_view h) {
    return h.size() == 60 && (h.substr(0, 4) == "$2a$" || h.substr(0, 4) == "$2b$" || h.substr(0, 4) == "$2y$");
}

}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

Result<std::string> hash_password(std::string_view password) {
    DERMAGA_CHECK(check_password_policy(password));
    ensure_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), argon_ops, argon_mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return fail(errc::unavailable, "out of memory hashing a password");
    }
    return std::string(out);
}

bool verify_password(std::string_view password, std::string_view hash) {
    if (password.empty() || hash.empty()) {
        return false;
    }
    if (hash.substr(0, 10) == "$argon2id$") {
        ensure_sodium();
        std::string h(hash);  // NUL-terminated copy
        return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
    }
    if (is_bcrypt(hash)) {
        if (password.find('\0') != std::string_view::npos) {
            return false;
        }
        std::string pw(password);
        std::string h(hash);
        struct crypt_data data {};
        const char* out = crypt_r(pw.c_str(), h.c_str(), &data);
        return out != nullptr && h.size() == std::strlen(out) && sodium_memcmp(out, h.data(), h.size()) == 0;
    }
    return false;
}

const PasswordHasher& PasswordHasher::standard() {
    static const PasswordHasher hasher;
    return hasher;
}

Result<void> check_password_policy(std::string_view password) {
    if (password.size() < 8) {
        return fail(errc::bad_input, "password must be at least 8 characters");
    }
    if (password.size() > 1024) {
        return fail(errc::bad_input, "password must be at most 1024 bytes");
    }
    return {};
}

Result<std::vector<HtpasswdEntry>> parse_htpasswd(std::string_view text) {
    std::vector<HtpasswdEntry> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        auto line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
            line.remove_suffix(1);
        }
        if (line.empty() || line.front() == '#') {
            continue;
        }
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) {
            return fail(errc::bad_input, "line " + std::to_string(line_no) + ": expected user:hash");
        }
        HtpasswdEntry e{std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))};
        if (!is_bcrypt(e.hash)) {
            return fail(errc::bad_input, "line " + std::to_string(line_no) + ": user " + e.user +
                                             " does not have a bcrypt hash (only bcrypt entries can be imported)");
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::string new_secret(std::string_view prefix) {
    ensure_sodium();
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return std::string(prefix) + b64;
}

std::string secret_hash(std::string_view secret) {
    return std::string(digest_of(secret).hex());
}

}  // namespace dermaga::auth
