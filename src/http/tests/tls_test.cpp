// The HTTPS listener over real sockets on 127.0.0.1, port 0, with certificates made at test
// time: protocol policy, files over TLS, certificate reload, client certificates.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "http/server.hpp"
#include "test_pki.hpp"

using namespace dermaga;
using namespace dermaga::http;
using namespace dermaga::http::testing;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

struct ClientOptions {
    std::string ca_file;  ///< verify the server against this CA (always on)
    std::string cert_file, key_file;
    int max_version = 0;  ///< e.g. TLS1_1_VERSION
    std::string ciphers;  ///< TLS 1.2 cipher list override
};

/// A blocking HTTPS client on one connection that verifies the server (CA and IP).
class Client {
public:
    Client(std::uint16_t port, const ClientOptions& o) : ctx_(ssl::context::tls_client) {
        ctx_.load_verify_file(o.ca_file);
        ctx_.set_verify_mode(ssl::verify_peer);
        if (!o.cert_file.empty()) {
            ctx_.use_certificate_chain_file(o.cert_file);
            ctx_.use_private_key_file(o.key_file, ssl::context::pem);
        }
        if (o.max_version) {
            // Old protocols exist only at security level 0 in OpenSSL 3: let the client offer
            // them for real, so that it is the server refusing.
            SSL_CTX_set_security_level(ctx_.native_handle(), 0);
            SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_VERSION);
            SSL_CTX_set_max_proto_version(ctx_.native_handle(), o.max_version);
        }
        if (!o.ciphers.empty()) {
            SSL_CTX_set_cipher_list(ctx_.native_handle(), o.ciphers.c_str());
        }
        // Made after the context is complete: a new SSL copies the context's settings.
        stream_ = std::make_unique<ssl::stream<tcp::socket>>(io_, ctx_);
        SSL_set1_host(stream_->native_handle(), "127.0.0.1");
        stream_->next_layer().connect(
            tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    }

    /// The TLS handshake; returns its error (none on success).
    boost::system::error_code handshake() {
        boost::system::error_code ec;
        stream_->handshake(ssl::stream_base::client, ec);
        return ec;
    }

    /// GET over the open connection (keep-alive); throws on any failure.
    bhttp::response<bhttp::string_body> get(const std::string& target) {
        bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
        req.set(bhttp::field::host, "127.0.0.1");
        bhttp::write(*stream_, req);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1ull << 30);
        bhttp::read(*stream_, buf_, parser);
        return parser.release();
    }

    /// Writes `bytes` as they are over the open connection.
    void send(const std::string& bytes) { boost::asio::write(*stream_, boost::asio::buffer(bytes)); }
    /// Reads one response; throws on any failure (a connection cut short included).
    bhttp::response<bhttp::string_body> read() {
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(1ull << 30);
        bhttp::read(*stream_, buf_, parser);
        return parser.release();
    }
    /// Asks for a small receive buffer (before the handshake), so a client that stops
    /// reading soon blocks the server's writes.
    void small_receive_buffer() {
        stream_->next_layer().set_option(boost::asio::socket_base::receive_buffer_size(64 * 1024));
    }

    /// Handshake plus GET; the error instead of a response when either fails.
    std::variant<bhttp::response<bhttp::string_body>, std::string> try_get(
        const std::string& target) {
        if (auto ec = handshake()) {
            return "handshake: " + ec.message();
        }
        try {
            return get(target);
        } catch (const boost::system::system_error& e) {
            return "request: " + std::string(e.what());
        }
    }

    /// The subject CN of the server's certificate.
    std::string server_cn() {
        X509* cert = SSL_get0_peer_certificate(stream_->native_handle());
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
        return cn;
    }
    int version() const { return SSL_version(stream_->native_handle()); }

private:
    boost::asio::io_context io_;
    ssl::context ctx_;
    std::unique_ptr<ssl::stream<tcp::socket>> stream_;
    boost::beast::flat_buffer buf_;
};

class TlsTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/dermaga-tls-test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ca_ = make_ca("Test CA");
        ca_.write(path("ca.crt"), path("ca.key"));
        issue(ca_, "server-1", Role::server, 101).write(path("server.crt"), path("server.key"));
        issue(ca_, "alice", Role::client, 201).write(path("alice.crt"), path("alice.key"));
        auto other = make_ca("Other CA");
        issue(other, "mallory", Role::client, 301).write(path("mallory.crt"), path("mallory.key"));
    }
    void TearDown() override {
        if (server_) {
            server_->shutdown(std::chrono::seconds(1), [this] { io_.stop(); });
            thread_.join();
        }
        std::filesystem::remove_all(dir_);
    }

    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    TlsOptions tls(ClientAuth auth = ClientAuth::none) const {
        return {path("server.crt"), path("server.key"),
                auth == ClientAuth::none ? "" : path("ca.crt"), auth};
    }

    void start(TlsOptions t) {
        ServerOptions o{.read_timeout = std::chrono::seconds(2), .write_timeout = std::chrono::seconds(1),
                        .access_log = false};
        o.tls = std::move(t);
        server_ = std::make_unique<Server>(io_, o, [this](Request& req) { return handle(req); });
        server_->listen("127.0.0.1", 0);
        thread_ = std::thread([this] { io_.run(); });
    }

    ClientOptions trusting() const { return {.ca_file = path("ca.crt")}; }
    ClientOptions as(const std::string& who) const {
        return {.ca_file = path("ca.crt"),
                .cert_file = path(who + ".crt"),
                .key_file = path(who + ".key")};
    }
    std::uint16_t port() const { return server_->port(); }

    asio::awaitable<Response> handle(Request& req) {
        Response r;
        if (req.path() == "/big") {
            int fd = ::open(path("big").c_str(), O_RDONLY);
            r.body = FileBody{UniqueFd(fd), big_offset_, big_length_};
        } else if (req.path() == "/huge") {  // 64 MiB of a sparse file
            int fd = ::open(path("huge").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
            EXPECT_EQ(::ftruncate(fd, huge_size), 0);
            r.body = FileBody{UniqueFd(fd), 0, huge_size};
        } else if (req.path() == "/echo") {
            auto body = co_await req.read_body(1 << 20);
            r.status = body ? 200 : body.error().code == errc::timeout ? 408 : 400;
            r.body = body ? "len=" + std::to_string(body->size()) : std::string("error");
        } else {
            r.body = "cn=" + req.client_cert_cn();
        }
        co_return r;
    }

    std::string dir_;
    Identity ca_;
    std::uint64_t big_offset_ = 0, big_length_ = 0;
    static constexpr std::uint64_t huge_size = 64u << 20;
    asio::io_context io_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

TEST_F(TlsTest, ServesRequestsToAVerifyingClient) {
    start(tls());
    Client c(port(), trusting());
    ASSERT_FALSE(c.handshake());
    EXPECT_GE(c.version(), TLS1_2_VERSION);
    EXPECT_EQ(c.server_cn(), "server-1");
    auto res = c.get("/");
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "cn=");  // no client certificate
    EXPECT_EQ(res[bhttp::field::server], "dermaga");
}

TEST_F(TlsTest, PlainHttpToTheTlsPortIsClosedAndTheServerGoesOn) {
    start(tls());
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port()));
    boost::asio::write(s, boost::asio::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    std::string out;
    char buf[4096];
    boost::system::error_code ec;
    auto t0 = std::chrono::steady_clock::now();
    while (!ec) {
        out.append(buf, s.read_some(boost::asio::buffer(buf), ec));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0,
              std::chrono::milliseconds(1500));  // not the 2 s deadline
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << out;
    Client c(port(), trusting());
    auto res = c.try_get("/");
    EXPECT_TRUE(std::holds_alternative<bhttp::response<bhttp::string_body>>(res));
}

