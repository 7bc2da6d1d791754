#pragma once
// Builds the configured BlobStore (storage.driver): filesystem, or S3 with its credentials
// resolved from the config, a credentials file or the environment.

#include <map>
#include <memory>
#include <string>

#include "app/config.hpp"
#include "storage/blob_store.hpp"
#include "storage/s3/s3_blob_store.hpp"

namespace dermaga::app {

/// The S3 store's options from the storage.s3.* keys. `env` supplies AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when neither the keys nor a credentials file
/// give credentials. AWS_CA_BUNDLE is deliberately not read: the CA file is storage.s3.ca_file.
/// Errors: config errc::invalid (unreadable credentials file, no credentials at all).
Result<storage::s3::S3StoreOptions> s3_options(const Config& c, const std::map<std::string, std::string>& env);

/// The blob store for `c` (start-up only: throws std::runtime_error with a one-line reason).
/// With storage.s3.create_bucket, creates the bucket if missing.
std::unique_ptr<storage::BlobStore> make_blob_store(const Config& c);

}  // namespace dermaga::app
