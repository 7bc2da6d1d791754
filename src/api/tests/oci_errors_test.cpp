#include "api/oci_errors.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "registry/errors.hpp"

using namespace dermaga;

TEST(OciErrors, EveryRegistryErrorHasAStatusAndCode) {
    for (int e = 1; e <= static_cast<int>(registry::errc::unavailable); ++e) {
        auto c = api::classify(Error{make_error_code(static_cast<registry::errc>(e)), {}});
        EXPECT_NE(c.status, 500u) << e;
        EXPECT_NE(c.code, "UNKNOWN") << e;
    }
}

TEST(OciErrors, EnvelopeCarriesCodeMessageAndDetail) {
    auto r = api::error_response(Error{make_error_code(registry::errc::blob_unknown), "sha256:\"x"});
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(std::get<std::string>(r.body),
              R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:\"x"}]})");
}

TEST(OciErrors, CoreParseErrorsMapToSpecCodes) {
    EXPECT_EQ(api::classify(Error{make_error_code(core::errc::name_invalid), {}}).code, "NAME_INVALID");
    EXPECT_EQ(api::classify(Error{make_error_code(core::errc::digest_invalid), {}}).code, "DIGEST_INVALID");
}
