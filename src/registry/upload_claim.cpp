// One writer per upload across nodes: a lease in the upload's row of the metadata store.
#include "core/log.hpp"
#include "registry/registry.hpp"

namespace dermaga::registry {

UploadClaim::UploadClaim(meta::MetaStore& meta, const Clock& clock, std::string id,
                         std::string holder, std::int64_t lease)
    : meta_(meta),
      clock_(clock),
      id_(std::move(id)),
      holder_(std::move(holder)),
      lease_(lease),
      renew_at_(clock.now_unix() + lease / 2) {}

Result<void> UploadClaim::keep() {
    const auto now = clock_.now_unix();
    if (now < renew_at_) {
        return {};
    }
    auto kept = meta_.renew_upload_claim(id_, holder_, now, now + lease_);
    if (!kept) {
        return fail(unavailable(kept.error()));
    }
    if (!*kept) {
        return fail(errc::blob_upload_invalid, "another request took over this upload");
    }
    renew_at_ = now + lease_ / 2;
    return {};
}

void UploadClaim::release() {
    if (auto r = meta_.release_upload_claim(id_, holder_); !r) {
        // The lease runs out by itself; until then the upload answers "busy".
        log::warn("upload_claim_release_failed", {{"upload", id_}, {"detail", r.error().detail}});
    }
}

}  // namespace dermaga::registry
