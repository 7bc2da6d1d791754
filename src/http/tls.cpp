#include "http/tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "http/message.hpp"

namespace dermaga::http {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2: forward secrecy and AEAD only. TLS 1.3 suites are all AEAD with ECDHE.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

/// The first OpenSSL error queued (the cause; later ones only add "PEM lib" and the like) as
/// one line, and the error queue cleared.
std::string openssl_reason() {
    const unsigned long first = ERR_get_error();
    ERR_clear_error();
    if (first == 0) {
        return "unknown OpenSSL error";
    }
    const char* reason = ERR_reason_error_string(first);
    return reason ? reason : "OpenSSL error " + std::to_string(first);
}

tl::unexpected<Error> bad(const std::string& what) { return fail(errc::tls_config, what); }

/// Readable at all? Gives "No such file or directory" instead of an OpenSSL "system lib".
Result<void> check_readable(const char* what, const std::string& path) {
    if (path.empty()) {
        return bad(std::string(what) + " file not set");
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        return bad("cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
    }
    std::fclose(f);
    return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_tls_context(const TlsOptions& o) {
    ERR_clear_error();
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* c = ctx->native_handle();
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    // (Client-initiated renegotiation is off by default in OpenSSL 3; NO_RENEGOTIATION also
    // stops the server from starting one.)
    SSL_CTX_set_options(
        c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (o.kernel_tls) {
        // Takes effect only where the kernel offers TLS for the cipher negotiated; OpenSSL
        // falls back to user-space records by itself otherwise.
        SSL_CTX_set_options(c, SSL_OP_ENABLE_KTLS);
    }
    if (SSL_CTX_set_cipher_list(c, tls12_ciphers) != 1 ||
        SSL_CTX_set_ciphersuites(c, tls13_suites) != 1) {
        return bad("cannot set the cipher policy: " + openssl_reason());
    }
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);

    DERMAGA_CHECK(check_readable("certificate", o.cert_file));
    if (SSL_CTX_use_certificate_chain_file(c, o.cert_file.c_str()) != 1) {
        return bad("cannot load certificate " + o.cert_file + ": " + openssl_reason());
    }
    DERMAGA_CHECK(check_readable("private key", o.key_file));
    if (SSL_CTX_use_PrivateKey_file(c, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
        return bad("cannot load private key " + o.key_file + ": " + openssl_reason());
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        return bad("private key " + o.key_file + " does not match certificate " + o.cert_file);
    }

    if (o.client_auth != ClientAuth::none) {
        DERMAGA_CHECK(check_readable("client CA", o.client_ca_file));
        if (SSL_CTX_load_verify_locations(c, o.client_ca_file.c_str(), nullptr) != 1) {
            return bad("cannot load client CA " + o.client_ca_file + ": " + openssl_reason());
        }
        STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
        if (!names) {
            return bad("no CA certificate in client CA " + o.client_ca_file + ": " +
                       openssl_reason());
        }
        SSL_CTX_set_client_CA_list(c, names);  // takes ownership
        int mode = SSL_VERIFY_PEER;
        if (o.client_auth == ClientAuth::require) {
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        }
        SSL_CTX_set_verify(c, mode, nullptr);
        // Resumed sessions must carry the client identity; OpenSSL refuses resumption with
        // client verification unless the sessions are tied to this context.
        static constexpr unsigned char sid_ctx[] = "dermaga";
        SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
    }
    ERR_clear_error();
    return ctx;
}

std::string verified_peer_cn(SSL* ssl) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) {
        return {};
    }
    X509_NAME* subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at < 0) {
        return {};
    }
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
        return {};
    }
    std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    if (cn.find('\0') != std::string::npos) {
        return {};  // an embedded NUL is an attempt to pass for another name
    }
    return cn;
}

}  // namespace dermaga::http
