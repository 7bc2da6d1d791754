#include "auth/ldap/filter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace dermaga::auth::ldap {
namespace {

TEST(LdapFilter, EscapesEveryRfc4515Metacharacter) {
    EXPECT_EQ(escape_filter_value("*"), "\\2a");
    EXPECT_EQ(escape_filter_value("alice)(uid=*"), "alice\\29\\28uid=\\2a");
    EXPECT_EQ(escape_filter_value("*)(|(uid=*"), "\\2a\\29\\28|\\28uid=\\2a");
    EXPECT_EQ(escape_filter_value("a\\b"), "a\\5cb");
    EXPECT_EQ(escape_filter_value(std::string("al\0ice", 6)), "al\\00ice");
}

TEST(LdapFilter, KeepsOrdinaryTextAndUtf8) {
    EXPECT_EQ(escape_filter_value("jörg.o'brien-1 x=y&|!~"), "jörg.o'brien-1 x=y&|!~");
    EXPECT_EQ(escape_filter_value(""), "");
}

TEST(LdapFilter, ExpandsPlaceholdersEscaped) {
    EXPECT_EQ(expand_filter("(uid={user})", "*", ""), "(uid=\\2a)");
    EXPECT_EQ(expand_filter("(|(member={dn})(memberUid={user}))", "bob", "cn=x (*)\\5C,dc=org"),
              "(|(member=cn=x \\28\\2a\\29\\5c5C,dc=org)(memberUid=bob))");
    EXPECT_EQ(expand_filter("(objectClass=person)", "alice", ""), "(objectClass=person)");
}

TEST(LdapFilter, ExpansionNeverLeavesTheValue) {
    // Whatever the name, the expanded filter has exactly the template's parentheses.
    for (std::string name : {"*", ")(uid=*", "*)(|(uid=*", "x\\29", "((((", "))))"}) {
        auto f = expand_filter("(uid={user})", name, "");
        EXPECT_EQ(std::count(f.begin(), f.end(), '('), 1) << f;
        EXPECT_EQ(std::count(f.begin(), f.end(), ')'), 1) << f;
        EXPECT_EQ(f.find('*'), std::string::npos) << f;
    }
}

TEST(LdapFilter, FindsTheUserAttribute) {
    EXPECT_EQ(user_attribute("(uid={user})"), "uid");
    EXPECT_EQ(user_attribute("(&(objectClass=person)(sAMAccountName={user}))"), "sAMAccountName");
    EXPECT_EQ(user_attribute("(cn~={user})"), "cn");
    EXPECT_EQ(user_attribute("(objectClass=inetOrgPerson)"), "");
}

}  // namespace
}  // namespace dermaga::auth::ldap
