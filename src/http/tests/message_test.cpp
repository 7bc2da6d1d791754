#include "http/message.hpp"

#include <gtest/gtest.h>

using namespace dermaga;
using namespace dermaga::http;

namespace {
struct NoBody final : BodySource {
    asio::awaitable<Result<std::size_t>> read_some(std::span<char>) override { co_return std::size_t{0}; }
    std::optional<std::uint64_t> content_length() const override { return 0; }
};
}  // namespace

TEST(Request, QueryParametersAreDecodedAndRepeatable) {
    NoBody b;
    Request r(Method::put, "/v2/a/manifests/x?tag=a&tag=b%2Dc&n=1+2&empty", {{"Content-Type", "x/y"}}, b, "rid", "::1");
    EXPECT_EQ(r.path(), "/v2/a/manifests/x");
    EXPECT_EQ(r.query("n").value(), "1 2");
    EXPECT_EQ(r.query_all("tag"), (std::vector<std::string>{"a", "b-c"}));
    EXPECT_EQ(r.query("empty").value(), "");
    EXPECT_FALSE(r.query("missing"));
    EXPECT_EQ(r.header("content-type"), "x/y");
    EXPECT_FALSE(r.has_header("Range"));
}

TEST(PercentDecode, KeepsInvalidEscapes) {
    EXPECT_EQ(percent_decode("%41%zz%4"), "A%zz%4");
}
