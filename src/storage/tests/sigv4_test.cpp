// The signer against the examples published in the Amazon S3 API reference ("Signature
// Calculations for the Authorization Header" and "Authenticating Requests: Using Query
// Parameters"): example credentials, 24 May 2013, us-east-1, bucket examplebucket.
#include <gtest/gtest.h>

#include "storage/s3/sigv4.hpp"

using namespace dermaga::storage::s3;

namespace {

const Signer example_signer{{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""}, "us-east-1"};
constexpr const char* when = "20130524T000000Z";
constexpr const char* host = "examplebucket.s3.amazonaws.com";

std::string signature_of(const std::string& authorization) {
    return authorization.substr(authorization.find("Signature=") + 10);
}

TEST(SigV4, GetObjectWithRange) {
    SignedRequest req{"GET", "/test.txt", {}, {{"Host", host}, {"Range", "bytes=0-9"},
                      {"x-amz-content-sha256", std::string(empty_payload_hash)}, {"x-amz-date", when}},
                      std::string(empty_payload_hash)};
    EXPECT_EQ(example_signer.authorization(req, when),
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, PutObjectWithEncodedKeyAndStorageClass) {
    const std::string body = "Welcome to Amazon S3.";
    const std::string hash = sha256_hex(body);
    EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    SignedRequest req{"PUT", "/" + uri_encode("test$file.text", true), {},
                      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"Host", host}, {"x-amz-date", when},
                       {"x-amz-storage-class", "REDUCED_REDUNDANCY"}, {"x-amz-content-sha256", hash}},
                      hash};
    EXPECT_EQ(req.path, "/test%24file.text");
    EXPECT_EQ(signature_of(example_signer.authorization(req, when)),
              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, SubresourceWithoutValue) {
    SignedRequest req{"GET", "/", {{"lifecycle", ""}},
                      {{"Host", host}, {"x-amz-date", when}, {"x-amz-content-sha256", std::string(empty_payload_hash)}},
                      std::string(empty_payload_hash)};
    EXPECT_EQ(signature_of(example_signer.authorization(req, when)),
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, QueryParametersAreSorted) {
    SignedRequest req{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}},
                      {{"Host", host}, {"x-amz-date", when}, {"x-amz-content-sha256", std::string(empty_payload_hash)}},
                      std::string(empty_payload_hash)};
    EXPECT_EQ(canonical_query(req.query), "max-keys=2&prefix=J");
    EXPECT_EQ(signature_of(example_signer.authorization(req, when)),
              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, PresignedGet) {
    SignedRequest req{"GET", "/test.txt", {}, {{"Host", host}}, ""};
    const std::string q = example_signer.presign_query(req, when, 86400);
    EXPECT_EQ(q,
              "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
              "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4, CanonicalHeadersAreTrimmedLowercasedAndMerged) {
    SignedRequest req{"GET", "/", {}, {{"Host", "h"}, {"My-Header1", "  a   b  "}, {"my-header1", "c"}}, "x"};
    EXPECT_EQ(canonical_request(req), "GET\n/\n\nhost:h\nmy-header1:a b,c\n\nhost;my-header1\nx");
}

TEST(SigV4, UriEncodingKeepsUnreservedOnly) {
    EXPECT_EQ(uri_encode("a/b c~-_.*+=", true), "a/b%20c~-_.%2A%2B%3D");
    EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
}

TEST(SigV4, AmzDate) { EXPECT_EQ(amz_date(1369353600), "20130524T000000Z"); }

}  // namespace
