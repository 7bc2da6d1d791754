#pragma once
// Content digests (OCI image-spec "descriptor.md#digests"): sha256 and sha512, lowercase hex.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/result.hpp"

namespace dermaga {

enum class DigestAlgorithm { sha256, sha512 };

/// A validated "algorithm:hex" digest. Immutable value type; cheap to copy.
class Digest {
public:
    /// Parses "sha256:<64 hex>" or "sha512:<128 hex>" (lowercase only, as the spec requires).
    /// Errors: core::errc::digest_invalid (malformed), core::errc::digest_unsupported.
    static Result<Digest> parse(std::string_view text);

    DigestAlgorithm algorithm() const noexcept { return algorithm_; }
    /// The hex part only.
    std::string_view hex() const noexcept { return std::string_view(text_).substr(prefix_len()); }
    /// The full "algorithm:hex" text.
    const std::string& str() const noexcept { return text_; }

    friend bool operator==(const Digest&, const Digest&) = default;
    friend auto operator<=>(const Digest& a, const Digest& b) { return a.text_ <=> b.text_; }

private:
    Digest(DigestAlgorithm a, std::string t) : algorithm_(a), text_(std::move(t)) {}
    /// "sha256:" and "sha512:" are both 7 characters.
    static constexpr std::size_t prefix_len() noexcept { return 7; }
    friend class Hasher;

    DigestAlgorithm algorithm_;
    std::string text_;
};

/// Incremental hash over a byte stream. Not thread-safe; movable, not copyable.
class Hasher {
public:
    explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::sha256);
    ~Hasher();
    Hasher(Hasher&&) noexcept;
    Hasher& operator=(Hasher&&) noexcept;

    void update(std::span<const char> bytes);
    void update(const char* s) { update(std::string_view(s)); }
    void update(std::string_view bytes) { update(std::span<const char>(bytes.data(), bytes.size())); }
    /// Total bytes fed so far.
    std::uint64_t size() const noexcept { return size_; }
    DigestAlgorithm algorithm() const noexcept { return algorithm_; }
    /// A copy of the running state (the original keeps going).
    Hasher clone() const;
    /// The running state as text that restore() takes back, to continue the hash in another
    /// process (an upload finished on another node). SHA-256 only: nullopt for others.
    std::optional<std::string> save() const;
    /// A SHA-256 hasher in the state `saved` describes; nullopt if it is not one save() wrote.
    static std::optional<Hasher> restore(std::string_view saved);
    /// Finishes the hash; the Hasher must not be updated afterwards.
    Digest finish();

private:
    DigestAlgorithm algorithm_;
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
    std::uint64_t size_ = 0;
};

/// Digest of a complete byte string.
Digest digest_of(std::string_view bytes, DigestAlgorithm algorithm = DigestAlgorithm::sha256);

}  // namespace dermaga
