#include "core/log.hpp"

#include <gtest/gtest.h>

using dermaga::log::append_json_string;

TEST(JsonString, EscapesControlCharactersAndQuotes) {
    std::string out;
    append_json_string(out, "a\"b\\c\n\x01");
    EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

TEST(JsonString, KeepsValidUtf8AndEscapesStrayBytes) {
    std::string out;
    append_json_string(out, "caf\xc3\xa9 \xff\xfe \xe2\x82");
    EXPECT_EQ(out, "\"caf\xc3\xa9 \\u00ff\\u00fe \\u00e2\\u0082\"");
}
