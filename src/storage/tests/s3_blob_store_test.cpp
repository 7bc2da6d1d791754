// The S3 store's own behaviour: its upload state, retries and failures (against a scripted
// local HTTP server), and what only a real S3 can show (against RGW, when
// DERMAGA_TEST_S3_ENDPOINT is set: multipart copy, aborting multipart uploads, presigned
// URLs, bad credentials, a commit retried after S3 already completed the upload).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "storage/s3/upload_state.hpp"
#include "storage/tests/s3_test_env.hpp"

using namespace dermaga;
using namespace dermaga::storage;
using namespace dermaga::storage::s3;

namespace {

/// Answers each HTTP request on 127.0.0.1 with the next scripted response (the last one
/// repeats) and counts the requests.
class ScriptedServer {
public:
    explicit ScriptedServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
        ::listen(fd_, 16);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int requests() const { return count_; }

private:
    void serve() {
        for (;;) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) {
                return;
            }
            std::string in;
            char buf[4096];
            for (;;) {  // one request per connection (each response closes it)
                auto n = ::read(c, buf, sizeof buf);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
                if (in.find("\r\n\r\n") != std::string::npos) break;
            }
            const auto i = std::min<std::size_t>(static_cast<std::size_t>(count_++), responses_.size() - 1);
            const auto& r = responses_[i];
            (void)::write(c, r.data(), r.size());
            ::close(c);
        }
    }
    std::vector<std::string> responses_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<int> count_{0};
    std::thread thread_;
};

std::string answer(int status, std::string_view reason, std::string_view body = {}) {
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

S3StoreOptions scripted(const std::string& endpoint) {
    S3StoreOptions o;
    o.s3.endpoint = endpoint;
    o.s3.bucket = "b";
    o.s3.credentials = {"AK", "very-secret-key", ""};
    o.s3.backoff_base = std::chrono::milliseconds(1);
    o.s3.backoff_max = std::chrono::milliseconds(5);
    o.s3.http.connect_timeout = std::chrono::milliseconds(500);
    o.s3.http.stall_timeout = std::chrono::milliseconds(1000);
    return o;
}

const std::string slow_down =
    answer(503, "Slow Down", "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce</Message></Error>");

TEST(S3UploadState, RoundTripsAndRefusesValuesItDidNotWrite) {
    S3Upload u;
    u.size = 5 + 7;
    u.multipart_id = "2~abc";
    u.parts = {{1, "\"etag-1\""}};
    u.part_sizes = {5};
    u.tail = 7;
    auto back = S3Upload::decode(u.encode());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->encode(), u.encode());
    EXPECT_EQ(back->parts.at(0).etag, "\"etag-1\"");
    EXPECT_TRUE(S3Upload::decode("")) << "empty is a new upload";
    EXPECT_FALSE(S3Upload::decode("garbage"));
    EXPECT_FALSE(S3Upload::decode("v1\nsize 13\nmpu x\npart 1 5 e\ntail 7\n")) << "sizes must add up";
    EXPECT_FALSE(S3Upload::decode("v1\nsize 5\npart 1 5 e\n")) << "parts need a multipart upload";
    EXPECT_FALSE(S3Upload::decode("v1\nsize 10\nmpu x\npart 2 10 e\n")) << "parts are numbered from 1";
}

TEST(S3Retries, SlowDownAndServerErrorsAreRetriedThenSucceed) {
    ScriptedServer server({slow_down, answer(500, "Internal"), answer(200, "OK")});
    auto o = scripted(server.endpoint());
    o.s3.attempts = 3;
    S3BlobStore store(o);
    EXPECT_TRUE(store.ready());
    EXPECT_EQ(server.requests(), 3);
}

TEST(S3Retries, GivesUpAfterTheConfiguredAttempts) {
    ScriptedServer server({slow_down});
    auto o = scripted(server.endpoint());
    o.s3.attempts = 4;
    S3BlobStore store(o);
    auto r = store.client().get("some/key");  // a GET: a HEAD's answer has no body to name the code
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
    EXPECT_NE(r.error().detail.find("SlowDown"), std::string::npos) << r.error().detail;
    EXPECT_EQ(server.requests(), 4);
}

