// dermaga-loadgen: load generator for the Dermaga vs CNCF Distribution
// side-by-side benchmark (see bench/README.md).
//
// One subcommand per scenario; each prints exactly one flat JSON line on
// stdout (ops/s, MB/s with MB = 10^6 bytes, p50/p99 latency in ms, errors).
// Keep-alive HTTP/1.1 over Boost.Beast with C++20 coroutines; every non-2xx
// response and every transport error is counted in "errors".
//
//   dermaga-loadgen SCENARIO --target 127.0.0.1:5000 [options]
//   dermaga-loadgen free-port
//   dermaga-loadgen wait --target HOST:PORT --path /healthz,/v2/ [--timeout S] [--pid PID]

#include "harness.hpp"
#include "scenarios.hpp"

namespace loadgen {
namespace {

int cmd_free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::cout << a.local_endpoint().port() << std::endl;
  return 0;
}

// Polls the comma-separated paths until one answers 2xx.
int cmd_wait(const Opts& o) {
  std::vector<std::string> paths;
  std::stringstream ss(o.str("path", "/v2/"));
  for (std::string p; std::getline(ss, p, ',');)
    if (!p.empty()) paths.push_back(p);
  const double timeout = o.num("timeout", 30);
  const long pid = static_cast<long>(o.num("pid", 0));
  G.io_timeout = std::chrono::milliseconds(2000);
  auto t0 = Clock::now();
  for (int attempt = 0; attempt < 100000 && seconds(Clock::now() - t0) < timeout; ++attempt) {
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) {
      std::cerr << "loadgen: wait: process " << pid << " exited\n";
      return 1;
    }
    for (const auto& p : paths) {
      asio::io_context ioc;
      unsigned status = 0;
      asio::co_spawn(
          ioc,
          [](std::string path) -> awaitable<unsigned> {
            Conn c(co_await asio::this_coro::executor);
            auto r = co_await c.request("GET", path, {}, nullptr, Sink::Discard);
            co_return r.status;
          }(p),
          [&](std::exception_ptr e, unsigned st) {
            if (!e) status = st;
          });
      ioc.run();
      if (status >= 200 && status < 300) return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::cerr << "loadgen: wait: " << G.hostport << " not ready after " << timeout << " s\n";
  return 1;
}

void usage() {
  std::cerr << R"(usage: dermaga-loadgen COMMAND [--target HOST:PORT] [options]

scenarios (each prints one JSON line):
  blob-push-large    --size 256M --blobs 4 [-c 1] [--state FILE]
  blob-push-huge     --size 2G --blobs 1 [--buffer 256M]
  blob-pull-large    [--verify] --rounds 2 [--state FILE from blob-push-large]
  chunked-push       --size 256M --chunk 5M
  small-image-push   -c 8 --duration 5 [--count N] [--layer 16K]
  manifest-get       -c 16 --duration 5 [--images 8]
  tag-list           -c 16 --duration 5 --tags 500
  catalog-walk       -c 2 --duration 10 --repos 5000 [--page 100] [--setup-c 16]
  mixed              -c 16 --duration 5 [--pull-pct 80] [--images 16] [--setup-seed 1]
utilities:
  free-port          print a free TCP port on 127.0.0.1
  wait               --path /healthz,/v2/ [--timeout 30] [--pid PID]
common: --target 127.0.0.1:5000 --tls --threads 1 --seed N --prefix bench --repo NAME
        --authorization "Basic …"|"Bearer …" (sent with every request)
        --warmup S --timeout S (per I/O op) --max-time S (hard cap, default 600)
)";
}

}  // namespace
}  // namespace loadgen

using namespace loadgen;

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    usage();
    return 2;
  }
  const std::string cmd = argv[1];
  const Opts o = parse_opts(argc - 2, argv + 2);
  if (cmd == "free-port") return cmd_free_port();

  G.authorization = o.str("authorization", "");
  if (o.has("tls")) enable_tls();
  const std::string target = o.str("target", "127.0.0.1:5000");
  auto colon = target.rfind(':');
  if (colon == std::string::npos) die("--target must be HOST:PORT");
  G.host = target.substr(0, colon);
  G.port = target.substr(colon + 1);
  G.hostport = target;
  {
    asio::io_context ioc;
    tcp::resolver res(ioc);
    beast::error_code ec;
    auto eps = res.resolve(G.host, G.port, ec);
    if (ec || eps.empty()) die("cannot resolve " + target + ": " + ec.message());
    G.ep = *eps.begin();
  }
  G.threads = std::max(1, static_cast<int>(o.num("threads", 1)));
  G.io_timeout = std::chrono::milliseconds(static_cast<long>(o.num("timeout", 120) * 1000));
  G.prefix = o.str("prefix", "bench");
  std::random_device rd;
  G.seed = o.has("seed") ? static_cast<uint64_t>(o.num("seed", 0))
                         : ((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                            static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  {
    std::ostringstream id;
    id << std::hex << (SplitMix{G.seed}.next() & 0xffffff);
    G.runid = id.str();
  }
  if (cmd == "wait") return cmd_wait(o);

  const double max_time = o.num("max-time", 600);
  std::thread([max_time, cmd] {
    std::this_thread::sleep_for(std::chrono::duration<double>(max_time));
    std::cerr << "loadgen: " << cmd << ": --max-time " << max_time << " s exceeded, aborting\n";
    std::cout << json{{"scenario", cmd}, {"target", G.hostport}, {"aborted", true}, {"errors", 1}}.dump()
              << std::endl;
    std::_Exit(3);
  }).detach();

  if (cmd == "blob-push-large") return scen_blob_push(o, cmd, 256 * MiB, 4);
  if (cmd == "blob-push-huge") return scen_blob_push(o, cmd, 2 * GiB, 1);
  if (cmd == "blob-pull-large") return scen_blob_pull(o);
  if (cmd == "chunked-push") return scen_chunked_push(o);
  if (cmd == "small-image-push") return scen_small_image_push(o);
  if (cmd == "manifest-get") return scen_manifest_get(o);
  if (cmd == "tag-list") return scen_tag_list(o);
  if (cmd == "catalog-walk") return scen_catalog_walk(o);
  if (cmd == "mixed") return scen_mixed(o);
  usage();
  return 2;
}
