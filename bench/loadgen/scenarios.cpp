#include "scenarios.hpp"

#include "harness.hpp"

namespace loadgen {

struct LargeSet {
  std::string repo;
  uint64_t size = 0;
  std::vector<std::string> digests;
};

// Pushes `n` distinct blobs of `size` bytes (rotations / repeats of one
// random buffer of at most --buffer bytes) with POST + monolithic PUT.
PhaseResult push_large(const Opts& o, const std::string& repo, uint64_t size, int n, int conc, LargeSet& out,
                       double& prep_s) {
  const uint64_t buflen = std::max<uint64_t>(1, std::min<uint64_t>(size, o.size("buffer", 256 * MiB)));
  auto t0 = Clock::now();
  std::vector<uint8_t> buf(buflen);
  fill_random(buf.data(), buflen, G.seed);
  std::vector<BodyRef> blobs;
  out = LargeSet{repo, size, {}};
  for (int k = 0; k < n; ++k) {
    BodyRef b{buf.data(), buflen, (static_cast<uint64_t>(k) * (buflen / std::max(n, 1)) + 7 * k) % buflen, size};
    blobs.push_back(b);
    out.digests.push_back(b.digest());
  }
  prep_s = seconds(Clock::now() - t0);
  return run_phase(conc, 0, n, 0, [&](Worker& w, long i) -> awaitable<bool> {
    w.op_bytes = size;
    co_return co_await push_blob(w, repo, blobs[static_cast<size_t>(i)], out.digests[static_cast<size_t>(i)]);
  });
}

void write_state(const std::string& path, const LargeSet& s) {
  json j;
  j["repo"] = s.repo;
  j["size"] = s.size;
  j["digests"] = s.digests;
  std::ofstream f(path);
  f << j.dump() << "\n";
}

int scen_blob_push(const Opts& o, const std::string& name, uint64_t def_size, int def_blobs) {
  const uint64_t size = o.size("size", def_size);
  const int n = static_cast<int>(o.num("blobs", def_blobs));
  LargeSet set;
  double prep = 0;
  auto pr = push_large(o, repo_name(o, name), size, n, static_cast<int>(o.num("c", 1)), set, prep);
  json j = report(name, pr);
  j["blob_size"] = size;
  j["blobs"] = n;
  j["prep_s"] = r3(prep);
  if (o.has("state") && pr.st.errors == 0) write_state(o.str("state", ""), set);
  return emit(j);
}

int scen_blob_pull(const Opts& o) {
  const bool verify = o.flag("verify") && !o.flag("no-verify");
  LargeSet set;
  std::optional<PhaseResult> setup;
  double prep = 0;
  if (o.has("state")) {
    std::ifstream f(o.str("state", ""));
    if (f) {
      try {
        json s = json::parse(f);
        set.repo = s.at("repo").get<std::string>();
        set.size = s.at("size").get<uint64_t>();
        set.digests = s.at("digests").get<std::vector<std::string>>();
      } catch (const std::exception& e) {
        std::cerr << "loadgen: ignoring bad state file: " << e.what() << "\n";
        set = {};
      }
    }
  }
  if (set.digests.empty())
    setup = push_large(o, repo_name(o, "large"), o.size("size", 256 * MiB), static_cast<int>(o.num("blobs", 4)),
                       1, set, prep);
  const long n = static_cast<long>(set.digests.size());
  const long rounds = static_cast<long>(o.num("rounds", 2));
  std::atomic<uint64_t> mismatches{0};
  auto pr = run_phase(static_cast<int>(o.num("c", 1)), 0, n * rounds, 0, [&](Worker& w, long i) -> awaitable<bool> {
    const std::string& d = set.digests[static_cast<size_t>(i % n)];
    auto r = co_await call(w, "GET", "/v2/" + set.repo + "/blobs/" + d, {}, nullptr, verify ? Sink::Hash : Sink::Discard);
    if (!r) co_return false;
    w.op_bytes = r->body_bytes;
    if (r->body_bytes != set.size) {
      mismatches++;
      count_error(w, "GET blob " + d + ": got " + std::to_string(r->body_bytes) + " bytes, want " +
                         std::to_string(set.size));
      co_return false;
    }
    if (verify && r->body_digest != d) {
      mismatches++;
      count_error(w, "GET blob " + d + ": digest mismatch " + r->body_digest);
      co_return false;
    }
    co_return true;
  });
  json j = report(verify ? "blob-pull-large-verify" : "blob-pull-large", pr);
  j["verify"] = verify;
  j["blob_size"] = set.size;
  j["mismatches"] = mismatches.load();
  uint64_t dummy = 0;
  if (setup) add_setup(j, *setup, dummy);
  return emit(j);
}

int scen_chunked_push(const Opts& o) {
  const uint64_t size = o.size("size", 256 * MiB);
  const uint64_t chunk = std::max<uint64_t>(1, o.size("chunk", 5 * MiB));
  const long nblobs = static_cast<long>(o.num("blobs", 1));
  const std::string repo = repo_name(o, "chunked");
  const uint64_t buflen = std::max<uint64_t>(1, size);
  std::vector<uint8_t> buf(buflen);
  fill_random(buf.data(), buflen, G.seed ^ 0xC4u);
  std::vector<BodyRef> blobs;
  std::vector<std::string> digests;
  for (long k = 0; k < nblobs; ++k) {
    blobs.push_back(BodyRef{buf.data(), buflen, static_cast<uint64_t>(k) * 4099 % buflen, size});
    digests.push_back(blobs.back().digest());
  }
  auto pr = run_phase(static_cast<int>(o.num("c", 1)), 0, nblobs, 0, [&](Worker& w, long i) -> awaitable<bool> {
    const BodyRef& blob = blobs[static_cast<size_t>(i)];
    const std::string start = "/v2/" + repo + "/blobs/uploads/";
    auto r = co_await call(w, "POST", start);
    if (!r) co_return false;
    std::string loc = r->header("Location");
    if (loc.empty()) {
      count_error(w, "POST: no Location");
      co_return false;
    }
    std::string url = resolve_location(loc, start);
    for (uint64_t pos = 0; pos < size;) {
      const uint64_t n = std::min(chunk, size - pos);
      BodyRef part = blob.sub(pos, n);
      const Headers h{{"Content-Type", "application/octet-stream"},
                      {"Content-Range", std::to_string(pos) + "-" + std::to_string(pos + n - 1)}};
      auto t0 = Clock::now();
      auto pr2 = co_await call(w, "PATCH", url, h, &part);
      if (!pr2) co_return false;
      w.st.kinds["patch"].push_back(static_cast<float>(seconds(Clock::now() - t0) * 1000.0));
      std::string nloc = pr2->header("Location");
      if (nloc.empty()) {
        count_error(w, "PATCH: no Location");
        co_return false;
      }
      url = resolve_location(nloc, url);
      pos += n;
      w.op_units++;
    }
    auto fin = co_await call(w, "PUT", with_query(url, "digest=" + digests[static_cast<size_t>(i)]));
    if (!fin) co_return false;
    w.op_bytes = size;
    co_return true;
  });
  json j = report("chunked-push", pr);
  j["blob_size"] = size;
  j["chunk_size"] = chunk;
  j["chunks"] = pr.st.units;
  return emit(j);
}

int scen_small_image_push(const Opts& o) {
  const std::string repo = repo_name(o, "small");
  const size_t layer = o.size("layer", 16 * KiB);
  auto pr = run_phase(static_cast<int>(o.num("c", 8)), o.num("duration", 5), static_cast<long>(o.num("count", 1e6)),
                      o.num("warmup", 1), [&](Worker& w, long i) -> awaitable<bool> {
                        Image im = make_image(G.seed, static_cast<uint64_t>(i), layer);
                        w.op_bytes = im.layer.size() + im.config.size() + im.manifest.size();
                        co_return co_await push_image(w, repo, im, "t" + std::to_string(i));
                      });
  json j = report("small-image-push", pr);
  j["images_per_s"] = j["ops_per_s"];
  return emit(j);
}

// Pushes n images (tags t0..t<n-1>) as untimed setup.
PhaseResult setup_images(const std::string& repo, int n, size_t layer, uint64_t seed, std::vector<Image>& out) {
  out.clear();
  for (int i = 0; i < n; ++i) out.push_back(make_image(seed, static_cast<uint64_t>(i), layer));
  return run_phase(std::min(n, 8), 0, n, 0, [&](Worker& w, long i) -> awaitable<bool> {
    co_return co_await push_image(w, repo, out[static_cast<size_t>(i)], "t" + std::to_string(i));
  });
}

int scen_manifest_get(const Opts& o) {
  const std::string repo = repo_name(o, "manifest");
  std::vector<Image> imgs;
  auto setup = setup_images(repo, std::max(1, static_cast<int>(o.num("images", 8))), o.size("layer", 16 * KiB),
                            G.seed, imgs);
  const Headers accept{{"Accept", kOciManifest}};
  static const char* kinds[] = {"get-tag", "get-digest", "head-tag", "head-digest"};
  auto pr = run_phase(static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
                      o.num("warmup", 1), [&](Worker& w, long) -> awaitable<bool> {
                        const int k = static_cast<int>(w.rng() % 4);
                        const size_t ii = static_cast<size_t>(w.rng() % imgs.size());
                        const Image& im = imgs[ii];
                        w.kind = kinds[k];
                        const std::string ref = (k % 2 == 0) ? "t" + std::to_string(ii) : im.manifest_digest;
                        const std::string url = "/v2/" + repo + "/manifests/" + ref;
                        auto r = co_await call(w, k < 2 ? "GET" : "HEAD", url, accept);
                        if (!r) co_return false;
                        if (k < 2 && r->body != im.manifest) {
                          count_error(w, "GET " + url + ": manifest body mismatch");
                          co_return false;
                        }
                        w.op_bytes = r->body_bytes;
                        co_return true;
                      });
  json j = report("manifest-get", pr);
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  return emit(j);
}

int scen_tag_list(const Opts& o) {
  const std::string repo = repo_name(o, "tags");
  const long ntags = std::max(1L, static_cast<long>(o.num("tags", 500)));
  std::vector<Image> imgs;
  auto setup = setup_images(repo, 1, 1 * KiB, G.seed, imgs);
  const Image im = imgs.at(0);
  auto setup2 = run_phase(16, 0, ntags, 0, [&](Worker& w, long i) -> awaitable<bool> {
    co_return co_await put_manifest(w, repo, "v" + pad(i, 5), im.manifest);
  });
  std::atomic<long> tags_seen{-1};
  const uint64_t expected = static_cast<uint64_t>(ntags) + 1;  // v00000.. plus t0
  auto pr = run_phase(static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
                      o.num("warmup", 1), [&](Worker& w, long) -> awaitable<bool> {
                        std::string url = "/v2/" + repo + "/tags/list";
                        const bool check = !w.checked;
                        uint64_t seen = 0;
                        for (int page = 0; page < 1000; ++page) {
                          auto r = co_await call(w, "GET", url);
                          if (!r) co_return false;
                          w.op_bytes += r->body_bytes;
                          w.op_units++;
                          if (check) {
                            try {
                              auto jj = nlohmann::json::parse(r->body);
                              if (jj.contains("tags") && jj["tags"].is_array()) seen += jj["tags"].size();
                            } catch (const std::exception& e) {
                              count_error(w, "tags/list: bad JSON: " + std::string(e.what()));
                              co_return false;
                            }
                          }
                          auto next = next_link(r->all("Link"));
                          if (!next) break;
                          url = resolve_location(*next, url);
                        }
                        if (check) {
                          w.checked = true;
                          tags_seen = static_cast<long>(seen);
                          if (seen != expected) {
                            count_error(w, "tags/list: saw " + std::to_string(seen) + " tags, want " +
                                               std::to_string(expected));
                            co_return false;
                          }
                        }
                        co_return true;
                      });
  json j = report("tag-list", pr);
  j["tags_seen"] = tags_seen.load();
  j["pages_per_op"] = r3(pr.st.ops ? static_cast<double>(pr.st.units) / static_cast<double>(pr.st.ops) : 0.0);
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  add_setup(j, setup2, dummy);
  return emit(j);
}

int scen_catalog_walk(const Opts& o) {
  const long nrepos = std::max(1L, static_cast<long>(o.num("repos", 5000)));
  const int page = std::max(1, static_cast<int>(o.num("page", 100)));
  const std::string base = o.str("repo", G.prefix + "/cat-" + G.runid);
  const std::string seed_repo = base + "/seed";
  // Tiny image shared by every repository (blobs are mounted, not re-uploaded).
  Image im = make_image(G.seed, 0, 64);
  auto setup1 = run_phase(1, 0, 1, 0, [&](Worker& w, long) -> awaitable<bool> {
    co_return co_await push_image(w, seed_repo, im, "latest");
  });
  auto setup2 = run_phase(static_cast<int>(o.num("setup-c", 16)), o.num("setup-timeout", 240), nrepos, 0,
                          [&](Worker& w, long i) -> awaitable<bool> {
                            const std::string repo = base + "/r" + pad(i, 5);
                            BodyRef cfg = BodyRef::of(im.config), layer = BodyRef::of(im.layer);
                            if (!co_await mount_or_push(w, repo, seed_repo, cfg, im.config_digest)) co_return false;
                            if (!co_await mount_or_push(w, repo, seed_repo, layer, im.layer_digest)) co_return false;
                            co_return co_await put_manifest(w, repo, "latest", im.manifest);
                          });
  const std::string first = "/v2/_catalog?n=" + std::to_string(page);
  auto pr = run_phase(static_cast<int>(o.num("c", 2)), o.num("duration", 10), static_cast<long>(o.num("walks", 1e6)),
                      o.num("warmup", 0), [&](Worker& w, long) -> awaitable<bool> {
                        std::string url = first;
                        for (int p = 0; p < 100000; ++p) {
                          auto r = co_await call(w, "GET", url);
                          if (!r) co_return false;
                          w.op_units++;
                          w.op_bytes += r->body_bytes;
                          try {
                            auto jj = nlohmann::json::parse(r->body);
                            if (jj.contains("repositories") && jj["repositories"].is_array())
                              w.op_units2 += jj["repositories"].size();
                          } catch (const std::exception& e) {
                            count_error(w, "_catalog: bad JSON: " + std::string(e.what()));
                            co_return false;
                          }
                          auto next = next_link(r->all("Link"));
                          if (!next) break;
                          url = resolve_location(*next, url);
                        }
                        if (w.op_units2 < static_cast<uint64_t>(nrepos)) {
                          count_error(w, "_catalog walk saw " + std::to_string(w.op_units2) + " repositories, want >= " +
                                             std::to_string(nrepos));
                          co_return false;
                        }
                        co_return true;
                      });
  json j = report("catalog-walk", pr);
  j["walks_per_s"] = j["ops_per_s"];
  j["pages_per_s"] = r3(static_cast<double>(pr.st.units) / pr.elapsed);
  j["repos_per_walk"] = pr.st.ops ? pr.st.units2 / pr.st.ops : 0;
  j["repos_created"] = setup2.st.ops;
  j["setup_repos_per_s"] = r3(static_cast<double>(setup2.st.ops) / setup2.elapsed);
  uint64_t dummy = 0;
  add_setup(j, setup1, dummy);
  add_setup(j, setup2, dummy);
  return emit(j);
}

// The mixed pull/push load a registry sees in production, as measured from outside (issue 8,
// item 14): a pull is a manifest GET by tag plus a GET of its 16 KiB layer whose sha256 the
// client checks; a push is a new 16 KiB layer (POST + PUT) plus a manifest under a new tag
// (the config blob is shared, pushed once in setup). Every push adds a blob, a manifest and a
// tag, so the repository grows. Setup content is derived from --setup-seed (not the run's
// seed), so rounds against the same --repo pull the same images and re-pushing them stores
// nothing new; pushed tags carry the run id, so rounds never overwrite each other's tags.
int scen_mixed(const Opts& o) {
  const std::string repo = repo_name(o, "mixed");
  const size_t layer = o.size("layer", 16 * KiB);
  const int pull_pct = static_cast<int>(o.num("pull-pct", 80));
  std::vector<Image> imgs;
  auto setup = setup_images(repo, std::max(1, static_cast<int>(o.num("images", 16))), layer,
                            static_cast<uint64_t>(o.num("setup-seed", 1)), imgs);
  const Image& base = imgs.at(0);
  const Headers accept{{"Accept", kOciManifest}};
  std::atomic<uint64_t> mismatches{0};
  auto pr = run_phase(
      static_cast<int>(o.num("c", 16)), o.num("duration", 5), static_cast<long>(o.num("count", 1e9)),
      o.num("warmup", 1), [&](Worker& w, long i) -> awaitable<bool> {
        if (static_cast<int>(w.rng() % 100) < pull_pct) {
          w.kind = "pull";
          const size_t k = static_cast<size_t>(w.rng() % imgs.size());
          const Image& im = imgs[k];
          auto m = co_await call(w, "GET", "/v2/" + repo + "/manifests/t" + std::to_string(k), accept);
          if (!m) co_return false;
          if (m->body != im.manifest) {
            mismatches++;
            count_error(w, "mixed: manifest body mismatch");
            co_return false;
          }
          auto b = co_await call(w, "GET", "/v2/" + repo + "/blobs/" + im.layer_digest, {}, nullptr, Sink::Hash);
          if (!b) co_return false;
          if (b->body_bytes != im.layer.size() || b->body_digest != im.layer_digest) {
            mismatches++;
            count_error(w, "mixed: layer " + im.layer_digest + " came back as " + b->body_digest);
            co_return false;
          }
          w.op_bytes = m->body_bytes + b->body_bytes;
          co_return true;
        }
        w.kind = "push";
        Image im = make_image(G.seed, 1000000000ULL + static_cast<uint64_t>(i), layer);
        im.manifest = manifest_json(base.config_digest, base.config.size(), im.layer_digest, layer);
        w.op_bytes = im.layer.size() + im.manifest.size();
        if (!co_await push_blob(w, repo, BodyRef::of(im.layer), im.layer_digest)) co_return false;
        co_return co_await put_manifest(w, repo, "m-" + G.runid + "-" + std::to_string(i), im.manifest);
      });
  json j = report("mixed", pr);
  j["mismatches"] = mismatches.load();
  uint64_t dummy = 0;
  add_setup(j, setup, dummy);
  return emit(j);
}

}  // namespace loadgen
