#include "harness.hpp"

namespace loadgen {

std::atomic<int> g_logged{0};

void log_err(const std::string& m) {
  if (g_logged.fetch_add(1) < 20) std::cerr << "loadgen: error: " << m << "\n";
}

void count_error(Worker& w, const std::string& m) {
  w.st.errors++;
  log_err(m);
}

// Issue one request (following same-host redirects for GET/HEAD); returns
// nullopt and counts an error on transport failure or non-2xx status.
awaitable<std::optional<Resp>> call(Worker& w, std::string_view method, const std::string& target,
                                    const Headers& h, const BodyRef* body, Sink sink) {
  std::string tgt = target;
  for (int hop = 0; hop < 5; ++hop) {
    w.st.requests++;
    std::string err;
    Resp r;
    try {
      r = co_await w.conn.request(method, tgt, h, body, sink);
    } catch (const std::exception& e) {
      err = e.what();
    }
    if (!err.empty()) {
      count_error(w, std::string(method) + " " + tgt + ": " + err);
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await t.async_wait(use_awaitable);
      co_return std::nullopt;
    }
    if ((method == "GET" || method == "HEAD") &&
        (r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308)) {
      std::string loc = r.header("Location");
      bool same_host = loc.rfind("/", 0) == 0 || loc.find("//" + G.hostport + "/") != std::string::npos;
      if (!loc.empty() && same_host) {
        tgt = resolve_location(loc, tgt);
        continue;
      }
    }
    if (r.status < 200 || r.status > 299) {
      std::string snippet = r.body.substr(0, 300);
      for (auto& c : snippet)
        if (c == '\n' || c == '\r') c = ' ';
      count_error(w, std::string(method) + " " + tgt.substr(0, 200) + " -> " + std::to_string(r.status) + " " +
                         snippet);
      co_return std::nullopt;
    }
    co_return r;
  }
  count_error(w, std::string(method) + " " + target + ": too many redirects");
  co_return std::nullopt;
}

awaitable<void> worker_loop(Worker* w, PhaseCtl* c) {
  for (;;) {
    if (Clock::now() >= c->stop_at) break;
    long idx = c->next.fetch_add(1);
    if (idx >= c->count) break;
    w->kind.clear();
    w->op_bytes = w->op_units = w->op_units2 = 0;
    auto t0 = Clock::now();
    bool ok = co_await c->fn(*w, idx);
    auto t1 = Clock::now();
    if (t0 < c->measure_from) continue;
    if (!ok) {
      w->st.failed_ops++;
      continue;
    }
    float ms = static_cast<float>(seconds(t1 - t0) * 1000.0);
    w->st.ops++;
    w->st.lat.push_back(ms);
    w->st.bytes += w->op_bytes;
    w->st.units += w->op_units;
    w->st.units2 += w->op_units2;
    if (!w->kind.empty()) w->st.kinds[w->kind].push_back(ms);
  }
  c->finished[static_cast<size_t>(w->id)] = Clock::now();
}

// Runs `conc` workers, each looping over op indices [0, count) until the
// count is exhausted or `duration_s` (after `warmup_s`) has elapsed.
// duration_s <= 0 means "count only" (still bounded by --max-time).
PhaseResult run_phase(int conc, double duration_s, long count, double warmup_s, OpFn fn) {
  conc = std::max(conc, 1);
  asio::io_context ioc(G.threads);
  PhaseCtl ctl;
  ctl.fn = std::move(fn);
  ctl.count = count;
  ctl.start = Clock::now();
  ctl.measure_from = ctl.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  ctl.stop_at = duration_s > 0 ? ctl.measure_from + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(duration_s))
                               : ctl.start + std::chrono::hours(24);
  ctl.finished.assign(static_cast<size_t>(conc), ctl.start);
  std::vector<std::unique_ptr<Worker>> ws;
  for (int i = 0; i < conc; ++i) ws.push_back(std::make_unique<Worker>(i, ioc.get_executor()));
  for (auto& w : ws)
    asio::co_spawn(ioc, worker_loop(w.get(), &ctl), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log_err(std::string("worker crashed: ") + ex.what());
      }
    });
  std::vector<std::thread> th;
  for (int i = 1; i < G.threads; ++i) th.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : th) t.join();
  PhaseResult pr;
  for (auto& w : ws) pr.st.merge(std::move(w->st));
  auto end = *std::max_element(ctl.finished.begin(), ctl.finished.end());
  pr.elapsed = std::max(1e-9, seconds(end - ctl.measure_from));
  return pr;
}

double pct(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  i = std::min(v.size() - 1, i > 0 ? i - 1 : 0);
  return v[i];
}

