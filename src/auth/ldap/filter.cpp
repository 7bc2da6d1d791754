#include "auth/ldap/filter.hpp"

#include <cctype>

namespace dermaga::auth::ldap {

std::string escape_filter_value(std::string_view value) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(value.size());
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
            out += '\\';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
    return out;
}

std::string expand_filter(std::string_view tmpl, std::string_view user, std::string_view dn) {
    static constexpr std::string_view user_ph = "{user}";
    static constexpr std::string_view dn_ph = "{dn}";
    std::string out;
    for (std::size_t i = 0; i < tmpl.size();) {
        if (tmpl.substr(i, user_ph.size()) == user_ph) {
            out += escape_filter_value(user);
            i += user_ph.size();
        } else if (tmpl.substr(i, dn_ph.size()) == dn_ph) {
            out += escape_filter_value(dn);
            i += dn_ph.size();
        } else {
            out += tmpl[i++];
        }
    }
    return out;
}

std::string user_attribute(std::string_view tmpl) {
    static constexpr std::string_view needle = "={user}";
    auto pos = tmpl.find(needle);
    if (pos == std::string_view::npos) {
        return {};
    }
    // Walk back over the attribute description (name or OID, options after ';'); a `~=`,
    // `<=` or `>=` operator leaves its first character out of the name.
    auto end = pos;
    if (end > 0 && (tmpl[end - 1] == '~' || tmpl[end - 1] == '<' || tmpl[end - 1] == '>')) {
        --end;
    }
    auto begin = end;
    while (begin > 0) {
        auto c = static_cast<unsigned char>(tmpl[begin - 1]);
        if (!(std::isalnum(c) || c == '-' || c == '.' || c == ';')) {
            break;
        }
        --begin;
    }
    if (begin == 0 || tmpl[begin - 1] != '(') {
        return {};
    }
    auto attr = tmpl.substr(begin, end - begin);
    return std::string(attr.substr(0, attr.find(';')));
}

}  // namespace dermaga::auth::ldap
