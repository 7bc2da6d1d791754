#include "auth/roles.hpp"

#include <sstream>

namespace dermaga::auth {

std::optional<Role> parse_role(std::string_view s) {
    if (s == "none") return Role::none;
    if (s == "read") return Role::read;
    if (s == "write") return Role::write;
    if (s == "delete") return Role::del;
    if (s == "admin") return Role::admin;
    return std::nullopt;
}

const char* role_name(Role r) {
    switch (r) {
        case Role::read: return "read";
        case Role::write: return "write";
        case Role::del: return "delete";
        case Role::admin: return "admin";
        default: return "none";
    }
}

unsigned actions_of(Role r) {
    switch (r) {
        case Role::read: return pull;
        case Role::write: return pull | push;
        case Role::del: return pull | push | del;
        case Role::admin: return all_actions;
        default: return 0;
    }
}

unsigned parse_actions(std::string_view s) {
    unsigned out = 0;
    while (!s.empty()) {
        auto comma = s.find(',');
        auto word = s.substr(0, comma);
        if (word == "pull") out |= pull;
        else if (word == "push") out |= push;
        else if (word == "delete") out |= del;
        else if (word == "*") out |= pull | push | del;
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    }
    return out;
}

std::vector<std::string> action_names(unsigned a) {
    std::vector<std::string> out;
    if (a & pull) out.emplace_back("pull");
    if (a & push) out.emplace_back("push");
    if (a & del) out.emplace_back("delete");
    return out;
}

std::optional<unsigned> parse_token_scopes(std::string_view s) {
    std::istringstream in{std::string(s)};
    unsigned out = 0;
    std::string word;
    while (in >> word) {
        if (word == "pull") out |= pull;
        else if (word == "push") out |= push;
        else if (word == "delete") out |= del;
        else if (word == "manage") out |= manage;
        else return std::nullopt;
    }
    return out;
}

std::string token_scopes_text(unsigned a) {
    std::string out;
    for (auto [bit, name] : {std::pair{pull, "pull"}, {push, "push"}, {del, "delete"}, {manage, "manage"}}) {
        if (a & bit) {
            out += out.empty() ? "" : " ";
            out += name;
        }
    }
    return out;
}

const char* Principal::kind_name() const {
    switch (kind) {
        case Kind::user: return "user";
        case Kind::robot: return "robot";
        default: return "anonymous";
    }
}

}  // namespace dermaga::auth