json report(const std::string& scen, PhaseResult& pr) {
  auto& st = pr.st;
  json j;
  j["scenario"] = scen;
  j["target"] = G.hostport;
  j["ops"] = st.ops;
  j["elapsed_s"] = r3(pr.elapsed);
  j["ops_per_s"] = r3(static_cast<double>(st.ops) / pr.elapsed);
  j["mb_per_s"] = r3(static_cast<double>(st.bytes) / 1e6 / pr.elapsed);
  j["bytes"] = st.bytes;
  j["p50_ms"] = r3(pct(st.lat, 0.50));
  j["p99_ms"] = r3(pct(st.lat, 0.99));
  j["max_ms"] = r3(st.lat.empty() ? 0.0 : st.lat.back());
  j["requests"] = st.requests;
  j["errors"] = st.errors;
  j["failed_ops"] = st.failed_ops;
  for (auto& [k, v] : st.kinds) {
    j["kind_" + k + "_ops"] = v.size();
    j["kind_" + k + "_p50_ms"] = r3(pct(v, 0.50));
    j["kind_" + k + "_p99_ms"] = r3(pct(v, 0.99));
  }
  return j;
}

void add_setup(json& j, const PhaseResult& setup, uint64_t& total_errors) {
  j["setup_s"] = r3(j.value("setup_s", 0.0) + setup.elapsed);
  j["setup_errors"] = j.value("setup_errors", uint64_t{0}) + setup.st.errors;
  total_errors += setup.st.errors;
}

int emit(const json& j) {
  std::cout << j.dump() << std::endl;
  uint64_t errs = j.value("errors", uint64_t{0}) + j.value("setup_errors", uint64_t{0});
  return errs ? 1 : 0;
}

// Completes the upload session a POST to `start` opened at `loc`: one monolithic PUT.
static awaitable<bool> put_into_session(Worker& w, std::string start, std::string loc, const BodyRef& body,
                                        std::string digest) {
  if (loc.empty()) {
    count_error(w, "POST " + start + ": no Location header");
    co_return false;
  }
  const Headers h{{"Content-Type", "application/octet-stream"}};
  auto r2 = co_await call(w, "PUT", with_query(resolve_location(loc, start), "digest=" + digest), h, &body);
  co_return r2.has_value();
}

awaitable<bool> push_blob(Worker& w, const std::string& repo, const BodyRef& body, const std::string& digest) {
  const std::string start = "/v2/" + repo + "/blobs/uploads/";
  auto r = co_await call(w, "POST", start);
  if (!r) co_return false;
  co_return co_await put_into_session(w, start, r->header("Location"), body, digest);
}

// Cross-repository mount; falls back to a monolithic upload when the
// registry answers 202 (mount not performed).
awaitable<bool> mount_or_push(Worker& w, const std::string& repo, const std::string& from, const BodyRef& body,
                              const std::string& digest) {
  const std::string start = "/v2/" + repo + "/blobs/uploads/?mount=" + digest + "&from=" + from;
  auto r = co_await call(w, "POST", start);
  if (!r) co_return false;
  if (r->status == 201) co_return true;
  co_return co_await put_into_session(w, start, r->header("Location"), body, digest);
}

awaitable<bool> put_manifest(Worker& w, const std::string& repo, const std::string& ref, const std::string& manifest) {
  const Headers h{{"Content-Type", kOciManifest}};
  BodyRef b = BodyRef::of(manifest);
  auto r = co_await call(w, "PUT", "/v2/" + repo + "/manifests/" + ref, h, &b);
  co_return r.has_value();
}

std::string manifest_json(const std::string& cfg_digest, size_t cfg_size, const std::string& layer_digest,
                          size_t layer_size) {
  return std::string(R"({"schemaVersion":2,"mediaType":")") + kOciManifest + R"(","config":{"mediaType":")" +
         kOciConfig + R"(","digest":")" + cfg_digest + R"(","size":)" + std::to_string(cfg_size) +
         R"(},"layers":[{"mediaType":")" + kOciLayer + R"(","digest":")" + layer_digest + R"(","size":)" +
         std::to_string(layer_size) + "}]}";
}

Image make_image(uint64_t seed, uint64_t idx, size_t layer_size) {
  Image im;
  im.layer.resize(layer_size);
  fill_random(reinterpret_cast<uint8_t*>(im.layer.data()), layer_size, seed ^ ((idx + 1) * 0xD1B54A32D192ED03ULL));
  im.layer_digest = sha256_digest(im.layer);
  im.config = R"({"architecture":"amd64","os":"linux","config":{"Labels":{"dermaga.bench":")" +
              std::to_string(seed) + "-" + std::to_string(idx) +
              R"("}},"rootfs":{"type":"layers","diff_ids":[")" + im.layer_digest + R"("]}})";
  im.config_digest = sha256_digest(im.config);
  im.manifest = manifest_json(im.config_digest, im.config.size(), im.layer_digest, layer_size);
  im.manifest_digest = sha256_digest(im.manifest);
  return im;
}

awaitable<bool> push_image(Worker& w, const std::string& repo, const Image& im, const std::string& tag) {
  BodyRef layer = BodyRef::of(im.layer), cfg = BodyRef::of(im.config);
  if (!co_await push_blob(w, repo, layer, im.layer_digest)) co_return false;
  if (!co_await push_blob(w, repo, cfg, im.config_digest)) co_return false;
  co_return co_await put_manifest(w, repo, tag, im.manifest);
}

std::string repo_name(const Opts& o, const std::string& what) {
  return o.str("repo", G.prefix + "/" + what + "-" + G.runid);
}

std::string pad(long v, int width) {
  std::string s = std::to_string(v);
  return std::string(static_cast<size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

}  // namespace loadgen
