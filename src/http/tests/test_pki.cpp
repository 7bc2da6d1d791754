#include "test_pki.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace dermaga::http::testing {

namespace {

void check(int ok, const char* what) {
    if (ok <= 0) {
        throw std::runtime_error(std::string("test PKI: ") + what + " failed");
    }
}

std::shared_ptr<EVP_PKEY> new_key(KeyType type = KeyType::ec) {
    EVP_PKEY* k = type == KeyType::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    check(k != nullptr, "key generation");
    return {k, EVP_PKEY_free};
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "X509V3_EXT_conf_nid");
    check(X509_add_ext(cert, ext, -1), "X509_add_ext");
    X509_EXTENSION_free(ext);
}

/// A certificate for `key` named `cn`; issuer fields and signature are the caller's.
std::shared_ptr<X509> new_cert(EVP_PKEY* key, const std::string& cn, long serial) {
    std::shared_ptr<X509> cert(X509_new(), X509_free);
    X509* c = cert.get();
    check(X509_set_version(c, 2), "X509_set_version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(c), serial), "serial");
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 24 * 3600);
    check(X509_set_pubkey(c, key), "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(c);
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0),
          "subject CN");
    return cert;
}

}  // namespace

void Identity::write(const std::string& cert_path, const std::string& key_path) const {
    std::FILE* f = std::fopen(cert_path.c_str(), "w");
    check(f != nullptr, "open cert file");
    check(PEM_write_X509(f, cert.get()), "PEM_write_X509");
    std::fclose(f);
    f = std::fopen(key_path.c_str(), "w");
    check(f != nullptr, "open key file");
    check(PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr),
          "PEM_write_PrivateKey");
    std::fclose(f);
}

Identity make_ca(const std::string& cn) {
    Identity id{new_key(), nullptr};
    id.cert = new_cert(id.key.get(), cn, 1);
    X509* c = id.cert.get();
    check(X509_set_issuer_name(c, X509_get_subject_name(c)), "issuer");
    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(c, c, NID_subject_key_identifier, "hash");
    check(X509_sign(c, id.key.get(), EVP_sha256()), "X509_sign (CA)");
    return id;
}

Identity issue(const Identity& ca, const std::string& cn, Role role, long serial, KeyType key) {
    Identity id{new_key(key), nullptr};
    id.cert = new_cert(id.key.get(), cn, serial);
    X509* c = id.cert.get();
    check(X509_set_issuer_name(c, X509_get_subject_name(ca.cert.get())), "issuer");
    add_ext(c, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c, ca.cert.get(), NID_key_usage,
            key == KeyType::rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    add_ext(c, ca.cert.get(), NID_authority_key_identifier, "keyid");
    if (role == Role::server) {
        add_ext(c, ca.cert.get(), NID_ext_key_usage, "serverAuth");
        add_ext(c, ca.cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    } else {
        add_ext(c, ca.cert.get(), NID_ext_key_usage, "clientAuth");
    }
    check(X509_sign(c, ca.key.get(), EVP_sha256()), "X509_sign");
    return id;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

}  // namespace dermaga::http::testing
