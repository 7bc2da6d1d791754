// The HTTP server over real sockets on 127.0.0.1, port 0.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace dermaga;
using namespace dermaga::http;
using tcp = boost::asio::ip::tcp;

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

/// Keeps what the server reports about each request.
struct Recorder final : ServerObserver {
    struct Seen {
        Method method;
        std::string path;
        unsigned status;
        std::uint64_t received, sent;
        bool aborted;
    };
    void request_done(const RequestRecord& r) noexcept override {
        std::lock_guard lock(mu);
        seen.push_back({r.method, std::string(r.path), r.status, r.received, r.sent, r.aborted});
        EXPECT_GT(r.elapsed.count(), 0);
    }
    std::vector<Seen> take() {
        std::lock_guard lock(mu);
        return std::exchange(seen, {});
    }
    std::mutex mu;
    std::vector<Seen> seen;
};

class ServerTest : public ::testing::Test {
protected:
    /// The options the fixture's server runs with; fixtures for limits change them.
    virtual ServerOptions options() {
        return {.read_timeout = seconds(2), .max_header_bytes = 1024, .access_log = false, .observer = &recorder_};
    }
    void SetUp() override {
        server_ = std::make_unique<Server>(io_, options(), [this](Request& req) { return handle(req); });
        server_->listen("127.0.0.1", 0);
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        if (!stopped_) {
            server_->shutdown(seconds(1), [this] { io_.stop(); });
        }
        thread_.join();
    }

    asio::awaitable<Response> handle(Request& req) {
        Response r;
        if (req.path() == "/echo") {
            auto body = co_await req.read_body(1 << 20);
            r.body = body ? "len=" + std::to_string(body->size()) : std::string("error");
            if (!body && body.error().code == errc::timeout) {
                r.status = 408;  // what the registry's handlers answer
            }
        } else if (req.path() == "/load") {
            r.body = std::to_string(server_->open_connections()) + " " + std::to_string(server_->requests_in_flight());
        } else if (req.path() == "/file") {
            int fd = ::open("/proc/self/exe", O_RDONLY);
            r.body = FileBody{UniqueFd(fd), 1, 10};
        } else if (req.path() == "/big") {
            // A sparse file of two and a half read-ahead windows, sent from byte 3.
            const auto path = std::filesystem::temp_directory_path() / ("dermaga-big-" + std::to_string(::getpid()));
            int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
            ::unlink(path.c_str());
            EXPECT_EQ(::ftruncate(fd, big_size), 0);
            FileBody f{UniqueFd(fd), 3, big_size - 3};
            f.read_ahead = [this](std::uint64_t off, std::uint64_t len) {
                std::lock_guard lock(mu_);
                windows_.emplace_back(off, len);
            };
            r.body = std::move(f);
        } else if (req.path() == "/huge") {
            r.body = sparse_file(huge_size);
        } else if (req.path() == "/pieces" || req.path() == "/broken-pieces") {
            // Three pieces; the broken stream fails after the first.
            auto n = std::make_shared<int>(0);
            const bool broken = req.path() == "/broken-pieces";
            r.body = StreamBody{9, [n, broken]() -> asio::awaitable<Result<std::string>> {
                                    const int i = (*n)++;
                                    if (broken && i == 1) {
                                        co_return fail(errc::bad_body, "source failed");
                                    }
                                    co_return std::string(3, static_cast<char>('a' + i));
                                }};
        } else {
            r.body = std::string("hello");
        }
        co_return r;
    }

    static FileBody sparse_file(std::uint64_t size) {
        const auto path = std::filesystem::temp_directory_path() / ("dermaga-huge-" + std::to_string(::getpid()));
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
        ::unlink(path.c_str());
        EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
        return FileBody{UniqueFd(fd), 0, size};
    }

    static constexpr std::uint64_t big_size = 5 * read_ahead_window / 2;
    static constexpr std::uint64_t huge_size = 64u << 20;
    bool stopped_ = false;
    std::mutex mu_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> windows_;

    /// Sends raw bytes, returns everything read until the server closes or `until` appears.
    std::string exchange(const std::string& raw, const std::string& until = "") {
        boost::asio::io_context cio;
        tcp::socket s(cio);
        s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
        boost::asio::write(s, boost::asio::buffer(raw));
        std::string out;
        char buf[4096];
        boost::system::error_code ec;
        while (true) {
            auto n = s.read_some(boost::asio::buffer(buf), ec);
            out.append(buf, n);
            if (ec || (!until.empty() && out.find(until) != std::string::npos)) {
                break;
            }
        }
        return out;
    }

