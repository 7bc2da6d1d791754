#pragma once
// The access gate of the HTTP API: reads credentials from a request (Basic, Bearer, a client
// certificate), asks auth/ what the caller may do, and builds the answers clients expect
// when they may not (401 with a Bearer challenge, 403 DENIED, 429 while locked out).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <optional>
#include <string>

#include "auth/services.hpp"
#include "http/message.hpp"

namespace dermaga::api {

/// The caller of one request.
struct Caller {
    auth::Principal principal;
    std::optional<auth::Grant> grant;  ///< set when a bearer token was presented
    bool presented = false;            ///< any credentials were sent
    bool basic = false;                ///< they came as HTTP Basic (or a certificate)
};

/// What an identify() call produced: a caller, or the response that refuses the request.
struct Identified {
    std::optional<Caller> caller;
    std::optional<http::Response> refusal;
};

class Gate {
public:
    Gate(auth::Services& services, boost::asio::thread_pool& blocking, bool tls)
        : services_(services), blocking_(blocking), tls_(tls) {}

    auth::Services& services() { return services_; }

    /// Authenticates the request's credentials. Wrong ones are refused with 401 (delayed after
    /// repeated failures) or 429 when locked out.
    boost::asio::awaitable<Identified> identify(http::Request& req);

    /// For requests that name no repository (/v2/, the catalog, /api/v1): the caller as it
    /// stands now (auth::Authorizer::current), with its admin flag read from the store; nullopt
    /// when its account or the credential it came from is gone, which a bearer token does not
    /// show by itself. One indexed read on the blocking pool.
    boost::asio::awaitable<Result<std::optional<Caller>>> current(Caller caller);

    /// Whether `caller` may take every action in `needed` on `repo`: the current roles decide,
    /// and a bearer token must also grant them.
    boost::asio::awaitable<Result<bool>> allows(const Caller& caller, std::string repo, unsigned needed);
    /// allows(), on the calling thread (blocking).
    Result<bool> may(const Caller& caller, const std::string& repo, unsigned needed);

    /// The refusal for a caller lacking `needed` on `repo` (or on the catalog when repo is empty).
    /// `also` (e.g. "repository:<from>:pull" for a cross-repository mount) is named in the
    /// challenge as well, so that a client following it asks for everything the request can use.
    http::Response refuse(http::Request& req, const Caller& caller, const std::string& repo,
                          unsigned needed, const std::string& also = {});

    /// A 401 with the Bearer challenge; `scope` may be empty.
    http::Response challenge(http::Request& req, const std::string& scope, bool insufficient = false);

    /// Records an audit entry for `caller`.
    void audit(const http::Request& req, const Caller& caller, std::string action, std::string object,
               std::string outcome, std::string detail = {});

private:
    std::string realm(http::Request& req) const;
    auth::Services& services_;
    boost::asio::thread_pool& blocking_;
    bool tls_;
};

/// 401 asking for HTTP Basic credentials, for endpoints people and scripts call directly
/// (/api/v1, /metrics) rather than container clients.
http::Response basic_challenge();

/// "repository:<name>:pull,push" for a scope in challenges.
std::string repository_scope(const std::string& repo, unsigned actions);

/// Splits an "Authorization: Basic ..." value into user and password; nullopt when malformed.
std::optional<std::pair<std::string, std::string>> parse_basic(std::string_view header);

}  // namespace dermaga::api
