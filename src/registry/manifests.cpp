// Manifest use cases: push (validate, check references, tag), pull, delete, referrers.
#include "core/log.hpp"
#include "oci/manifest.hpp"
#include "oci/media_types.hpp"
#include "registry/registry.hpp"

namespace dermaga::registry {

namespace {

std::vector<meta::ManifestRef> references_of(const oci::ParsedManifest& m) {
    std::vector<meta::ManifestRef> refs;
    if (m.config) {
        refs.push_back({m.config->digest.str(), meta::ManifestRef::Kind::blob});
    }
    for (const auto& l : m.layers) {
        refs.push_back({l.digest.str(), meta::ManifestRef::Kind::blob});
    }
    for (const auto& c : m.manifests) {
        refs.push_back({c.digest.str(), meta::ManifestRef::Kind::manifest});
    }
    return refs;
}

}  // namespace

Result<PushedManifest> Registry::put_manifest(const RepoName& repo, const Reference& reference,
                                              std::string_view content_type, std::string body,
                                              const std::vector<std::string>& extra_tags) {
    if (body.size() > options_.max_manifest_bytes) {
        return fail(errc::manifest_too_large,
                    "manifest exceeds " + std::to_string(options_.max_manifest_bytes) + " bytes");
    }
    auto parsed = oci::parse_manifest(body, content_type);
    if (!parsed) {
        // Schema 1 (oci::errc::unsupported) is refused as an invalid manifest: clients show the detail.
        return fail(errc::manifest_invalid, parsed.error().detail);
    }
    const auto alg = reference.is_digest() ? reference.digest().algorithm() : DigestAlgorithm::sha256;
    Digest digest = digest_of(body, alg);
    if (reference.is_digest() && reference.digest() != digest) {
        return fail(errc::digest_invalid, "manifest digest is " + digest.str());
    }
    meta::ManifestPut put;
    put.repo = repo.str();
    put.digest = digest.str();
    put.media_type = parsed->media_type;
    put.artifact_type = parsed->artifact_type;
    put.annotations_json = parsed->annotations_json;
    if (parsed->subject) {
        put.subject = parsed->subject->digest.str();
    }
    put.refs = references_of(*parsed);
    if (!reference.is_digest()) {
        put.tags.push_back(reference.tag().str());
    }
    for (const auto& t : extra_tags) {
        auto tag = Tag::parse(t);
        if (!tag) {
            return fail(errc::tag_invalid, tag.error().detail);
        }
        put.tags.push_back(tag->str());
    }
    put.now = clock_.now_unix();
    put.body = std::move(body);
    if (auto r = meta_.put_manifest(put); !r) {
        if (r.error().code == meta::errc::reference_missing) {
            return fail(errc::manifest_blob_unknown, r.error().detail);
        }
        return fail(unavailable(r.error()));
    }
    cache_.invalidate(repo.str());  // after the commit: see ManifestCache
    PushedManifest out{std::move(digest), std::nullopt};
    if (parsed->subject) {
        out.subject = parsed->subject->digest;
    }
    return out;
}

Result<ManifestCache::Entry> Registry::get_manifest(const RepoName& repo, const Reference& reference) {
    if (auto hit = cache_.get(repo.str(), reference.str())) {
        cache_.lookups.inc(ManifestCache::Lookup::hit);
        return hit;
    }
    cache_.lookups.inc(ManifestCache::Lookup::miss);
    const auto ticket = cache_.ticket();
    auto rec = reference.is_digest() ? meta_.manifest_by_digest(repo.str(), reference.digest().str())
                                     : meta_.manifest_by_tag(repo.str(), reference.tag().str());
    if (!rec) {
        return fail(unavailable(rec.error()));
    }
    if (!*rec) {
        return fail(errc::manifest_unknown, reference.str());
    }
    auto entry = std::make_shared<const meta::ManifestRecord>(std::move(**rec));
    cache_.put(repo.str(), reference.str(), entry, ticket);
    return entry;
}

Result<void> Registry::delete_manifest(const RepoName& repo, const Reference& reference) {
    auto removed = reference.is_digest() ? meta_.delete_manifest(repo.str(), reference.digest().str())
                                         : meta_.delete_tag(repo.str(), reference.tag().str());
    if (!removed) {
        return fail(unavailable(removed.error()));
    }
    cache_.invalidate(repo.str());
    if (!*removed) {
        return fail(errc::manifest_unknown, reference.str());
    }
    return {};
}

Result<std::string> Registry::referrers(const RepoName& repo, const Digest& digest, std::string_view artifact_type) {
    auto list = meta_.referrers(repo.str(), digest.str(), artifact_type);
    if (!list) {
        return fail(unavailable(list.error()));
    }
    std::string out = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
    bool first = true;
    for (const auto& r : *list) {
        if (!first) {
            out += ',';
        }
        first = false;
        out += R"({"mediaType":)";
        log::append_json_string(out, r.media_type);
        out += R"(,"digest":)";
        log::append_json_string(out, r.digest);
        out += R"(,"size":)" + std::to_string(r.size);
        if (!r.artifact_type.empty()) {
            out += R"(,"artifactType":)";
            log::append_json_string(out, r.artifact_type);
        }
        if (!r.annotations_json.empty()) {
            out += R"(,"annotations":)" + r.annotations_json;
        }
        out += '}';
    }
    out += "]}";
    return out;
}

}  // namespace dermaga::registry
