// The HTTP server over real sockets on 127.0.0.1, port 0.
#include "http/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

using namespace dermaga;
using namespace dermaga::http;
using tcp = boost::asio::ip::tcp;

namespace {

class ServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        server_ = std::make_unique<Server>(io_, ServerOptions{.read_timeout = std::chrono::seconds(2),
                                                              .max_header_bytes = 1024,
                                                              .access_log = false},
                                           [this](Request& req) { return handle(req); });
        server_->listen("127.0.0.1", 0);
        thread_ = std::thread([this] { io_.run(); });
    }
    void TearDown() override {
        server_->shutdown(std::chrono::seconds(1), [this] { io_.stop(); });
        thread_.join();
    }

    asio::awaitable<Response> handle(Request& req) {
        Response r;
        if (req.path() == "/echo") {
            auto body = co_await req.read_body(1 << 20);
            r.body = body ? "len=" + std::to_string(body->size()) : std::string("error");
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
        } else {
            r.body = std::string("hello");
        }
        co_return r;
    }

    static constexpr std::uint64_t big_size = 5 * read_ahead_window / 2;
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

    asio::io_context io_;
    std::unique_ptr<Server> server_;
    std::thread thread_;
};

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
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
