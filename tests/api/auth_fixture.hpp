#pragma once
// Fixture for the access-control suites: the server with access control on, a direct handle
// on its AuthStore (same database file) to set up identities, and helpers that send
// credentials.

#include <memory>
#include <string>

#include "api_fixture.hpp"
#include "meta/sql_meta_store.hpp"

namespace dermaga::test {

/// "Authorization: Basic ..." for user:password.
Headers basic(std::string_view user, std::string_view password);
/// "Authorization: Bearer <token>".
Headers bearer(std::string_view token);
/// The JSON payload of a JWT (no verification).
json jwt_payload(const std::string& token);

class AuthApiTest : public ApiTest {
protected:
    void SetUp() override;
    void TearDown() override;
    void configure(app::Config& c) override { c.auth_enabled = true; }

    /// Creates a user with password "<name>-password-1" (admin when asked).
    void add_user(const std::string& name, bool admin = false);
    static std::string password_of(const std::string& name) { return name + "-password-1"; }
    Headers as(const std::string& name) { return basic(name, password_of(name)); }
    void add_org(const std::string& name, const std::string& visibility = "private");

    /// A token from GET /token for `scope` (empty headers: anonymous). Expects 200.
    std::string token(const Headers& creds, const std::string& scope);

    /// Pushes config, layer and manifest with `creds`; returns the manifest digest.
    Image push_image_as(const Headers& creds, std::string_view repo, std::string_view tag, std::string_view seed);
    std::string push_blob_as(const Headers& creds, std::string_view repo, std::string_view bytes);

    /// Audit entries (newest first) once the server has written them, waiting up to 3 s for
    /// at least `min` matching `action` and `outcome`.
    std::vector<meta::AuditRow> audit(const std::string& action, const std::string& outcome, std::size_t min = 1);

    std::unique_ptr<meta::SqlMetaStore> meta_;
    std::unique_ptr<meta::AuthStore> store_;
};

/// AuthApiTest with users alice, bob and root (a global administrator) already there.
class PeopleApiTest : public AuthApiTest {
protected:
    void SetUp() override {
        AuthApiTest::SetUp();
        add_user("alice");
        add_user("bob");
        add_user("root", true);
    }
};

}  // namespace dermaga::test
