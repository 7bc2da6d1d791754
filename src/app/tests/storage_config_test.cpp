// storage.driver s3: validation of the storage.s3.* keys, and where credentials come from.
#include "app/storage.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace dermaga::app;

namespace {

Config s3_config() {
    Config c;
    EXPECT_TRUE(apply_yaml(c, "storage:\n  driver: s3\n  s3:\n    endpoint: http://127.0.0.1:7480\n    bucket: reg\n"
                              "    part_size: 16MiB\n    redirect: true\n    redirect_expiry: 2m\n"));
    return c;
}

std::string reason(const Config& c) {
    auto r = validate(c);
    return r ? std::string() : r.error().detail;
}

TEST(S3Config, ParsesAndValidates) {
    auto c = s3_config();
    EXPECT_EQ(reason(c), "");
    EXPECT_EQ(c.s3_part_size, 16u << 20);
    EXPECT_EQ(c.s3_redirect_expiry, 120);
    EXPECT_TRUE(c.s3_path_style);
}

TEST(S3Config, RefusesWhatCannotWork) {
    auto c = s3_config();
    c.s3_endpoint = "127.0.0.1:7480";
    EXPECT_NE(reason(c).find("storage.s3.endpoint"), std::string::npos);
    c = s3_config();
    c.s3_bucket.clear();
    EXPECT_NE(reason(c).find("storage.s3.bucket"), std::string::npos);
    c = s3_config();
    c.s3_part_size = 4u << 20;
    EXPECT_NE(reason(c).find("storage.s3.part_size"), std::string::npos) << "S3 needs parts of 5 MiB";
    c = s3_config();
    c.s3_access_key = "only-half";
    EXPECT_NE(reason(c).find("secret_key"), std::string::npos);
    c = s3_config();
    c.storage_driver = "gcs";
    EXPECT_NE(reason(c).find("supported: filesystem, s3"), std::string::npos);
}

TEST(S3Config, TheSecretIsNeverPrinted) {
    auto c = s3_config();
    c.s3_access_key = "AK";
    c.s3_secret_key = "hunter2";
    for (const auto& row : describe(c)) {
        if (row[0] == "storage.s3.secret_key") {
            EXPECT_EQ(row[2], "(set)");
        }
        for (const auto& cell : row) {
            EXPECT_EQ(cell.find("hunter2"), std::string::npos) << row[0];
        }
    }
}

TEST(S3Config, CredentialsFromKeysThenFileThenEnvironment) {
    const std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "ENV-AK"}, {"AWS_SECRET_ACCESS_KEY", "ENV-SK"},
                                                 {"AWS_SESSION_TOKEN", "ENV-TOKEN"}};
    auto c = s3_config();
    auto o = s3_options(c, env);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->s3.credentials.access_key, "ENV-AK");
    EXPECT_EQ(o->s3.credentials.session_token, "ENV-TOKEN");
    EXPECT_EQ(o->redirect_seconds, 120);

    const auto file = std::filesystem::temp_directory_path() / ("dermaga-creds-" + std::to_string(::getpid()));
    std::ofstream(file) << "[default]\naws_access_key_id = FILE-AK\naws_secret_access_key=FILE-SK\n";
    c.s3_credentials_file = file.string();
    o = s3_options(c, env);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->s3.credentials.access_key, "FILE-AK");
    EXPECT_EQ(o->s3.credentials.secret_key, "FILE-SK");

    c.s3_access_key = "CFG-AK";
    c.s3_secret_key = "CFG-SK";
    o = s3_options(c, env);
    ASSERT_TRUE(o);
    EXPECT_EQ(o->s3.credentials.access_key, "CFG-AK");
    std::filesystem::remove(file);
}

TEST(S3Config, NoCredentialsAnywhereIsAClearError) {
    auto c = s3_config();
    auto o = s3_options(c, {});
    ASSERT_FALSE(o);
    EXPECT_NE(o.error().detail.find("no S3 credentials"), std::string::npos);
    c.s3_credentials_file = "/nonexistent/creds";
    o = s3_options(c, {});
    ASSERT_FALSE(o);
    EXPECT_NE(o.error().detail.find("cannot read /nonexistent/creds"), std::string::npos);
}

}  // namespace
