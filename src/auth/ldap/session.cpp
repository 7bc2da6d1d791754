#include "auth/ldap/session.hpp"

#include <ldap.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <utility>

namespace dermaga::auth::ldap::detail {

namespace {

using Clock = std::chrono::steady_clock;

timeval to_timeval(std::chrono::microseconds d) {
    if (d.count() < 0) {
        d = std::chrono::microseconds{0};
    }
    return timeval{static_cast<time_t>(d.count() / 1000000),
                   static_cast<suseconds_t>(d.count() % 1000000)};
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

bool is_tls(const Config& c) { return c.start_tls || c.url.rfind("ldaps://", 0) == 0; }

// Reads the entry's DN and the values of every returned attribute.
Entry read_entry(LDAP* ld, LDAPMessage* msg) {
    Entry e;
    if (char* dn = ldap_get_dn(ld, msg)) {
        e.dn = dn;
        ldap_memfree(dn);
    }
    BerElement* ber = nullptr;
    for (char* a = ldap_first_attribute(ld, msg, &ber); a != nullptr;
         a = ldap_next_attribute(ld, msg, ber)) {
        auto& values = e.attrs[lower(a)];
        if (berval** vals = ldap_get_values_len(ld, msg, a)) {
            for (berval** v = vals; *v != nullptr; ++v) {
                values.emplace_back((*v)->bv_val, (*v)->bv_len);
            }
            ldap_value_free_len(vals);
        }
        ldap_memfree(a);
    }
    if (ber != nullptr) {
        ber_free(ber, 0);
    }
    return e;
}

Outcome parse_outcome(LDAP* ld, LDAPMessage* msg) {
    Outcome out;
    char* diag = nullptr;
    int rc = ldap_parse_result(ld, msg, &out.code, nullptr, &diag, nullptr, nullptr, 0);
    if (rc != LDAP_SUCCESS) {
        out.code = rc;
    }
    if (diag != nullptr) {
        out.diagnostic = diag;
        ldap_memfree(diag);
    }
    return out;
}

}  // namespace

Session::Session(LDAP* ld, const Config& c)
    : ld_(ld), url_(c.url), timeout_(c.timeout), tls_(is_tls(c)) {}

Session::Session(Session&& other) noexcept
    : ld_(std::exchange(other.ld_, nullptr)),
      url_(std::move(other.url_)),
      timeout_(other.timeout_),
      tls_(other.tls_) {}

Session::~Session() {
    if (ld_ != nullptr) {
        ldap_unbind_ext_s(ld_, nullptr, nullptr);
    }
}

Error Session::transport_error(std::string_view what, int rc) const {
    std::string detail = std::string(what) + " on " + url_ + ": " + ldap_err2string(rc);
    if (tls_ && (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)) {
        // libldap reports a failed handshake or certificate check no more precisely than this.
        detail += " (or the TLS handshake failed: check ca_file and the server certificate)";
    }
    return Error{make_error_code(errc::unavailable), std::move(detail)};
}

Result<Session> Session::open(const Config& c) {
    LDAP* ld = nullptr;
    if (int rc = ldap_initialize(&ld, c.url.c_str()); rc != LDAP_SUCCESS || ld == nullptr) {
        return fail(errc::misconfigured, "invalid LDAP URL " + c.url + ": " + ldap_err2string(rc));
    }
    Session s(ld, c);
    // Set everything explicitly so /etc/ldap/ldap.conf and ~/.ldaprc cannot change behaviour.
    int version = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    timeval tv = to_timeval(c.timeout);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);  // synchronous calls: StartTLS, unbind
    if (is_tls(c)) {
        int demand = LDAP_OPT_X_TLS_DEMAND;
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand);
        if (!c.ca_file.empty() &&
            ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, c.ca_file.c_str()) != LDAP_OPT_SUCCESS) {
            return fail(errc::misconfigured, "cannot use CA file " + c.ca_file);
        }
        int is_server = 0;
        if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server) != LDAP_OPT_SUCCESS) {
            return fail(errc::misconfigured, "cannot set up TLS (CA file " + c.ca_file + ")");
        }
    }
    if (c.start_tls) {
        if (int rc = ldap_start_tls_s(ld, nullptr, nullptr); rc != LDAP_SUCCESS) {
            return fail(s.transport_error("StartTLS", rc));
        }
    }
    return Result<Session>(std::move(s));
}

Result<Outcome> Session::bind(std::string_view dn, std::string_view password) {
    std::string dn_z(dn);
    berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
    int msgid = 0;
    int rc = ldap_sasl_bind(ld_, dn_z.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS) {
        return fail(transport_error("bind", rc));
    }
    timeval tv = to_timeval(timeout_);
    LDAPMessage* msg = nullptr;
    int type = ldap_result(ld_, msgid, LDAP_MSG_ALL, &tv, &msg);
    if (type == 0) {
        return fail(transport_error("bind", LDAP_TIMEOUT));
    }
    if (type < 0 || msg == nullptr) {
        int err = LDAP_SERVER_DOWN;
        ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &err);
        return fail(transport_error("bind", err));
    }
    Outcome out = parse_outcome(ld_, msg);
    ldap_msgfree(msg);
    return out;
}

Result<SearchOutcome> Session::search(const std::string& base, const std::string& filter,
                                      const std::vector<std::string>& attrs, int size_limit) {
    std::vector<char*> attr_ptrs;
    attr_ptrs.reserve(attrs.size() + 1);
    for (const auto& a : attrs) {
        attr_ptrs.push_back(const_cast<char*>(a.c_str()));
    }
    attr_ptrs.push_back(nullptr);
    timeval server_limit = to_timeval(timeout_);
    int msgid = 0;
    int rc =
        ldap_search_ext(ld_, base.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attr_ptrs.data(), 0,
                        nullptr, nullptr, &server_limit, size_limit, &msgid);
    if (rc == LDAP_FILTER_ERROR) {
        return fail(errc::misconfigured, "invalid search filter");
    }
    if (rc != LDAP_SUCCESS) {
        return fail(transport_error("search", rc));
    }
    SearchOutcome result;
    auto deadline = Clock::now() + timeout_;
    for (;;) {
        timeval tv = to_timeval(
            std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()));
        LDAPMessage* msg = nullptr;
        int type = ldap_result(ld_, msgid, LDAP_MSG_ONE, &tv, &msg);
        if (type == 0) {
            return fail(transport_error("search", LDAP_TIMEOUT));
        }
        if (type < 0 || msg == nullptr) {
            int err = LDAP_SERVER_DOWN;
            ldap_get_option(ld_, LDAP_OPT_RESULT_CODE, &err);
            return fail(transport_error("search", err));
        }
        if (type == LDAP_RES_SEARCH_ENTRY) {
            result.entries.push_back(read_entry(ld_, msg));
        } else if (type == LDAP_RES_SEARCH_RESULT) {
            result.outcome = parse_outcome(ld_, msg);
            ldap_msgfree(msg);
            return result;
        }
        // Search references (referrals to other servers) are not followed.
        ldap_msgfree(msg);
    }
}

}  // namespace dermaga::auth::ldap::detail
