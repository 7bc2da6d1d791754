#pragma once
// One LDAP connection with timed operations. Internal to auth/ldap; keeps <ldap.h> out of
// the public header.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "auth/ldap/directory.hpp"

using LDAP = struct ldap;

namespace dermaga::auth::ldap::detail {

/// One search result entry; attribute names are lower-cased.
struct Entry {
    std::string dn;
    std::map<std::string, std::vector<std::string>> attrs;
};

/// The LDAP result code of an operation (RFC 4511 resultCode) plus the server's message.
struct Outcome {
    int code = 0;
    std::string diagnostic;
};

struct SearchOutcome {
    Outcome outcome;
    std::vector<Entry> entries;
};

/// An open connection. Not thread-safe; owned by one authenticate() call.
class Session {
public:
    /// Creates the handle, applies timeouts and TLS settings, runs StartTLS if configured.
    /// The TCP connection itself is made lazily by the first operation.
    static Result<Session> open(const Config& c);

    Session(Session&& other) noexcept;
    Session& operator=(Session&&) = delete;
    Session(const Session&) = delete;
    ~Session();

    /// Simple bind. Error (errc::unavailable) only for transport failures and timeouts;
    /// the server's verdict (success, invalidCredentials, ...) is in the Outcome.
    Result<Outcome> bind(std::string_view dn, std::string_view password);

    /// Subtree search returning at most `size_limit` entries (0: server default).
    Result<SearchOutcome> search(const std::string& base, const std::string& filter,
                                 const std::vector<std::string>& attrs, int size_limit);

private:
    Session(LDAP* ld, const Config& c);
    Error transport_error(std::string_view what, int rc) const;

    LDAP* ld_;
    std::string url_;
    std::chrono::seconds timeout_;
    bool tls_;
};

}  // namespace dermaga::auth::ldap::detail
