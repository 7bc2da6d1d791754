#include "auth/ldap/directory.hpp"

#include <ldap.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <utility>

#include "auth/ldap/filter.hpp"
#include "auth/ldap/session.hpp"

namespace dermaga::auth::ldap {

namespace {

using detail::Entry;
using detail::Outcome;
using detail::Session;

// Longer login names are refused outright: no directory uses them, and it bounds the filter.
constexpr std::size_t max_username_bytes = 256;

// liblber writes with write(2), so a server that resets the connection could raise SIGPIPE
// and kill a process that does not ignore it. While alive, this blocks SIGPIPE on the calling
// thread only and discards one raised meanwhile (the technique libpq uses).
class SigpipeGuard {
public:
    SigpipeGuard() {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    }
    ~SigpipeGuard() {
        sigset_t pending;
        sigpending(&pending);
        if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
            timespec zero{0, 0};
            while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t pipe_{};
    sigset_t old_{};
    bool was_pending_ = false;
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_filter(std::string_view f) { return f.size() >= 3 && f.front() == '(' && f.back() == ')'; }

// What a failed search result means: a wrong base, filter or access rights is the
// configuration's fault; anything else is the server's.
Error search_error(std::string_view what, const Outcome& o) {
    std::string detail = std::string(what) + ": " + ldap_err2string(o.code);
    if (!o.diagnostic.empty()) {
        detail += " (" + o.diagnostic + ")";
    }
    switch (o.code) {
        case LDAP_NO_SUCH_OBJECT:
        case LDAP_INVALID_DN_SYNTAX:
        case LDAP_FILTER_ERROR:
        case LDAP_INSUFFICIENT_ACCESS:
        case LDAP_INAPPROPRIATE_AUTH:
        case LDAP_UNDEFINED_TYPE:
        case LDAP_INAPPROPRIATE_MATCHING:
        case LDAP_PROTOCOL_ERROR:
            return Error{make_error_code(errc::misconfigured), std::move(detail)};
        default:
            return Error{make_error_code(errc::unavailable), std::move(detail)};
    }
}

const std::vector<std::string>* values(const Entry& e, const std::string& attr_lower) {
    auto it = e.attrs.find(attr_lower);
    return it == e.attrs.end() ? nullptr : &it->second;
}

std::string lower(std::string s) {
    for (auto& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

// The one entry the user search finds; nullopt if none, ambiguous_user if more.
Result<std::optional<Entry>> find_user(Session& service, const Config& c,
                                       const std::string& user_attr, std::string_view username) {
    auto filter = expand_filter(c.user_filter, username, {});
    // Asking for two entries is enough to tell "exactly one" from "ambiguous".
    DERMAGA_TRY(found, service.search(c.user_base, filter, {user_attr, "mail"}, 2));
    if (found.outcome.code != LDAP_SUCCESS && found.outcome.code != LDAP_SIZELIMIT_EXCEEDED) {
        return fail(search_error("user search in " + c.user_base, found.outcome));
    }
    if (found.entries.size() > 1 || found.outcome.code == LDAP_SIZELIMIT_EXCEEDED) {
        return fail(errc::ambiguous_user, "user search in " + c.user_base + " with " +
                                              c.user_filter + " matched more than one entry");
    }
    if (found.entries.empty()) {
        return std::nullopt;
    }
    return std::optional<Entry>(std::move(found.entries.front()));
}

Identity identity_of(const Entry& entry, const std::string& user_attr, std::string_view username) {
    Identity id;
    id.dn = entry.dn;
    id.username = std::string(username);
    if (const auto* names = values(entry, lower(user_attr))) {
        auto match = std::find_if(names->begin(), names->end(),
                                  [&](const std::string& n) { return iequals(n, username); });
        if (match != names->end()) {
            id.username = *match;
        } else if (!names->empty()) {
            id.username = names->front();
        }
    }
    if (const auto* mail = values(entry, "mail"); mail != nullptr && !mail->empty()) {
        id.email = mail->front();
    }
    return id;
}

Result<void> add_groups(Session& service, const Config& c, Identity& id) {
    // {user} is the directory's spelling: memberUid matching is case-sensitive.
    auto filter = expand_filter(c.group_filter, id.username, id.dn);
    DERMAGA_TRY(groups, service.search(c.group_base, filter, {c.group_name_attr}, 0));
    if (groups.outcome.code != LDAP_SUCCESS) {
        return fail(search_error("group search in " + c.group_base, groups.outcome));
    }
    auto name_attr = lower(c.group_name_attr);
    for (const auto& g : groups.entries) {
        id.group_dns.push_back(g.dn);
        if (const auto* names = values(g, name_attr); names != nullptr && !names->empty()) {
            id.groups.push_back(names->front());
        }
    }
    std::sort(id.groups.begin(), id.groups.end());
    std::sort(id.group_dns.begin(), id.group_dns.end());
    return {};
}

}  // namespace

Result<void> check_config(const Config& c) {
    auto bad = [](std::string why) { return fail(errc::misconfigured, std::move(why)); };
    if (!starts_with(c.url, "ldap://") && !starts_with(c.url, "ldaps://") &&
        !starts_with(c.url, "ldapi://")) {
        return bad("url must start with ldap://, ldaps:// or ldapi://");
    }
    if (c.start_tls && starts_with(c.url, "ldaps://")) {
        return bad("start_tls cannot be combined with an ldaps:// url");
    }
    if (c.bind_dn.empty() && !c.bind_password.empty()) {
        return bad("bind_password is set but bind_dn is empty");
    }
    if (!c.bind_dn.empty() && c.bind_password.empty()) {
        // An empty password would be an unauthenticated bind that "succeeds" anonymously.
        return bad("bind_dn is set but bind_password is empty");
    }
    if (c.user_base.empty()) {
        return bad("user_base is empty");
    }
    if (!is_filter(c.user_filter) || c.user_filter.find("{dn}") != std::string::npos) {
        return bad("user_filter must be a parenthesised filter without {dn}");
    }
    if (!c.group_base.empty() && (!is_filter(c.group_filter) || c.group_name_attr.empty())) {
        return bad("group_filter must be a parenthesised filter and group_name_attr non-empty");
    }
    if (c.timeout.count() <= 0) {
        return bad("timeout must be positive");
    }
    return {};
}

Directory::Directory(Config c)
    : config_(std::move(c)), user_attr_(user_attribute(config_.user_filter)) {}

Result<std::optional<Identity>> Directory::authenticate(std::string_view username,
                                                        std::string_view password) const {
    DERMAGA_CHECK(check_config(config_));
    // An empty password makes a simple bind "unauthenticated" (RFC 4513 5.1.2): many servers
    // answer success without checking anything, so it must never reach the server.
    if (password.empty() || username.empty() || username.size() > max_username_bytes) {
        return std::nullopt;
    }
    SigpipeGuard no_sigpipe;  // declared before the sessions: it outlives their unbind

    DERMAGA_TRY(service, Session::open(config_));
    if (!config_.bind_dn.empty()) {
        DERMAGA_TRY(outcome, service.bind(config_.bind_dn, config_.bind_password));
        if (outcome.code == LDAP_INVALID_CREDENTIALS) {
            return fail(errc::misconfigured,
                        "service account " + config_.bind_dn + " rejected: invalid credentials");
        }
        if (outcome.code != LDAP_SUCCESS) {
            return fail(search_error("service account bind as " + config_.bind_dn, outcome));
        }
    }
    std::string user_attr = user_attr_.empty() ? std::string("1.1") : user_attr_;
    DERMAGA_TRY(entry, find_user(service, config_, user_attr, username));
    if (!entry) {
        return std::nullopt;
    }

    // The password is checked on its own connection so the service session keeps its rights.
    DERMAGA_TRY(user_session, Session::open(config_));
    DERMAGA_TRY(verdict, user_session.bind(entry->dn, password));
    if (verdict.code == LDAP_INVALID_CREDENTIALS || verdict.code == LDAP_INAPPROPRIATE_AUTH) {
        return std::nullopt;
    }
    if (verdict.code != LDAP_SUCCESS) {
        return fail(search_error("user bind as " + entry->dn, verdict));
    }

    Identity id = identity_of(*entry, user_attr, username);
    if (!config_.group_base.empty()) {
        DERMAGA_CHECK(add_groups(service, config_, id));
    }
    return std::optional<Identity>(std::move(id));
}

}  // namespace dermaga::auth::ldap
