#pragma once
// The S3 endpoint the storage tests run against, from the environment that
// tests/servers/with-rgw.sh sets: DERMAGA_TEST_S3_ENDPOINT, _REGION, _ACCESS_KEY,
// _SECRET_KEY, _BUCKET. Each store gets its own key prefix in one shared bucket.

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "storage/s3/s3_blob_store.hpp"

namespace dermaga::storage::s3_test {

inline std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

inline bool configured() { return !env("DERMAGA_TEST_S3_ENDPOINT").empty(); }

inline s3::S3StoreOptions options(const std::string& prefix) {
    s3::S3StoreOptions o;
    o.s3.endpoint = env("DERMAGA_TEST_S3_ENDPOINT");
    o.s3.region = env("DERMAGA_TEST_S3_REGION");
    o.s3.bucket = env("DERMAGA_TEST_S3_BUCKET");
    o.s3.credentials = {env("DERMAGA_TEST_S3_ACCESS_KEY"), env("DERMAGA_TEST_S3_SECRET_KEY"), ""};
    o.prefix = prefix + "/";
    o.part_size = 5u << 20;  // the smallest S3 allows: more parts per test byte
    return o;
}

/// A store over the test bucket (created on first use) under `prefix`.
inline std::unique_ptr<s3::S3BlobStore> make_store(const std::string& prefix, s3::S3StoreOptions o) {
    auto store = std::make_unique<s3::S3BlobStore>(std::move(o));
    static const bool bucket = [&] {
        auto r = store->create_bucket();
        if (!r) {
            throw std::runtime_error("cannot create the test bucket: " + r.error().detail);
        }
        return true;
    }();
    (void)bucket;
    (void)prefix;
    return store;
}
inline std::unique_ptr<s3::S3BlobStore> make_store(const std::string& prefix) {
    return make_store(prefix, options(prefix));
}

}  // namespace dermaga::storage::s3_test
