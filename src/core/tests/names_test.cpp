#include "core/names.hpp"

#include <gtest/gtest.h>

using namespace dermaga;

TEST(RepoName, AcceptsSpecGrammar) {
    for (const char* good : {"a", "library/busybox", "a.b_c__d-e---f/g0", "x/y/z/w", "0abc"}) {
        EXPECT_TRUE(RepoName::parse(good)) << good;
    }
}

TEST(RepoName, RejectsTraversalCaseAndSeparators) {
    for (const char* bad : {"", "A", "a//b", "/a", "a/", "..", "a/../b", "a/./b", "a..b", "a___b",
                            "-a", "a-", "a%2fb", "a b", "a\\b", "_a", "a/.", "a:b"}) {
        EXPECT_FALSE(RepoName::parse(bad)) << bad;
    }
    EXPECT_FALSE(RepoName::parse(std::string(256, 'a')));
    EXPECT_TRUE(RepoName::parse(std::string(255, 'a')));
}

TEST(Tag, FollowsGrammar) {
    EXPECT_TRUE(Tag::parse("latest"));
    EXPECT_TRUE(Tag::parse("_v1.2-rc"));
    EXPECT_TRUE(Tag::parse(std::string(128, 'a')));
    EXPECT_FALSE(Tag::parse(std::string(129, 'a')));
    EXPECT_FALSE(Tag::parse(".hidden"));
    EXPECT_FALSE(Tag::parse("-x"));
    EXPECT_FALSE(Tag::parse("a/b"));
    EXPECT_FALSE(Tag::parse(""));
}

TEST(Reference, DistinguishesTagFromDigest) {
    auto t = Reference::parse("v1");
    ASSERT_TRUE(t);
    EXPECT_FALSE(t->is_digest());
    auto d = Reference::parse("sha256:" + std::string(64, 'b'));
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->is_digest());
    EXPECT_FALSE(Reference::parse("sha256:zz"));
}
