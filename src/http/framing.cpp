#include "http/framing.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace dermaga::http::detail {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace

unsigned transfer_encoding_refusal(unsigned version, const std::vector<std::string_view>& te_values) {
    if (te_values.empty()) {
        return 0;
    }
    if (version < 11) {
        return 400;  // HTTP/1.0 has no transfer codings: the framing is faulty (§6.1)
    }
    std::vector<std::string_view> codings;
    for (auto value : te_values) {
        while (true) {
            const auto comma = value.find(',');
            if (auto c = trim(value.substr(0, comma)); !c.empty()) {  // empty list elements are allowed
                codings.push_back(c);
            }
            if (comma == std::string_view::npos) {
                break;
            }
            value.remove_prefix(comma + 1);
        }
    }
    auto chunked = [](std::string_view c) { return boost::beast::iequals(c, "chunked"); };
    if (codings.empty() || !chunked(codings.back()) ||
        std::any_of(codings.begin(), codings.end() - 1, chunked)) {
        return 400;  // no length can be known, or chunked applied twice (§6.1)
    }
    return codings.size() == 1 ? 0 : 501;
}

}  // namespace dermaga::http::detail