    tcp::socket connect(boost::asio::io_context& cio) {
        tcp::socket s(cio);
        s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
        return s;
    }

    Recorder recorder_;
    asio::io_context io_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

/// What a client read until the server closed (or `limit` passed), and how long that took.
struct Reading {
    std::string data;
    Clock::duration took{};
    bool closed = false;  ///< the server closed (EOF or reset) within the limit
};

Reading read_until_close(tcp::socket& s, Clock::duration limit, std::size_t max_bytes = SIZE_MAX) {
    Reading r;
    const auto start = Clock::now();
    char buf[64 * 1024];
    while (Clock::now() - start < limit && r.data.size() < max_bytes) {
        pollfd p{s.native_handle(), POLLIN, 0};
        const auto left = std::chrono::duration_cast<milliseconds>(limit - (Clock::now() - start)).count();
        if (::poll(&p, 1, static_cast<int>(std::max<long>(left, 1))) <= 0) {
            continue;
        }
        const auto n = ::recv(s.native_handle(), buf, sizeof buf, 0);
        if (n <= 0) {
            r.closed = true;
            break;
        }
        r.data.append(buf, static_cast<std::size_t>(n));
    }
    r.took = Clock::now() - start;
    return r;
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

/// Sends `piece` every `every` until the peer is gone or `limit` passes, on its own thread.
class Dripper {
public:
    Dripper(tcp::socket& s, std::string piece, milliseconds every, Clock::duration limit)
        : thread_([&s, piece, every, limit, this] {
              const auto start = Clock::now();
              while (!stop_ && Clock::now() - start < limit) {
                  boost::system::error_code ec;
                  boost::asio::write(s, boost::asio::buffer(piece), ec);
                  if (ec) {
                      break;
                  }
                  std::this_thread::sleep_for(every);
              }
          }) {}
    ~Dripper() {
        stop_ = true;
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST_F(ServerTest, ObserverSeesEachRequestWithStatusAndBodyBytes) {
    exchange(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        "GET /file HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto seen = recorder_.take();
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_EQ(seen[0].method, Method::post);
    EXPECT_EQ(seen[0].path, "/echo");
    EXPECT_EQ(seen[0].status, 200u);
    EXPECT_EQ(seen[0].received, 7u);
    EXPECT_EQ(seen[0].sent, 5u);  // "len=7"
    EXPECT_EQ(seen[1].path, "/file");
    EXPECT_EQ(seen[1].received, 0u);
    EXPECT_EQ(seen[1].sent, 10u);
    EXPECT_EQ(seen[2].method, Method::head);
    EXPECT_EQ(seen[2].sent, 0u);  // HEAD: no body bytes
    EXPECT_FALSE(seen[2].aborted);
}

TEST_F(ServerTest, CountsOpenConnectionsAndRequestsInFlight) {
    EXPECT_EQ(server_->open_connections(), 0);
    auto out = exchange("GET /load HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(out.find("\r\n\r\n1 1"), std::string::npos) << out;  // seen from inside the handler
    for (int i = 0; i < 200 && server_->open_connections() != 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(server_->open_connections(), 0);
    EXPECT_EQ(server_->requests_in_flight(), 0);
}

TEST_F(ServerTest, AnswersTlsClientHelloWithHttp400) {
    std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    auto out = exchange(hello);
    EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << out;
}

TEST_F(ServerTest, OversizedHeaderGets431) {
    auto out = exchange("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 431", 0), 0u) << out;
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
    auto out = exchange("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::size_t bodies = 0;
    for (auto at = out.find("hello"); at != std::string::npos; at = out.find("hello", at + 1)) {
        ++bodies;
    }
    EXPECT_EQ(bodies, 2u) << out;
    EXPECT_NE(out.find("X-Request-Id"), std::string::npos);
}

TEST_F(ServerTest, StreamsChunkedRequestBodies) {
    auto out = exchange(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    EXPECT_NE(out.find("len=7"), std::string::npos) << out;
}

TEST_F(ServerTest, AnswersExpectContinue) {
    auto out = exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n", "100 Continue");
    EXPECT_NE(out.find("HTTP/1.1 100 Continue"), std::string::npos) << out;
}

TEST_F(ServerTest, HeadCarriesLengthWithoutBody) {
    auto out = exchange("HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("hello"), std::string::npos) << out;
}

TEST_F(ServerTest, SendsFileRanges) {
    auto out = exchange("GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(out.find("Content-Length: 10\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\n\r\nELF"), std::string::npos) << out;  // bytes 1..10 of the ELF header
}

TEST_F(ServerTest, StreamBodyPiecesArriveInOrder) {
    auto out = exchange("GET /pieces HTTP/1.1\r\nHost: x\r\n\r\n", "ccc");
    EXPECT_NE(out.find("Content-Length: 9"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\n\r\naaabbbccc"), std::string::npos) << out;
}

TEST_F(ServerTest, AFailingStreamBodyClosesTheConnectionShort) {
    // Keep-alive is asked for, but the client must see the body cut short and the end of the
    // connection: it cannot mistake the response for a whole one.
    auto out = exchange("GET /broken-pieces HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_NE(out.find("Content-Length: 9"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\n\r\naaa"), std::string::npos) << out;
    EXPECT_EQ(out.find("bbb"), std::string::npos) << out;
}

TEST_F(ServerTest, FileBodyReadAheadCoversTheRangeOnceInOrder) {
    auto out = exchange("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto head_end = out.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    EXPECT_EQ(out.size() - head_end - 4, big_size - 3);
    std::lock_guard lock(mu_);
    ASSERT_EQ(windows_.size(), 3u);
    std::uint64_t next = 3;
    for (auto [off, len] : windows_) {
        EXPECT_EQ(off, next);
        EXPECT_LE(len, read_ahead_window);
        next = off + len;
    }
    EXPECT_EQ(next, big_size) << "the windows end where the body ends";
}

TEST_F(ServerTest, ClientThatHangsUpMidBodyIsDroppedAtOnce) {
    boost::asio::io_context cio;
    tcp::socket s(cio);
    s.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), server_->port()));
    boost::asio::write(s, boost::asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")));
    s.shutdown(tcp::socket::shutdown_send);
    auto start = std::chrono::steady_clock::now();
    char buf[1024];
    boost::system::error_code ec;
    while (!ec) {
        s.read_some(boost::asio::buffer(buf), ec);
    }
    // The read deadline is 2 s: closing well before it shows the server saw the hang-up.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(ServerTest, StalledClientIsCutOffByTheReadDeadline) {
    auto start = std::chrono::steady_clock::now();
    auto out = exchange("GET / HTTP/1.1\r\nHost: x\r\n");  // never finishes its header
    EXPECT_TRUE(out.empty()) << out;
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, milliseconds(1800)) << "read_timeout is 2 s";
    EXPECT_LT(took, seconds(5));
}

// Request smuggling (RFC 9112 §6.3): a body whose length cannot be known must not be read as
// the next request. Each POST carries a complete GET as its "body".
TEST_F(ServerTest, TransferEncodingOtherThanChunkedGets400AndTheConnectionCloses) {
    const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (const char* te : {"xchunked", "chunked, identity", "identity", "gzip", "chunked, chunked", ","}) {
        boost::asio::io_context cio;
        auto s = connect(cio);
        boost::asio::write(s, boost::asio::buffer("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " +
                                                  std::string(te) + "\r\n\r\n" + smuggled));
        auto r = read_until_close(s, seconds(5));
        EXPECT_TRUE(r.closed) << te;
        EXPECT_EQ(r.data.rfind("HTTP/1.1 400 ", 0), 0u) << te << ": " << r.data;
        EXPECT_EQ(count(r.data, "HTTP/1.1 "), 1u) << te << ": answered more than once: " << r.data;
    }
}

TEST_F(ServerTest, ChunkedAfterAnotherCodingGets501AndTheConnectionCloses) {
    boost::asio::io_context cio;
    auto s = connect(cio);
    boost::asio::write(s, boost::asio::buffer(std::string(
                              "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    auto r = read_until_close(s, seconds(5));
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.data.rfind("HTTP/1.1 501 ", 0), 0u) << r.data;
    EXPECT_EQ(count(r.data, "HTTP/1.1 "), 1u) << r.data;
}

TEST_F(ServerTest, TransferEncodingOnHttp10Gets400) {
    auto out = exchange("POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(out.rfind("HTTP/1.1 400 ", 0), 0u) << out;
}

TEST_F(ServerTest, ChunkedInAnyCaseIsStillAccepted) {
    auto out = exchange(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n");
    EXPECT_NE(out.find("len=3"), std::string::npos) << out;
}

/// Deadlines for slow clients: read 2 s, idle 30 s, bodies at 1000 bytes/s at least.
class SlowClientTest : public ServerTest {
protected:
    ServerOptions options() override {
        return {.read_timeout = seconds(2), .idle_timeout = seconds(30), .access_log = false, .min_body_rate = 1000};
    }
};

TEST_F(SlowClientTest, LaterHeaderOnAKeptAliveConnectionHasTheReadDeadlineFromItsFirstByte) {
    boost::asio::io_context cio;
    auto s = connect(cio);
    boost::asio::write(s, boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
    auto first = read_until_close(s, seconds(1), 1);
    ASSERT_EQ(first.data.rfind("HTTP/1.1 200", 0), 0u) << first.data;
    std::this_thread::sleep_for(milliseconds(300));  // the rest of the first response arrives
    // The next request begins, then trickles a header field every 300 ms, each well within
    // read_timeout; only its deadline as a whole (2 s from the first byte) stops it.
    boost::asio::write(s, boost::asio::buffer(std::string("GET /b HTTP/1.1\r\n")));
    Dripper drip(s, "X-Slow: y\r\n", milliseconds(300), seconds(10));
    auto r = read_until_close(s, seconds(12));
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.data.find("HTTP/1.1"), std::string::npos) << "a trickled header must not be answered: " << r.data;
    EXPECT_GE(r.took, milliseconds(1500)) << "read_timeout is 2 s";
    EXPECT_LT(r.took, seconds(5)) << "cut off by idle_timeout (30 s) or not at all, not read_timeout (2 s)";
}

TEST_F(SlowClientTest, BodyBelowTheMinimumRateGets408AfterTheGrace) {
    boost::asio::io_context cio;
    auto s = connect(cio);
    boost::asio::write(s, boost::asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")));
    // 10 bytes every 200 ms: each read well within read_timeout, 50 bytes/s on average.
    Dripper drip(s, std::string(10, 'z'), milliseconds(200), seconds(15));
    auto r = read_until_close(s, seconds(16));
    EXPECT_EQ(r.data.rfind("HTTP/1.1 408", 0), 0u) << r.data;
    EXPECT_TRUE(r.closed);
    EXPECT_GE(r.took, milliseconds(1800)) << "the grace is read_timeout (2 s), plus 1 s per 1000 bytes";
    EXPECT_LT(r.took, seconds(5));
}

TEST_F(SlowClientTest, BodyAboveTheMinimumRateIsRead) {
    boost::asio::io_context cio;
    auto s = connect(cio);
    // 3000 bytes over ~3 s (beyond the 2 s grace), at 1000 bytes per 0.75 s: above the rate.
    boost::asio::write(s, boost::asio::buffer(std::string(
                              "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\nConnection: close\r\n\r\n")));
    for (int i = 0; i < 4; ++i) {
        boost::asio::write(s, boost::asio::buffer(std::string(1000, 'z')));
        std::this_thread::sleep_for(milliseconds(750));
    }
    auto r = read_until_close(s, seconds(5));
    EXPECT_EQ(r.data.rfind("HTTP/1.1 200", 0), 0u) << r.data;
    EXPECT_NE(r.data.find("len=4000"), std::string::npos) << r.data;
}

/// idle_timeout 1 s, read_timeout 5 s.
class IdleTest : public ServerTest {
protected:
    ServerOptions options() override {
        return {.read_timeout = seconds(5), .idle_timeout = seconds(1), .access_log = false};
    }
};

TEST_F(IdleTest, IdleKeptAliveConnectionIsClosedAtTheIdleTimeout) {
    boost::asio::io_context cio;
    auto s = connect(cio);
    boost::asio::write(s, boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
    auto r = read_until_close(s, seconds(10));
    EXPECT_TRUE(r.closed);
    EXPECT_NE(r.data.find("hello"), std::string::npos) << r.data;
    EXPECT_GE(r.took, milliseconds(800)) << "idle_timeout is 1 s";
    EXPECT_LT(r.took, milliseconds(3500)) << "closed at read_timeout (5 s), not idle_timeout (1 s)";
}

/// write_timeout 1 s.
class WriteTimeoutTest : public ServerTest {
protected:
    ServerOptions options() override {
        return {.read_timeout = seconds(5), .write_timeout = seconds(1), .access_log = false};
    }
};

TEST_F(WriteTimeoutTest, ReaderThatStallsLongerThanTheWriteTimeoutIsCutOff) {
    auto download = [&](milliseconds pause) {
        boost::asio::io_context cio;
        auto s = connect(cio);
        s.set_option(boost::asio::socket_base::receive_buffer_size(64 * 1024));
        boost::asio::write(s, boost::asio::buffer(std::string("GET /huge HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")));
        std::this_thread::sleep_for(pause);  // not reading: the server's writes block
        return read_until_close(s, seconds(20));
    };
    auto patient = download(milliseconds(300));  // shorter than write_timeout: all of it
    EXPECT_TRUE(patient.closed);
    EXPECT_EQ(patient.data.size() - patient.data.find("\r\n\r\n") - 4, huge_size);
    auto stalled = download(milliseconds(3000));
    EXPECT_TRUE(stalled.closed);
    EXPECT_LT(stalled.data.size(), huge_size) << "the server waited out a reader stalled for 3 s";
}

/// max_connections 2.
class ConnectionLimitTest : public ServerTest {
protected:
    ServerOptions options() override { return {.read_timeout = seconds(5), .max_connections = 2, .access_log = false}; }
};

TEST_F(ConnectionLimitTest, ConnectionsBeyondTheLimitAreClosedUnanswered) {
    boost::asio::io_context cio;
    std::vector<tcp::socket> open;
    for (int i = 0; i < 2; ++i) {
        open.push_back(connect(cio));
        boost::asio::write(open.back(), boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
        auto r = read_until_close(open.back(), seconds(2), 1);
        ASSERT_EQ(r.data.rfind("HTTP/1.1 200", 0), 0u) << i;
    }
    auto third = connect(cio);
    boost::system::error_code ec;
    boost::asio::write(third, boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")), ec);
    auto refused = read_until_close(third, seconds(3));
    EXPECT_TRUE(refused.closed);
    EXPECT_TRUE(refused.data.empty()) << refused.data;

    open.front().close();  // a place frees up
    std::this_thread::sleep_for(milliseconds(300));
    auto fourth = connect(cio);
    boost::asio::write(fourth, boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
    auto served = read_until_close(fourth, seconds(2), 1);
    EXPECT_EQ(served.data.rfind("HTTP/1.1 200", 0), 0u) << served.data;
}

/// read_timeout 30 s: a stalled body keeps its request in flight through a shutdown.
class ShutdownTest : public ServerTest {
protected:
    ServerOptions options() override { return {.read_timeout = seconds(30), .access_log = false, .min_body_rate = 0}; }
};

TEST_F(ShutdownTest, GraceExpiresWithARequestStillInFlight) {
    boost::asio::io_context cio;
    auto busy = connect(cio);
    boost::asio::write(busy, boost::asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")));
    auto idle = connect(cio);
    boost::asio::write(idle, boost::asio::buffer(std::string("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_EQ(read_until_close(idle, seconds(2), 1).data.rfind("HTTP/1.1 200", 0), 0u);
    std::this_thread::sleep_for(milliseconds(200));  // the POST's handler is waiting for its body

    std::promise<Clock::time_point> done;
    const auto start = Clock::now();
    stopped_ = true;
    server_->shutdown(seconds(1), [&] {
        done.set_value(Clock::now());
        io_.stop();
    });
    auto idle_end = read_until_close(idle, seconds(5));
    EXPECT_TRUE(idle_end.closed);
    EXPECT_LT(idle_end.took, milliseconds(800)) << "an idle connection does not wait for the grace";
    auto f = done.get_future();
    ASSERT_EQ(f.wait_for(seconds(10)), std::future_status::ready) << "the grace never expired";
    const auto took = f.get() - start;
    EXPECT_GE(took, milliseconds(900)) << "done before the 1 s grace with a request in flight";
    EXPECT_LT(took, seconds(4));
}

}  // namespace