TEST_F(TlsTest, StalledHandshakeIsCutOffByTheReadDeadline) {
    start(tls());
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port()));
    boost::asio::write(s, boost::asio::buffer(std::string("\x16\x03\x01", 3)));  // a ClientHello begun
    auto t0 = std::chrono::steady_clock::now();
    char buf[256];
    boost::system::error_code ec;
    while (!ec) {
        s.read_some(boost::asio::buffer(buf), ec);
    }
    auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_GT(waited, std::chrono::milliseconds(1500));  // read_timeout is 2 s
    EXPECT_LT(waited, std::chrono::seconds(6));
}

TEST_F(TlsTest, RefusesClientsLimitedToTls11) {
    start(tls());
    Client c(port(), {.ca_file = path("ca.crt"),
                      .max_version = TLS1_1_VERSION,
                      .ciphers = "DEFAULT:@SECLEVEL=0"});
    auto ec = c.handshake();
    ASSERT_TRUE(ec);
    // The server's protocol_version alert, not a client-side refusal to offer TLS 1.1.
    EXPECT_NE(ec.message().find("protocol version"), std::string::npos) << ec.message();
}

/// Whether a TLS server with OpenSSL's default policy and the given certificate completes a
/// handshake with a client of options `o`: the control that shows a refusal by Dermaga is its
/// policy, not a suite the client or the certificate cannot do anyway.
bool default_server_accepts(const std::string& cert, const std::string& key, const ClientOptions& o) {
    boost::asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    std::thread server([&] {
        tcp::socket s = acceptor.accept();
        SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate_file(ctx, cert.c_str(), SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
        SSL* ssl = SSL_new(ctx);
        SSL_set_fd(ssl, s.native_handle());
        (void)SSL_accept(ssl);  // the client's handshake result is what counts
        SSL_free(ssl);
        SSL_CTX_free(ctx);
    });
    Client c(acceptor.local_endpoint().port(), o);
    const bool ok = !c.handshake();
    server.join();
    return ok;
}

TEST_F(TlsTest, RefusesTls12CiphersWithoutEcdheAndAead) {
    start(tls());
    // With the EC certificate: ECDHE suites without AEAD (RSA key exchange needs an RSA key:
    // see the RSA test below).
    for (const char* cipher : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"}) {
        Client c(port(),
                 {.ca_file = path("ca.crt"), .max_version = TLS1_2_VERSION, .ciphers = cipher});
        EXPECT_TRUE(c.handshake()) << cipher;
    }
    Client ok(port(), {.ca_file = path("ca.crt"),
                       .max_version = TLS1_2_VERSION,
                       .ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305"});
    EXPECT_FALSE(ok.handshake());
    EXPECT_EQ(ok.version(), TLS1_2_VERSION);
}

TEST_F(TlsTest, WithAnRsaCertificateOnlyEcdheAeadSuitesAreNegotiated) {
    issue(ca_, "server-rsa", Role::server, 111, KeyType::rsa).write(path("server.crt"), path("server.key"));
    start(tls());
    for (const char* cipher : {"AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "ECDHE-RSA-AES128-SHA",
                               "ECDHE-RSA-AES256-SHA384"}) {
        const ClientOptions o{.ca_file = path("ca.crt"), .max_version = TLS1_2_VERSION, .ciphers = cipher};
        EXPECT_TRUE(default_server_accepts(path("server.crt"), path("server.key"), o))
            << cipher << ": not negotiable even by a permissive server, so its refusal would prove nothing";
        Client c(port(), o);
        EXPECT_TRUE(c.handshake()) << cipher << " was accepted";
    }
    for (const char* cipher : {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"}) {
        Client ok(port(), {.ca_file = path("ca.crt"), .max_version = TLS1_2_VERSION, .ciphers = cipher});
        EXPECT_FALSE(ok.handshake()) << cipher;
        EXPECT_EQ(ok.version(), TLS1_2_VERSION);
    }
}

TEST_F(TlsTest, StalledBodyGets408AtTheReadDeadline) {
    start(tls());
    Client c(port(), trusting());
    ASSERT_FALSE(c.handshake());
    const auto t0 = std::chrono::steady_clock::now();
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
    auto res = c.read();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(res.result_int(), 408u);
    EXPECT_GE(took, std::chrono::milliseconds(1800)) << "read_timeout is 2 s";
    EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(TlsTest, ReaderStalledLongerThanTheWriteTimeoutIsCutOff) {
    start(tls());
    Client c(port(), trusting());
    c.small_receive_buffer();
    ASSERT_FALSE(c.handshake());
    c.send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::seconds(3));  // write_timeout is 1 s
    EXPECT_THROW(c.read(), boost::system::system_error) << "64 MiB arrived after a 3 s stall";
    Client patient(port(), trusting());  // a stall shorter than the deadline is fine
    patient.small_receive_buffer();
    ASSERT_FALSE(patient.handshake());
    patient.send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(patient.read().body().size(), huge_size);
}

/// Whether this kernel offers TLS (the "tls" upper-layer protocol on a connected TCP socket).
bool kernel_offers_tls() {
    boost::asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    tcp::socket server = acceptor.accept();
    return ::setsockopt(server.native_handle(), IPPROTO_TCP, TCP_ULP, "tls", 3) == 0;
}

TEST_F(TlsTest, FilesGoThroughKernelTlsExactlyWhenTheKernelOffersIt) {
    for (bool kernel : {true, false}) {
        std::string data(3 * 1024 * 1024 + 77, '\0');
        std::mt19937_64 rng(kernel ? 1 : 2);
        for (auto& ch : data) {
            ch = static_cast<char>(rng());
        }
        write_file(path("big"), data);
        big_offset_ = 5;
        big_length_ = data.size() - 5;
        auto t = tls();
        t.kernel_tls = kernel;
        start(t);
        Client c(port(), trusting());
        ASSERT_FALSE(c.handshake());
        auto res = c.get("/big");
        ASSERT_EQ(res.body().size(), big_length_);
        EXPECT_TRUE(res.body() == data.substr(5)) << "kernel_tls=" << kernel;
        EXPECT_EQ(c.get("/").body(), "cn=");  // in step after the file
        const bool expected = kernel && kernel_offers_tls();
        EXPECT_EQ(server_->kernel_tls_sends(), expected ? 1u : 0u)
            << "kernel_tls=" << kernel << ", kernel offers TLS: " << kernel_offers_tls();
        server_->shutdown(std::chrono::seconds(1), [this] { io_.stop(); });
        thread_.join();
        server_.reset();
        io_.restart();
    }
}

TEST_F(TlsTest, LargeFileBodyArrivesByteExact) {
    std::string data(9 * 1024 * 1024 + 12345, '\0');
    std::mt19937_64 rng(42);
    for (auto& ch : data) {
        ch = static_cast<char>(rng());
    }
    write_file(path("big"), data);
    big_offset_ = 7;
    big_length_ = data.size() - 7 - 3;
    start(tls());
    Client c(port(), trusting());
    ASSERT_FALSE(c.handshake());
    auto res = c.get("/big");
    ASSERT_EQ(res.body().size(), big_length_);
    EXPECT_TRUE(res.body() == data.substr(7, big_length_));
    EXPECT_EQ(c.get("/").body(), "cn=");  // the connection is still in step
}

TEST_F(TlsTest, ReloadServesTheNewCertificateToNewConnectionsOnly) {
    start(tls());
    Client before(port(), trusting());
    ASSERT_FALSE(before.handshake());
    EXPECT_EQ(before.server_cn(), "server-1");
    EXPECT_EQ(before.get("/").result_int(), 200u);

    issue(ca_, "server-2", Role::server, 102).write(path("server.crt"), path("server.key"));
    auto r = server_->reload_tls();
    ASSERT_TRUE(r) << r.error().detail;

    Client after(port(), trusting());
    ASSERT_FALSE(after.handshake());
    EXPECT_EQ(after.server_cn(), "server-2");
    EXPECT_EQ(after.get("/").result_int(), 200u);
    EXPECT_EQ(before.get("/").result_int(), 200u);  // the old keep-alive connection goes on
}

TEST_F(TlsTest, FailedReloadKeepsTheOldCertificate) {
    start(tls());
    write_file(path("server.crt"), "not a certificate\n");
    auto r = server_->reload_tls();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find(path("server.crt")), std::string::npos) << r.error().detail;
    EXPECT_EQ(r.error().detail.find('\n'), std::string::npos);

    // a valid certificate with somebody else's key
    issue(ca_, "server-2", Role::server, 102).write(path("server.crt"), path("unused.key"));
    r = server_->reload_tls();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("does not match"), std::string::npos) << r.error().detail;

    std::filesystem::remove(path("server.key"));
    ASSERT_FALSE(server_->reload_tls());

    Client c(port(), trusting());
    ASSERT_FALSE(c.handshake());
    EXPECT_EQ(c.server_cn(), "server-1");
    EXPECT_EQ(c.get("/").result_int(), 200u);
}

TEST_F(TlsTest, StartWithUnreadableOrMismatchedFilesFailsNamingTheFile) {
    auto attempt = [&](TlsOptions t) -> std::string {
        try {
            Server s(io_, ServerOptions{.tls = t},
                     [](Request&) -> asio::awaitable<Response> { co_return Response{}; });
        } catch (const std::runtime_error& e) {
            return e.what();
        }
        return "started";
    };
    auto t = tls();
    t.cert_file = path("missing.crt");
    EXPECT_NE(attempt(t).find(path("missing.crt")), std::string::npos);
    t = tls();
    t.key_file = path("alice.key");
    EXPECT_NE(attempt(t).find("does not match"), std::string::npos);
    t = tls(ClientAuth::require);
    t.client_ca_file = path("server.key");  // no certificate in it
    EXPECT_NE(attempt(t).find(path("server.key")), std::string::npos);
}

TEST_F(TlsTest, RequireRefusesClientsWithoutAValidCertificate) {
    start(tls(ClientAuth::require));
    Client none(port(), trusting());
    EXPECT_TRUE(std::holds_alternative<std::string>(none.try_get("/")));
    Client stranger(port(), as("mallory"));  // signed by another CA
    EXPECT_TRUE(std::holds_alternative<std::string>(stranger.try_get("/")));

    Client alice(port(), as("alice"));
    auto res = alice.try_get("/");
    ASSERT_TRUE(std::holds_alternative<bhttp::response<bhttp::string_body>>(res))
        << std::get<std::string>(res);
    EXPECT_EQ(std::get<0>(res).body(), "cn=alice");
}

TEST_F(TlsTest, OptionalAcceptsClientsWithoutACertificate) {
    start(tls(ClientAuth::optional));
    Client none(port(), trusting());
    auto res = none.try_get("/");
    ASSERT_TRUE(std::holds_alternative<bhttp::response<bhttp::string_body>>(res))
        << std::get<std::string>(res);
    EXPECT_EQ(std::get<0>(res).body(), "cn=");

    Client alice(port(), as("alice"));
    res = alice.try_get("/");
    ASSERT_TRUE(std::holds_alternative<bhttp::response<bhttp::string_body>>(res))
        << std::get<std::string>(res);
    EXPECT_EQ(std::get<0>(res).body(), "cn=alice");

    Client stranger(port(), as("mallory"));  // a certificate that does not verify is refused
    EXPECT_TRUE(std::holds_alternative<std::string>(stranger.try_get("/")));
}

TEST_F(TlsTest, WithoutClientAuthACertificateIsNotAsked) {
    start(tls());
    Client alice(port(), as("alice"));
    auto res = alice.try_get("/");
    ASSERT_TRUE(std::holds_alternative<bhttp::response<bhttp::string_body>>(res))
        << std::get<std::string>(res);
    EXPECT_EQ(std::get<0>(res).body(), "cn=");
}

}  // namespace