TEST(S3Retries, ClientErrorsAreNotRetried) {
    ScriptedServer server({answer(403, "Forbidden", "<Error><Code>AccessDenied</Code></Error>")});
    auto o = scripted(server.endpoint());
    S3BlobStore store(o);
    auto r = store.stat(digest_of("x"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
    EXPECT_EQ(server.requests(), 1);
    EXPECT_EQ(r.error().detail.find("very-secret-key"), std::string::npos) << "no secret in errors";
}

TEST(S3Retries, AnEndpointThatIsDownFailsAsAnError) {
    int port = 0;
    {
        ScriptedServer gone({answer(200, "OK")});
        port = std::stoi(gone.endpoint().substr(gone.endpoint().rfind(':') + 1));
    }  // closed: connections are refused
    auto o = scripted("http://127.0.0.1:" + std::to_string(port));
    S3BlobStore store(o);
    auto r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
    EXPECT_EQ(store.open(digest_of("x")).error().code, errc::io_error) << "unreachable is not 'not found'";
}

TEST(S3Retries, AStalledResponseTimesOut) {
    // Headers promise a body that never comes: the stall timeout ends the call.
    ScriptedServer server({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"});
    auto o = scripted(server.endpoint());
    o.s3.attempts = 1;
    S3BlobStore store(o);
    std::string buf(100, '\0');
    auto r = store.client().get_range("k", 0, buf);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
}

// --- against a real S3 (RGW) ------------------------------------------------------------

class S3OnRgw : public ::testing::TestWithParam<int> {
protected:
    std::string prefix() const {
        return "rgw-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name();
    }
    /// One request of appending, returning the new state.
    static UploadState append(BlobStore& s, const std::string& id, const UploadState& st, std::string_view bytes) {
        auto w = s.append_upload(id, st);
        EXPECT_TRUE(w);
        EXPECT_TRUE((*w)->write(std::span<const char>(bytes.data(), bytes.size())));
        auto next = (*w)->finish();
        EXPECT_TRUE(next) << (next ? "" : next.error().detail);
        return next ? *next : UploadState();
    }
    static std::string read_all(BlobStore& s, const Digest& d) {
        auto b = s.open(d);
        EXPECT_TRUE(b);
        std::string out(b->size, '\0');
        std::size_t off = 0;
        while (b && off < out.size()) {
            auto n = read_at(*b, off, std::span<char>(out.data() + off, out.size() - off));
            if (!n || *n == 0) break;
            off += *n;
        }
        return out;
    }
};

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 11));
    return s;
}

TEST_P(S3OnRgw, BlobsAboveTheCopyLimitAreCopiedPartByPart) {
    auto o = s3_test::options(prefix());
    o.multipart_copy_above = 6u << 20;
    o.copy_part_size = 5u << 20;
    auto store = s3_test::make_store(prefix(), o);
    const auto data = pattern(12 * 1024 * 1024 + 3);
    auto st = append(*store, "big", {}, data);
    const auto d = digest_of(data);
    ASSERT_TRUE(store->commit_upload("big", st, d));
    EXPECT_TRUE(read_all(*store, d) == data);
}

TEST_P(S3OnRgw, DeletingAnUploadAbortsItsMultipartUpload) {
    auto store = s3_test::make_store(prefix());
    auto st = append(*store, "u", {}, pattern(6 * 1024 * 1024));
    auto open = store->client().list_multipart(store->upload_key("u", ""));
    ASSERT_TRUE(open);
    ASSERT_EQ(open->size(), 1u) << "a full part started a multipart upload";
    auto stale = store->stale_uploads(std::numeric_limits<std::int64_t>::max(), 10);
    ASSERT_TRUE(stale);
    EXPECT_EQ(*stale, std::vector<std::string>{"u"});
    ASSERT_TRUE(store->delete_upload("u", st));
    EXPECT_TRUE(store->client().list_multipart(store->upload_key("u", ""))->empty());
    EXPECT_FALSE(*store->client().head(store->upload_key("u", "tail")));
}

TEST_P(S3OnRgw, AnOrphanUploadWithoutStateIsFoundAndAborted) {
    auto store = s3_test::make_store(prefix());
    (void)append(*store, "orphan", {}, pattern(5 * 1024 * 1024 + 1));
    ASSERT_TRUE(store->delete_upload("orphan", {}));
    EXPECT_TRUE(store->client().list_multipart(store->upload_key("orphan", ""))->empty());
}

TEST_P(S3OnRgw, ACommitRetriedAfterS3CompletedTheUploadStillCommits) {
    auto store = s3_test::make_store(prefix());
    const auto data = pattern(5 * 1024 * 1024 + 100);
    auto st = append(*store, "again", {}, data);
    const auto d = digest_of(data);
    ASSERT_TRUE(store->commit_upload("again", st, d));
    ASSERT_TRUE(store->remove(d));  // as if the copy had not happened before a crash
    ASSERT_TRUE(store->commit_upload("again", st, d)) << "the multipart upload is gone; its object is not";
    EXPECT_TRUE(read_all(*store, d) == data);
}

TEST_P(S3OnRgw, PresignedUrlsServeTheBlobAndNothingElse) {
    auto o = s3_test::options(prefix());
    o.redirect_seconds = 60;
    auto store = s3_test::make_store(prefix(), o);
    auto st = append(*store, "p", {}, "presigned bytes");
    const auto d = digest_of("presigned bytes");
    ASSERT_TRUE(store->commit_upload("p", st, d));
    auto url = store->redirect_url(d);
    ASSERT_TRUE(url);
    HttpClient http({});
    auto ok = http.send({"GET", *url, {}, {}, {}});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "presigned bytes");
    std::string tampered = *url;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    auto bad = http.send({"GET", tampered, {}, {}, {}});
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 403);
}

TEST_P(S3OnRgw, AWrongSecretIsNotReady) {
    auto o = s3_test::options(prefix());
    o.s3.credentials.secret_key = "not-the-secret";
    s3::S3BlobStore store(o);
    auto r = store.ready();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::io_error);
    EXPECT_NE(r.error().detail.find("403"), std::string::npos) << r.error().detail;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(S3OnRgw);
INSTANTIATE_TEST_SUITE_P(Rgw, S3OnRgw,
                         ::testing::ValuesIn(s3_test::configured() ? std::vector<int>{0} : std::vector<int>{}));

}  // namespace
