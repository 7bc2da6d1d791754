#include "core/names.hpp"

namespace dermaga {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
    std::size_t i = 0;
    auto alnum_run = [&] {
        std::size_t start = i;
        while (i < c.size() && is_lower_alnum(c[i])) {
            ++i;
        }
        return i > start;
    };
    if (!alnum_run()) {
        return false;
    }
    while (i < c.size()) {
        if (c[i] == '.') {
            ++i;
        } else if (c[i] == '_') {
            ++i;
            if (i < c.size() && c[i] == '_') {
                ++i;
            }
        } else if (c[i] == '-') {
            while (i < c.size() && c[i] == '-') {
                ++i;
            }
        } else {
            return false;
        }
        if (!alnum_run()) {
            return false;
        }
    }
    return true;
}

bool is_tag_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

}  // namespace

Result<RepoName> RepoName::parse(std::string_view text) {
    if (text.empty() || text.size() > max_repo_name_length) {
        return fail(core::errc::name_invalid, "repository name must be 1 to 255 characters");
    }
    std::size_t start = 0;
    while (true) {
        auto slash = text.find('/', start);
        auto part = text.substr(start, slash == std::string_view::npos ? text.npos : slash - start);
        if (!valid_component(part)) {
            return fail(core::errc::name_invalid,
                        "invalid repository name component (lowercase letters, digits and "
                        "single separators . _ __ - only)");
        }
        if (slash == std::string_view::npos) {
            break;
        }
        start = slash + 1;
    }
    return RepoName(std::string(text));
}

Result<Tag> Tag::parse(std::string_view text) {
    if (text.empty() || text.size() > 128 || text[0] == '.' || text[0] == '-') {
        return fail(core::errc::tag_invalid, "tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
    }
    for (char c : text) {
        if (!is_tag_char(c)) {
            return fail(core::errc::tag_invalid,
                        "tag must match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
        }
    }
    return Tag(std::string(text));
}

Result<Reference> Reference::parse(std::string_view text) {
    if (text.find(':') != std::string_view::npos) {
        DERMAGA_TRY(d, Digest::parse(text));
        return Reference(std::move(d));
    }
    auto t = Tag::parse(text);
    if (!t) {
        return fail(core::errc::reference_invalid, t.error().detail);
    }
    return Reference(std::move(*t));
}

bool valid_account_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && name.find('/') == std::string_view::npos &&
           RepoName::parse(name).has_value();
}

}  // namespace dermaga
