// Load harness of dermaga-loadgen: workers, timed phases, statistics and JSON reports, and
// the registry operations (blob and image pushes) that scenarios are built from.
#pragma once

#include "http_client.hpp"

namespace loadgen {

struct Stats {
  uint64_t ops = 0, failed_ops = 0, requests = 0, errors = 0, bytes = 0, units = 0, units2 = 0;
  std::vector<float> lat;  // ms, measured successful ops
  std::map<std::string, std::vector<float>> kinds;
  void merge(Stats&& o) {
    ops += o.ops;
    failed_ops += o.failed_ops;
    requests += o.requests;
    errors += o.errors;
    bytes += o.bytes;
    units += o.units;
    units2 += o.units2;
    lat.insert(lat.end(), o.lat.begin(), o.lat.end());
    for (auto& [k, v] : o.kinds) kinds[k].insert(kinds[k].end(), v.begin(), v.end());
  }
};

struct Worker {
  int id;
  Conn conn;
  Stats st;
  std::mt19937_64 rng;
  // Per-op outputs, set by the op function, recorded by the phase loop.
  std::string kind;
  uint64_t op_bytes = 0, op_units = 0, op_units2 = 0;
  bool checked = false;
  Worker(int i, asio::any_io_executor ex)
      : id(i), conn(std::move(ex)), rng(G.seed * 1000003ULL + static_cast<uint64_t>(i)) {}
};

void log_err(const std::string& m);

void count_error(Worker& w, const std::string& m);

// Issue one request (following same-host redirects for GET/HEAD); returns
// nullopt and counts an error on transport failure or non-2xx status.
awaitable<std::optional<Resp>> call(Worker& w, std::string_view method, const std::string& target,
                                    const Headers& h = {}, const BodyRef* body = nullptr,
                                    Sink sink = Sink::Store);

using OpFn = std::function<awaitable<bool>(Worker&, long)>;

struct PhaseCtl {
  OpFn fn;
  std::atomic<long> next{0};
  long count = 0;
  Clock::time_point start, measure_from, stop_at;
  std::vector<Clock::time_point> finished;
};

awaitable<void> worker_loop(Worker* w, PhaseCtl* c);

struct PhaseResult {
  Stats st;
  double elapsed = 0;
};

// Runs `conc` workers, each looping over op indices [0, count) until the
// count is exhausted or `duration_s` (after `warmup_s`) has elapsed.
// duration_s <= 0 means "count only" (still bounded by --max-time).
PhaseResult run_phase(int conc, double duration_s, long count, double warmup_s, OpFn fn);

double pct(std::vector<float>& v, double q);

json report(const std::string& scen, PhaseResult& pr);

void add_setup(json& j, const PhaseResult& setup, uint64_t& total_errors);

int emit(const json& j);

awaitable<bool> push_blob(Worker& w, const std::string& repo, const BodyRef& body, const std::string& digest);

// Cross-repository mount; falls back to a monolithic upload when the
// registry answers 202 (mount not performed).
awaitable<bool> mount_or_push(Worker& w, const std::string& repo, const std::string& from, const BodyRef& body,
                              const std::string& digest);

awaitable<bool> put_manifest(Worker& w, const std::string& repo, const std::string& ref, const std::string& manifest);

struct Image {
  std::string layer, layer_digest, config, config_digest, manifest, manifest_digest;
};

std::string manifest_json(const std::string& cfg_digest, size_t cfg_size, const std::string& layer_digest,
                          size_t layer_size);

Image make_image(uint64_t seed, uint64_t idx, size_t layer_size);

// Pushes layer and config blobs, then the manifest under `tag`.
awaitable<bool> push_image(Worker& w, const std::string& repo, const Image& im, const std::string& tag);

// The repository a scenario uses: --repo, else <prefix>/<what>-<run id>.
std::string repo_name(const Opts& o, const std::string& what);

// v as a decimal string left-padded with zeros to `width`.
std::string pad(long v, int width);

}  // namespace loadgen
