#include "core/digest.hpp"

#include <gtest/gtest.h>

using namespace dermaga;

TEST(Digest, ParsesSha256AndSha512) {
    auto a = Digest::parse("sha256:" + std::string(64, 'a'));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->algorithm(), DigestAlgorithm::sha256);
    EXPECT_EQ(a->hex(), std::string(64, 'a'));
    auto b = Digest::parse("sha512:" + std::string(128, '0'));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->algorithm(), DigestAlgorithm::sha512);
}

TEST(Digest, RejectsMalformed) {
    for (std::string bad : {std::string(""), std::string("sha256"), std::string("sha256:"),
                            "sha256:" + std::string(63, 'a'), "sha256:" + std::string(64, 'A'),
                            "sha256:" + std::string(64, 'g'), ":" + std::string(64, 'a'),
                            "sha512:" + std::string(64, 'a'), std::string("sha256:../../etc/passwd")}) {
        auto d = Digest::parse(bad);
        EXPECT_FALSE(d) << bad;
    }
    auto u = Digest::parse("md5:" + std::string(32, 'a'));
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, core::errc::digest_unsupported);
}

TEST(Hasher, MatchesKnownVectors) {
    EXPECT_EQ(digest_of("").str(),
              "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(digest_of("abc").str(),
              "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(digest_of("abc", DigestAlgorithm::sha512).str(),
              "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Hasher, IncrementalEqualsOneShotAndCloneForks) {
    Hasher h;
    h.update("ab");
    Hasher fork = h.clone();
    h.update("c");
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(h.finish(), digest_of("abc"));
    EXPECT_EQ(fork.finish(), digest_of("ab"));
}

TEST(Hasher, SavedStateContinuesTheSameHashElsewhere) {
    const std::string data(200 * 1000 + 17, 'q');
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{100001}}) {
        dermaga::Hasher a;
        a.update(std::string_view(data).substr(0, cut));
        auto saved = a.save();
        ASSERT_TRUE(saved);
        auto b = dermaga::Hasher::restore(*saved);
        ASSERT_TRUE(b) << cut;
        EXPECT_EQ(b->size(), cut);
        b->update(std::string_view(data).substr(cut));
        EXPECT_EQ(b->finish(), dermaga::digest_of(data)) << "cut at " << cut;
    }
}

TEST(Hasher, RestoreRefusesWhatSaveDidNotWrite) {
    dermaga::Hasher a;
    a.update("abc");
    auto saved = *a.save();
    EXPECT_FALSE(dermaga::Hasher::restore(""));
    EXPECT_FALSE(dermaga::Hasher::restore("s256:zz"));
    EXPECT_FALSE(dermaga::Hasher::restore(saved.substr(0, saved.size() - 2)));
    std::string wrong_count = saved;
    wrong_count[5] = '9';  // byte count no longer matches the context's bit count
    EXPECT_FALSE(dermaga::Hasher::restore(wrong_count));
    EXPECT_FALSE(dermaga::Hasher(dermaga::DigestAlgorithm::sha512).save()) << "sha256 only";
}
