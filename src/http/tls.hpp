#pragma once
// TLS for the HTTP server: the options a listener is configured with, and (for the server and
// its tests) building an OpenSSL context from PEM files with the protocol and cipher policy.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/result.hpp"

typedef struct ssl_st SSL;

namespace dermaga::http {

/// Whether the server asks TLS clients for a certificate.
enum class ClientAuth {
    none,      ///< no certificate requested
    optional,  ///< requested; a client without one is accepted, an invalid one is refused
    require,   ///< the handshake fails without a certificate the client CA verifies
};

/// An HTTPS listener's certificate, key and client-certificate policy. Files are PEM.
struct TlsOptions {
    std::string cert_file;       ///< certificate chain, leaf first
    std::string key_file;        ///< private key of the leaf (unencrypted)
    std::string client_ca_file;  ///< CAs that verify client certificates; needed unless none
    ClientAuth client_auth = ClientAuth::none;
    /// Let OpenSSL hand the record layer to the kernel (kernel TLS) where the kernel and the
    /// cipher allow it; files are then sent with SSL_sendfile. Otherwise records are made in
    /// user space.
    bool kernel_tls = true;
};

/// Builds a server context: TLS 1.2 minimum (1.3 allowed); TLS 1.2 ciphers ECDHE with AES-GCM
/// or CHACHA20-POLY1305 only; server cipher preference; no compression, no renegotiation;
/// client certificates per `client_auth`; kernel TLS per `kernel_tls`. Blocking (reads the files).
/// Errors: errc::tls_config with a one-line reason naming the file at fault.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const TlsOptions& options);

/// The subject CN of the peer's certificate, if the peer sent one and it was verified; else
/// empty. Call after a successful handshake.
std::string verified_peer_cn(SSL* ssl);

}  // namespace dermaga::http
