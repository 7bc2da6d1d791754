// The benchmark scenarios: each runs against G's target and prints one JSON line; the return
// value is the process exit code (1 when any request failed).
#pragma once

#include "common.hpp"

namespace loadgen {

int scen_blob_push(const Opts& o, const std::string& name, uint64_t def_size, int def_blobs);
int scen_blob_pull(const Opts& o);
int scen_chunked_push(const Opts& o);
int scen_small_image_push(const Opts& o);
int scen_manifest_get(const Opts& o);
int scen_tag_list(const Opts& o);
int scen_catalog_walk(const Opts& o);
int scen_mixed(const Opts& o);

}  // namespace loadgen
