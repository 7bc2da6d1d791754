#include "oci/manifest.hpp"

#include <nlohmann/json.hpp>

#include "oci/media_types.hpp"

namespace dermaga::oci {

namespace {

using json = nlohmann::json;

struct Category final : std::error_category {
    const char* name() const noexcept override { return "dermaga.oci"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::manifest_invalid: return "manifest invalid";
            case errc::unsupported: return "manifest format unsupported";
        }
        return "unknown oci error";
    }
};

std::string_view strip_params(std::string_view ct) {
    auto semi = ct.find(';');
    if (semi != std::string_view::npos) {
        ct = ct.substr(0, semi);
    }
    while (!ct.empty() && ct.back() == ' ') {
        ct.remove_suffix(1);
    }
    return ct;
}

std::string optional_string(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<Descriptor> parse_descriptor(const json& j, std::string_view where) {
    auto bad = [&](std::string_view why) {
        return fail(errc::manifest_invalid, std::string(where) + ": " + std::string(why));
    };
    if (!j.is_object()) {
        return bad("descriptor must be an object");
    }
    auto mt = j.find("mediaType");
    auto dg = j.find("digest");
    auto sz = j.find("size");
    if (mt == j.end() || !mt->is_string()) {
        return bad("descriptor mediaType missing");
    }
    if (dg == j.end() || !dg->is_string()) {
        return bad("descriptor digest missing");
    }
    if (sz == j.end() || !sz->is_number_integer() || sz->get<std::int64_t>() < 0) {
        return bad("descriptor size must be a non-negative integer");
    }
    auto digest = Digest::parse(dg->get<std::string>());
    if (!digest) {
        return bad("descriptor digest invalid: " + digest.error().detail);
    }
    Descriptor d{mt->get<std::string>(), std::move(*digest), sz->get<std::int64_t>()};
    d.artifact_type = optional_string(j, "artifactType");
    if (auto a = j.find("annotations"); a != j.end() && a->is_object()) {
        d.annotations_json = a->dump();
    }
    if (auto p = j.find("platform"); p != j.end() && p->is_object()) {
        d.platform_json = p->dump();
    }
    return d;
}

Result<std::vector<Descriptor>> parse_list(const json& doc, const char* key, bool required) {
    std::vector<Descriptor> out;
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) {
        if (required) {
            return fail(errc::manifest_invalid, std::string("\"") + key + "\" is required");
        }
        return out;
    }
    if (!it->is_array()) {
        return fail(errc::manifest_invalid, std::string("\"") + key + "\" must be an array");
    }
    out.reserve(it->size());
    for (const auto& e : *it) {
        DERMAGA_TRY(d, parse_descriptor(e, key));
        out.push_back(std::move(d));
    }
    return out;
}

/// The media type the document is stored and served with. It depends on the bytes alone, so
/// a digest keeps one type whatever Content-Type later pushes send: the "mediaType" field when
/// present, else the shape (which can then only be an OCI type: Docker's formats require the
/// field). A manifest Content-Type must agree with it.
Result<std::string> effective_media_type(const json& doc, std::string_view ct) {
    const std::string field = optional_string(doc, "mediaType");
    if (doc.contains("mediaType") && field.empty()) {
        return fail(errc::manifest_invalid, "\"mediaType\" must be a non-empty string");
    }
    std::string mt = field;
    if (mt.empty()) {
        mt = doc.contains("manifests") ? media_type::oci_index : media_type::oci_manifest;
        if (ct == media_type::docker_manifest || ct == media_type::docker_list) {
            return fail(errc::manifest_invalid,
                        "a Docker manifest or manifest list must carry its \"mediaType\" field");
        }
    } else if (!media_type::is_manifest(mt)) {
        return fail(errc::manifest_invalid, "unknown manifest mediaType \"" + mt + "\"");
    }
    if (media_type::is_manifest(ct) && ct != mt) {
        return fail(errc::manifest_invalid,
                    (field.empty() ? "the document is a " + mt : "mediaType field \"" + mt + "\"") +
                        " but Content-Type is \"" + std::string(ct) + "\"");
    }
    return mt;
}

}  // namespace

const std::error_category& category() noexcept {
    static const Category c;
    return c;
}

Result<ParsedManifest> parse_manifest(std::string_view bytes, std::string_view content_type) {
    json doc = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(errc::manifest_invalid, "manifest is not a JSON object");
    }
    auto sv = doc.find("schemaVersion");
    if (sv != doc.end() && sv->is_number_integer() && sv->get<int>() == 1) {
        return fail(errc::unsupported, "Docker schema 1 manifests are not supported; push schema 2 or OCI");
    }
    if (sv == doc.end() || !sv->is_number_integer() || sv->get<int>() != 2) {
        return fail(errc::manifest_invalid, "schemaVersion must be 2");
    }
    const std::string_view ct = strip_params(content_type);
    if (ct == media_type::docker_schema1 || ct == media_type::docker_schema1_signed) {
        return fail(errc::unsupported, "Docker schema 1 manifests are not supported");
    }
    // CVE-2021-41190: a document that reads as both an image and an index could be served as
    // either; refuse it whatever the headers say.
    if (doc.contains("manifests") && (doc.contains("config") || doc.contains("layers"))) {
        return fail(errc::manifest_invalid,
                    "ambiguous manifest: \"manifests\" together with \"config\" or \"layers\"");
    }
    ParsedManifest m;
    DERMAGA_TRY(type, effective_media_type(doc, ct));
    m.media_type = std::move(type);

    if (media_type::is_index(m.media_type)) {
        m.kind = ManifestKind::index;
        DERMAGA_TRY(children, parse_list(doc, "manifests", true));
        m.manifests = std::move(children);
    } else {
        m.kind = ManifestKind::image;
        auto cfg = doc.find("config");
        if (cfg == doc.end()) {
            return fail(errc::manifest_invalid, "\"config\" is required in an image manifest");
        }
        DERMAGA_TRY(config, parse_descriptor(*cfg, "config"));
        m.config = std::move(config);
        DERMAGA_TRY(layers, parse_list(doc, "layers", m.media_type == media_type::docker_manifest));
        m.layers = std::move(layers);
    }
    if (auto s = doc.find("subject"); s != doc.end() && !s->is_null()) {
        DERMAGA_TRY(subject, parse_descriptor(*s, "subject"));
        m.subject = std::move(subject);
    }
    m.artifact_type = optional_string(doc, "artifactType");
    if (m.artifact_type.empty() && m.config) {
        m.artifact_type = m.config->media_type;
    }
    if (auto a = doc.find("annotations"); a != doc.end() && a->is_object()) {
        m.annotations_json = a->dump();
    }
    return m;
}

}  // namespace dermaga::oci
