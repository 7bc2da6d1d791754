#include "sql/postgres/connection.hpp"

#include <endian.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "sql/dialect.hpp"

namespace dermaga::sql::postgres {


namespace {

// Type oids (pg_type.h is a server header; these never change).
constexpr Oid bool_oid = 16, bytea_oid = 17, int8_oid = 20, int2_oid = 21, int4_oid = 23, text_oid = 25,
              oid_oid = 26, numeric_oid = 1700;

using Clock = std::chrono::steady_clock;

/// Waits for `events` on `fd` until `deadline`. Returns the events seen; 0 on timeout.
short wait_socket(int fd, short events, Clock::time_point deadline) {
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
            return 0;
        }
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
        if (n > 0) {
            return p.revents ? p.revents : events;
        }
        if (n < 0 && errno != EINTR) {
            return POLLERR;
        }
    }
}

std::string trimmed(const char* msg) {
    std::string s = msg ? msg : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    for (auto& ch : s) {
        ch = ch == '\n' ? ' ' : ch;
    }
    return s;
}

std::uint16_t be16_at(const char* p, int i) {
    std::uint16_t v;
    std::memcpy(&v, p + 2 * i, sizeof v);
    return be16toh(v);
}

/// The integer part of a binary NUMERIC (what SUM of a BIGINT column returns): a header of
/// ndigits, weight, sign and scale, then base-10000 digits, the first worth 10000^weight.
std::int64_t numeric_to_int64(const char* p) {
    const int ndigits = be16_at(p, 0);
    const int weight = static_cast<std::int16_t>(be16_at(p, 1));
    std::int64_t v = 0;
    for (int i = 0; i <= weight; ++i) {
        v = v * 10000 + (i < ndigits ? be16_at(p, 4 + i) : 0);
    }
    return be16_at(p, 2) == 0x4000 ? -v : v;
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

// Statement ---------------------------------------------------------------------------------

PgStatement::PgStatement(PgConnection& conn, std::string text, int params, std::uint64_t used)
    : conn_(conn), text_(std::move(text)), params_(params), used_(used) {
    values_.resize(static_cast<std::size_t>(params_));
    bound_.assign(static_cast<std::size_t>(params_), 0);
    null_.assign(static_cast<std::size_t>(params_), 1);
}

void PgStatement::set(int i, std::string bytes, Oid type) {
    rerun();
    // Like SQLite, binding an index the statement lacks is ignored.
    if (i < 1 || i > params_) {
        return;
    }
    auto k = static_cast<std::size_t>(i - 1);
    values_[k] = std::move(bytes);
    bound_[k] = type;
    null_[k] = 0;
}

Statement& PgStatement::bind(int i, std::string_view v) {
    set(i, std::string(v), text_oid);
    return *this;
}

Statement& PgStatement::bind(int i, std::int64_t v) {
    const std::uint64_t be = htobe64(static_cast<std::uint64_t>(v));
    set(i, std::string(reinterpret_cast<const char*>(&be), sizeof be), int8_oid);
    return *this;
}

Statement& PgStatement::bind_blob(int i, std::string_view v) {
    set(i, std::string(v), bytea_oid);
    return *this;
}

Statement& PgStatement::bind_null(int i) {
    rerun();
    if (i >= 1 && i <= params_) {
        null_[static_cast<std::size_t>(i - 1)] = 1;
        bound_[static_cast<std::size_t>(i - 1)] = 0;
    }
    return *this;
}

Result<void> PgStatement::ensure_prepared() {
    // Types come from the values bound now; an unused placeholder gets one so the server need
    // not infer it. A value of another type than prepared (NULLs aside) prepares anew.
    std::vector<Oid> types(static_cast<std::size_t>(params_));
    for (std::size_t k = 0; k < types.size(); ++k) {
        const bool used = k >= 64 || (used_ >> k) & 1;
        types[k] = bound_[k] ? bound_[k] : (used ? 0 : int8_oid);
    }
    if (!name_.empty()) {
        bool same = true;
        for (std::size_t k = 0; k < types.size(); ++k) {
            same = same && (types[k] == 0 || types_[k] == 0 || types[k] == types_[k]);
        }
        if (same) {
            return {};
        }
    }
    auto name = conn_.next_name();
    if (!PQsendPrepare(conn_.raw(), name.c_str(), text_.c_str(), params_, types.data())) {
        return fail(errc::unavailable, "prepare: " + trimmed(PQerrorMessage(conn_.raw())));
    }
    DERMAGA_TRY(r, conn_.await("prepare"));
    name_ = std::move(name);
    types_ = std::move(types);
    return {};
}

Result<bool> PgStatement::step() {
    if (!ran_) {
        ran_ = true;
        DERMAGA_CHECK(ensure_prepared());
        std::vector<const char*> values(values_.size());
        std::vector<int> lengths(values_.size());
        std::vector<int> formats(values_.size(), 1);
        for (std::size_t k = 0; k < values_.size(); ++k) {
            values[k] = null_[k] ? nullptr : values_[k].data();
            lengths[k] = static_cast<int>(values_[k].size());
        }
        if (!PQsendQueryPrepared(conn_.raw(), name_.c_str(), params_, values.data(), lengths.data(), formats.data(),
                                 1)) {
            return fail(errc::unavailable, "execute: " + trimmed(PQerrorMessage(conn_.raw())));
        }
        DERMAGA_TRY(r, conn_.await("execute"));
        result_ = std::move(r);
        row_ = -1;
    }
    if (!result_) {
        return false;
    }
    return ++row_ < PQntuples(result_.get());
}

std::int64_t PgStatement::int64(int col) const {
    const char* p = PQgetvalue(result_.get(), row_, col);
    switch (PQftype(result_.get(), col)) {
        case int8_oid: {
            std::uint64_t v;
            std::memcpy(&v, p, sizeof v);
            return static_cast<std::int64_t>(be64toh(v));
        }
        case int4_oid:
        case oid_oid: {
            std::uint32_t v;
            std::memcpy(&v, p, sizeof v);
            return PQftype(result_.get(), col) == oid_oid ? std::int64_t{be32toh(v)}
                                                          : std::int64_t{static_cast<std::int32_t>(be32toh(v))};
        }
        case int2_oid: {
            std::uint16_t v;
            std::memcpy(&v, p, sizeof v);
            return static_cast<std::int16_t>(be16toh(v));
        }
        case bool_oid: return *p ? 1 : 0;
        case numeric_oid: return numeric_to_int64(p);
        default: return std::strtoll(text(col).c_str(), nullptr, 10);
    }
}

std::string PgStatement::text(int col) const {
    if (is_null(col)) {
        return {};
    }
    return std::string(PQgetvalue(result_.get(), row_, col),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row_, col)));
}

