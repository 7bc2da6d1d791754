#pragma once
// Repository names, tags and references as the OCI distribution-spec defines them.

#include <string>
#include <string_view>
#include <variant>

#include "core/digest.hpp"
#include "core/result.hpp"

namespace dermaga {

/// Longest repository name we accept (the spec lets registries cap it; Distribution uses 255).
inline constexpr std::size_t max_repo_name_length = 255;

/// A repository name: path components matching [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, joined by '/'.
/// Construction validates, so a RepoName can never hold "..", an empty component or a '%'.
class RepoName {
public:
    /// Errors: core::errc::name_invalid.
    static Result<RepoName> parse(std::string_view text);
    const std::string& str() const noexcept { return name_; }
    friend bool operator==(const RepoName&, const RepoName&) = default;

private:
    explicit RepoName(std::string n) : name_(std::move(n)) {}
    std::string name_;
};

/// A tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
class Tag {
public:
    /// Errors: core::errc::tag_invalid.
    static Result<Tag> parse(std::string_view text);
    const std::string& str() const noexcept { return name_; }
    friend bool operator==(const Tag&, const Tag&) = default;

private:
    explicit Tag(std::string n) : name_(std::move(n)) {}
    std::string name_;
};

/// The <reference> of a manifest URL: a tag or a digest.
class Reference {
public:
    /// A reference containing ':' is parsed as a digest, anything else as a tag.
    /// Errors: core::errc::reference_invalid, digest_invalid, digest_unsupported.
    static Result<Reference> parse(std::string_view text);
    bool is_digest() const noexcept { return std::holds_alternative<Digest>(value_); }
    const Digest& digest() const { return std::get<Digest>(value_); }
    const Tag& tag() const { return std::get<Tag>(value_); }
    const std::string& str() const noexcept {
        return is_digest() ? digest().str() : tag().str();
    }

private:
    explicit Reference(std::variant<Tag, Digest> v) : value_(std::move(v)) {}
    std::variant<Tag, Digest> value_;
};

/// A user, organisation or team name: one repository path component of at most 64
/// characters (so that it can own the namespace of the same name).
bool valid_account_name(std::string_view name);

}  // namespace dermaga
