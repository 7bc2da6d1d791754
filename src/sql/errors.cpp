#include "metrics/registry.hpp"
#include "sql/dialect.hpp"
#include "sql/sql.hpp"

namespace dermaga::sql {

namespace {
struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.sql"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::error: return "database error";
            case errc::constraint: return "constraint violated";
            case errc::retry: return "transaction conflict";
            case errc::unavailable: return "database unavailable";
            case errc::timeout: return "database timeout";
        }
        return "unknown sql error";
    }
};
}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

void Database::register_metrics(metrics::Registry& registry) const {
    registry.add(write_metrics_.commit_seconds);
    registry.add(write_metrics_.batch_size);
    registry.add(write_metrics_.failures);
    registry.add(write_metrics_.retries);
}

std::string numbered_placeholders(std::string_view sql, int& max_index, std::uint64_t& used) {
    std::string out;
    out.reserve(sql.size());
    max_index = 0;
    used = 0;
    for (std::size_t i = 0; i < sql.size();) {
        const char ch = sql[i];
        std::size_t end = i + 1;
        if (ch == '\'' || ch == '"') {  // literal or quoted identifier; '' and "" escape
            while (end < sql.size() && !(sql[end] == ch && (end + 1 >= sql.size() || sql[end + 1] != ch))) {
                end += sql[end] == ch ? 2 : 1;
            }
            end = std::min(end + 1, sql.size());
        } else if (ch == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            end = std::min(sql.find('\n', i), sql.size());
        } else if (ch == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            auto close = sql.find("*/", i + 2);
            end = close == std::string_view::npos ? sql.size() : close + 2;
        } else if ((ch == '?' || ch == '$') && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
            int n = 0;
            while (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end]))) {
                n = n * 10 + (sql[end++] - '0');
            }
            max_index = std::max(max_index, n);
            if (n >= 1 && n <= 64) {
                used |= std::uint64_t{1} << (n - 1);
            }
            out += '$';
            out.append(sql.substr(i + 1, end - i - 1));
            i = end;
            continue;
        }
        out.append(sql.substr(i, end - i));
        i = end;
    }
    return out;
}

}  // namespace dermaga::sql