Statement::Kind PgStatement::kind(int col) const {
    if (is_null(col)) {
        return Kind::null;
    }
    switch (PQftype(result_.get(), col)) {
        case int8_oid:
        case int4_oid:
        case int2_oid:
        case bool_oid:
        case numeric_oid:
        case oid_oid: return Kind::integer;
        case bytea_oid: return Kind::blob;
        default: return Kind::text;
    }
}

std::int64_t PgStatement::changes() const {
    const char* n = result_ ? PQcmdTuples(result_.get()) : "";
    return *n ? std::strtoll(n, nullptr, 10) : 0;
}

void PgStatement::rerun() {
    if (ran_) {
        result_.reset();
        row_ = -1;
        ran_ = false;
    }
}

void PgStatement::reset() {
    result_.reset();
    row_ = -1;
    ran_ = false;
    std::fill(null_.begin(), null_.end(), 1);
    std::fill(bound_.begin(), bound_.end(), 0);
}

// Connection --------------------------------------------------------------------------------

PgConnection::PgConnection(PGconn* c, const Options& o)
    : conn_(c), statement_timeout_(o.statement_timeout), round_trip_(o.statement_timeout + std::chrono::seconds(1)) {}

PgConnection::~PgConnection() {
    cache_.clear();
    PQfinish(conn_);
}

Result<std::unique_ptr<PgConnection>> PgConnection::open(const Options& o) {
    PGconn* raw = PQconnectStart(o.dsn.c_str());
    if (!raw) {
        return fail(errc::unavailable, "connect: out of memory");
    }
    std::unique_ptr<PgConnection> c(new PgConnection(raw, o));
    // Notices ("relation exists, skipping") would go to stderr; they carry nothing we need.
    PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
    const auto deadline = Clock::now() + o.connect_timeout;
    auto status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED || PQstatus(raw) == CONNECTION_BAD) {
            return fail(errc::unavailable, "connect: " + trimmed(PQerrorMessage(raw)));
        }
        const short want = status == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (wait_socket(PQsocket(raw), want, deadline) == 0) {
            return fail(errc::timeout, "connect: no answer within " + ms(o.connect_timeout));
        }
        status = PQconnectPoll(raw);
    }
    if (PQsetnonblocking(raw, 1) != 0) {
        return fail(errc::unavailable, "connect: " + trimmed(PQerrorMessage(raw)));
    }
    const auto t = std::to_string(o.statement_timeout.count());
    DERMAGA_CHECK(c->exec("SET statement_timeout = " + t + "; SET idle_in_transaction_session_timeout = " + t +
                          "; SET client_encoding = 'UTF8'"));
    return c;
}

