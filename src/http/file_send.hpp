#pragma once
// Internal to the server: sending a FileBody, plain (sendfile) or over TLS (SSL_sendfile with
// kernel TLS, else encrypted pieces).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "http/message.hpp"
#include "http/tls_socket.hpp"

namespace dermaga::http::detail {

/// Plain HTTP: the kernel copies the file to the socket (sendfile), each wait for writability
/// under `write_timeout`. False when the client stalled or went away, or the file is shorter
/// than promised.
asio::awaitable<bool> send_file(asio::ip::tcp::socket& sock, FileBody& file, std::chrono::seconds write_timeout);

/// TLS with kernel TLS: the kernel reads the file, encrypts and sends it (SSL_sendfile), in
/// pieces under `write_timeout`; counted in `ktls_sends`. Without it, the file is read in
/// bounded pieces (pread, like sendfile a page-cache copy on this thread), and each piece is
/// encrypted and written under `write_timeout`. Memory per download: one piece, whatever the
/// file size. False as for the plain send.
asio::awaitable<bool> send_file(TlsSocket& stream, FileBody& file, std::chrono::seconds write_timeout,
                                std::atomic<std::uint64_t>& ktls_sends);

}  // namespace dermaga::http::detail
