#pragma once
// Throwaway certificates for TLS tests, made with the OpenSSL C API at test time: a CA, server
// certificates for 127.0.0.1/localhost, client certificates. Keys are EC P-256, or RSA 2048 for
// a leaf that asks for it. Throws on any OpenSSL failure (test code).

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace dermaga::http::testing {

/// A key and its certificate.
struct Identity {
    std::shared_ptr<EVP_PKEY> key;
    std::shared_ptr<X509> cert;

    /// Writes the certificate and the (unencrypted) key as PEM files.
    void write(const std::string& cert_path, const std::string& key_path) const;
};

enum class Role { server, client };
/// The leaf's key: RSA keys can also do RSA key exchange (keyEncipherment), so the ECDHE-only
/// policy can be seen refusing it; with an EC key such suites fail whatever the policy.
enum class KeyType { ec, rsa };

/// A self-signed CA named `cn`.
Identity make_ca(const std::string& cn);
/// A leaf certificate for `cn`, signed by `ca`. Servers get SANs IP:127.0.0.1 and DNS:localhost.
Identity issue(const Identity& ca, const std::string& cn, Role role, long serial, KeyType key = KeyType::ec);

/// Writes `text` to `path` (replacing it).
void write_file(const std::string& path, const std::string& text);

}  // namespace dermaga::http::testing