const Dialect& PgConnection::dialect() const { return postgres_dialect(); }

Result<Stmt> PgConnection::prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        int params = 0;
        std::uint64_t used = 0;
        auto text = numbered_placeholders(dialect().statement(sql), params, used);
        it = cache_.emplace(sql, std::make_unique<PgStatement>(*this, std::move(text), params, used)).first;
    }
    return Stmt(it->second.get());
}

Result<void> PgConnection::exec(std::string_view sql) {
    if (!PQsendQuery(conn_, std::string(sql).c_str())) {
        return tl::unexpected(lost("exec"));
    }
    DERMAGA_TRY(r, await("exec"));
    return {};
}

Result<void> PgConnection::allow_long_statements(std::chrono::seconds limit) {
    const auto t = std::to_string(std::chrono::milliseconds(limit).count());
    DERMAGA_CHECK(exec("SET LOCAL statement_timeout = " + t + "; SET LOCAL idle_in_transaction_session_timeout = " + t));
    round_trip_ = limit + std::chrono::seconds(1);
    return {};
}

Result<void> PgConnection::commit() {
    if (!PQsendQuery(conn_, "COMMIT")) {
        return tl::unexpected(lost("commit"));
    }
    DERMAGA_TRY(r, await("commit"));
    if (std::strcmp(PQcmdStatus(r.get()), "ROLLBACK") == 0) {
        return fail(errc::error, "commit: the transaction had failed and was rolled back");
    }
    return {};
}

void PgConnection::end_transaction() {
    retry_ = false;
    round_trip_ = statement_timeout_ + std::chrono::seconds(1);
}

Error PgConnection::lost(std::string_view what) {
    broken_ = true;
    return Error{make_error_code(errc::unavailable), std::string(what) + ": " + trimmed(PQerrorMessage(conn_))};
}

Error PgConnection::failure(const PGresult* r, std::string_view what) {
    const char* field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string_view state = field ? field : "";
    std::string msg = std::string(what) + ": " + trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    errc code = errc::error;
    if (PQstatus(conn_) != CONNECTION_OK || state.starts_with("08") || state == "57P01" || state == "57P02" ||
        state == "57P03" || state == "53300" || state == "25P03") {
        broken_ = true;  // gone, shutting down, too many clients, or ended for idling
        code = errc::unavailable;
    } else if (state.starts_with("23")) {
        code = errc::constraint;
    } else if (state == "40001" || state == "40P01") {
        retry_ = true;
        code = errc::retry;
    } else if (state == "57014" || state == "55P03") {
        code = errc::timeout;  // statement_timeout, lock_timeout
    }
    return Error{make_error_code(code), std::move(msg)};
}

Result<PgResult> PgConnection::await(std::string_view what) {
    const auto deadline = Clock::now() + round_trip_;
    const int fd = PQsocket(conn_);
    // Large parameters may not fit the socket buffer at once; the server may answer early.
    int flushed;
    while ((flushed = PQflush(conn_)) == 1) {
        const short ev = wait_socket(fd, POLLIN | POLLOUT, deadline);
        if (ev == 0) {
            broken_ = timed_out_ = true;
            return fail(errc::timeout, std::string(what) + ": could not send within " + ms(round_trip_));
        }
        if ((ev & POLLIN) && !PQconsumeInput(conn_)) {
            return tl::unexpected(lost(what));
        }
    }
    if (flushed < 0) {
        return tl::unexpected(lost(what));
    }
    PgResult first_error, last;
    while (true) {
        while (PQisBusy(conn_)) {
            if (wait_socket(fd, POLLIN, deadline) == 0) {
                broken_ = timed_out_ = true;  // state unknown: never reuse
                return fail(errc::timeout, std::string(what) + ": no answer within " + ms(round_trip_));
            }
            if (!PQconsumeInput(conn_)) {
                return tl::unexpected(lost(what));
            }
        }
        PgResult r(PQgetResult(conn_));
        if (!r) {
            break;
        }
        const auto status = PQresultStatus(r.get());
        if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
            if (!first_error) {
                first_error = std::move(r);
            }
        } else {
            last = std::move(r);
        }
    }
    if (first_error) {
        return tl::unexpected(failure(first_error.get(), what));
    }
    if (!last) {
        return tl::unexpected(lost(what));
    }
    return last;
}

}  // namespace dermaga::sql::postgres
