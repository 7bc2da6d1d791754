#!/usr/bin/env bash
# Side-by-side benchmark: Dermaga vs CNCF Distribution (bench/README.md).
#   bench/run.sh LOADGEN DERMAGA
# Starts both registries on free 127.0.0.1 ports with fresh temp storage,
# runs every scenario against both (dermaga first, then distribution, same
# parameters), samples server RSS, stops both by PID and prints a Markdown
# table (also written to $BENCH_OUT when set).
#
# Environment:
#   BENCH_QUICK=1        smoke-test sizes/durations (~1-2 min)
#   BENCH_DURATION=5     seconds per timed scenario (catalog-walk: 2x)
#   BENCH_ROUNDS=3       interleaved rounds of small-image-push, manifest-get, tag-list, mixed
#   BENCH_LARGE=256M BENCH_HUGE=2G BENCH_CHUNKED=256M BENCH_REPOS=5000 BENCH_TAGS=500
#   BENCH_SCENARIOS="blob-push-huge manifest-get ..."   subset (default: all; `tls` is the HTTPS
#                        runs of blob-push-large, blob-pull-large and manifest-get)
#   BENCH_OUT=FILE       also write the table there
#   BENCH_KEEP=1         keep the temp dir (logs, raw JSON)
#   DISTRIBUTION=docker-registry   Distribution binary
#   BENCH_S3=DIR         both registries keep blobs in the S3 of the RGW that
#                        `tests/servers/rgw.sh start DIR` started (each under its own
#                        prefix of one bucket; Distribution with its s3 driver, v4auth)
set -uo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: $0 LOADGEN DERMAGA"
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOADGEN=$(readlink -f "$1") || die "no such loadgen: $1"
[[ -x $LOADGEN ]] || die "loadgen not executable: $1"
if [[ $2 == */* ]]; then DERMAGA=$(readlink -f "$2"); else DERMAGA=$(command -v "$2" || true); fi
[[ -n $DERMAGA && -x $DERMAGA ]] || die "dermaga binary not executable: $2"
# Distribution runs without authentication here, so Dermaga does too: same work on both sides.
export DERMAGA_AUTH_ENABLED=false
command -v "${DISTRIBUTION:-docker-registry}" >/dev/null || die "Distribution (${DISTRIBUTION:-docker-registry}) not found"

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
  DUR=${BENCH_DURATION:-2} WARM=0.5 LARGE=${BENCH_LARGE:-32M} HUGE=${BENCH_HUGE:-256M}
  CHUNKED=${BENCH_CHUNKED:-32M} REPOS=${BENCH_REPOS:-300} TAGS=${BENCH_TAGS:-100}
else
  DUR=${BENCH_DURATION:-5} WARM=1 LARGE=${BENCH_LARGE:-256M} HUGE=${BENCH_HUGE:-2G}
  CHUNKED=${BENCH_CHUNKED:-256M} REPOS=${BENCH_REPOS:-5000} TAGS=${BENCH_TAGS:-500}
fi
CAT_DUR=$(awk -v d="$DUR" 'BEGIN{print 2*d}')
SCENARIOS=${BENCH_SCENARIOS:-"blob-push-huge blob-push-large blob-pull-large chunked-push small-image-push manifest-get tag-list mixed catalog-walk auth tls metrics restart"}
ROUNDS=${BENCH_ROUNDS:-3}   # interleaved rounds of the short timed scenarios (median kept)
LG_MAX=240   # hard cap (s) per loadgen invocation
SIDES=(dermaga distribution)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dermaga-bench.XXXXXX") || die "mktemp failed"
declare -A PID PORT LGFLAGS   # LGFLAGS: extra loadgen options of a side (--tls)
T_START=$(date +%s)

stop_server() {
  local side=$1 pid=${PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  PID[$side]=""
}
cleanup() {
  for s in "${!PID[@]}"; do stop_server "$s"; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "run.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "[bench $(($(date +%s) - T_START))s] $*" >&2; }

start_server() {  # side cmd...
  local side=$1; shift
  local port; port=$("$LOADGEN" free-port) || die "free-port failed"
  mkdir -p "$WORK/$side-data"
  "$@" serve --addr "127.0.0.1:$port" --data "$WORK/$side-data" >"$WORK/$side.log" 2>&1 &
  PID[$side]=$! PORT[$side]=$port
  if ! "$LOADGEN" wait --target "127.0.0.1:$port" ${LGFLAGS[$side]:-} --path /healthz,/v2/ --timeout 30 --pid "${PID[$side]}"; then
    tail -n 20 "$WORK/$side.log" >&2
    die "$side did not become ready"
  fi
  log "$side: pid ${PID[$side]} on 127.0.0.1:$port"
}

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }  # pid VmRSS|VmHWM
mib() { awk -v k="${1:-}" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }

# run_lg SIDE NAME LOADGEN-ARGS...: result JSON in $WORK/res.NAME.SIDE
run_lg() {
  local side=$1 name=$2; shift 2
  local out="$WORK/res.$name.$side"
  # Start every run with no dirty pages: otherwise the side that runs second in a write
  # scenario competes with the kernel flushing the first side's data.
  sync
  timeout $((LG_MAX + 30)) "$LOADGEN" "$@" --target "127.0.0.1:${PORT[$side]}" ${LGFLAGS[$side]:-} --max-time "$LG_MAX" \
    >"$out.raw" 2>>"$WORK/loadgen.$side.log"
  grep '^{' "$out.raw" | tail -n 1 >"$out"
  [[ -s $out ]] || echo '{"errors":1,"failed":true}' >"$out"
  if ! kill -0 "${PID[$side]}" 2>/dev/null; then
    log "$side died during $name; restarting"; tail -n 20 "$WORK/$side.log" >&2
    start_server "$side" "${CMD[$side]}"
  fi
}

jget() {  # file key -> value of a flat top-level JSON key
  sed -n 's/.*"'"$2"'":"\{0,1\}\([^,"}]*\).*/\1/p' "$1" 2>/dev/null | head -n 1
}

pair() {  # NAME LOADGEN-ARGS...   (runs dermaga, then distribution)
  local name=$1; shift
  for side in "${SIDES[@]}"; do run_lg "$side" "$name" "$@"; done
  log "$name: dermaga $(summary "$name" dermaga) | distribution $(summary "$name" distribution)"
}
# Like pair, for the short timed scenarios: ROUNDS rounds with the order of the sides
# alternating (A B, B A, A B, ...), and per side the round with the median ops/s kept. A slow
# drift of the shared host (disk flush latency, other guests) then hits both sides alike
# instead of whichever ran second.
rounds_pair() {  # NAME LOADGEN-ARGS...
  local name=$1; shift
  local r side order f v
  for ((r = 1; r <= ROUNDS; r++)); do
    order=("${SIDES[@]}")
    ((r % 2 == 0)) && order=("${SIDES[1]}" "${SIDES[0]}")
    for side in "${order[@]}"; do
      [[ -n ${FRESH[$side]:-} ]] && restart_fresh "$side"
      run_lg "$side" "$name.r$r" "$@"
    done
    log "$name round $r: ${SIDES[0]} $(summary "$name.r$r" "${SIDES[0]}") | ${SIDES[1]} $(summary "$name.r$r" "${SIDES[1]}")"
  done
  for side in "${SIDES[@]}"; do
    f=$(for ((r = 1; r <= ROUNDS; r++)); do
      v=$(jget "$WORK/res.$name.r$r.$side" ops_per_s)
      echo "${v:-0} $WORK/res.$name.r$r.$side"
    done | sort -g | awk -v m=$(((ROUNDS + 1) / 2)) 'NR == m { print $2 }')
    cp "$f" "$WORK/res.$name.$side"
  done
  log "$name (median of $ROUNDS): ${SIDES[0]} $(summary "$name" "${SIDES[0]}") | ${SIDES[1]} $(summary "$name" "${SIDES[1]}")"
}
# A side listed in FRESH starts each round of rounds_pair on new, empty storage.
declare -A FRESH
restart_fresh() {  # side
  stop_server "$1"
  rm -rf "${WORK:?}/$1-data"
  # On S3 (BENCH_S3), a new root directory in the bucket for each start.
  BENCH_S3_ROOT=${BENCH_S3_ROOT:+$BENCH_S3_ROOT-$1-$(date +%s%N)} start_server "$1" "${CMD[$1]}"
}
summary() {
  local f="$WORK/res.$1.$2"
  echo "$(jget "$f" ops_per_s) ops/s $(jget "$f" mb_per_s) MB/s p99 $(jget "$f" p99_ms) ms errors $(jget "$f" errors)"
}

# Like for like: Distribution runs with its access log disabled and errors-only logging.
export DERMAGA_LOG_ACCESS=false DERMAGA_LOG_LEVEL=warn
if [[ -n ${BENCH_S3:-} ]]; then
  [[ -f $BENCH_S3/env ]] || die "BENCH_S3=$BENCH_S3: no RGW env there (tests/servers/rgw.sh start DIR)"
  set -a; . "$BENCH_S3/env"; set +a
  export DERMAGA_STORAGE_DRIVER=s3 DERMAGA_STORAGE_S3_ENDPOINT=$DERMAGA_TEST_S3_ENDPOINT \
    DERMAGA_STORAGE_S3_REGION=$DERMAGA_TEST_S3_REGION DERMAGA_STORAGE_S3_BUCKET=$DERMAGA_TEST_S3_BUCKET \
    DERMAGA_STORAGE_S3_ACCESS_KEY=$DERMAGA_TEST_S3_ACCESS_KEY DERMAGA_STORAGE_S3_SECRET_KEY=$DERMAGA_TEST_S3_SECRET_KEY \
    DERMAGA_STORAGE_S3_PREFIX=bench-dermaga-$T_START/ DERMAGA_STORAGE_S3_CREATE_BUCKET=true
  # Read by distribution-serve.sh; Distribution's AWS SDK must not see these.
  export BENCH_S3_ENDPOINT=$DERMAGA_TEST_S3_ENDPOINT BENCH_S3_BUCKET=$DERMAGA_TEST_S3_BUCKET \
    BENCH_S3_ACCESS_KEY=$DERMAGA_TEST_S3_ACCESS_KEY BENCH_S3_SECRET_KEY=$DERMAGA_TEST_S3_SECRET_KEY \
    BENCH_S3_ROOT=/bench-distribution-$T_START
  unset DERMAGA_TEST_S3_ENDPOINT DERMAGA_TEST_S3_REGION DERMAGA_TEST_S3_BUCKET DERMAGA_TEST_S3_ACCESS_KEY \
    DERMAGA_TEST_S3_SECRET_KEY RGW_DIR
  log "storage: S3 at $BENCH_S3_ENDPOINT (Ceph RGW)"
fi
declare -A CMD=([dermaga]="$DERMAGA" [distribution]="$BENCH_DIR/distribution-serve.sh")
for s in "${SIDES[@]}"; do start_server "$s" "${CMD[$s]}"; done
sleep 2
declare -A IDLE_RSS HUGE_HWM HUGE_PEAK FINAL_RSS
for s in "${SIDES[@]}"; do IDLE_RSS[$s]=$(status_kib "${PID[$s]}" VmRSS); done
log "idle RSS: dermaga $(mib "${IDLE_RSS[dermaga]}") MiB, distribution $(mib "${IDLE_RSS[distribution]}") MiB"

huge() {  # blob-push-huge with RSS sampling; VmHWM reset via clear_refs first
  for side in "${SIDES[@]}"; do
    local pid=${PID[$side]} stop="$WORK/sampler.$side.stop"
    { echo 5 >"/proc/$pid/clear_refs"; } 2>/dev/null || log "cannot reset VmHWM of $side (using sampled peak)"
    (
      max=0
      for ((i = 0; i < 6000; i++)); do
        [[ -e $stop ]] && break
        r=$(status_kib "$pid" VmRSS); r=${r:-0}
        if ((r > max)); then max=$r; fi
        sleep 0.05
      done
      echo "$max" >"$WORK/sampler.$side.max"
    ) &
    local spid=$!
    run_lg "$side" blob-push-huge blob-push-huge --size "$HUGE" --blobs 1
    touch "$stop"; wait "$spid"
    HUGE_HWM[$side]=$(status_kib "$pid" VmHWM)
    HUGE_PEAK[$side]=$(cat "$WORK/sampler.$side.max" 2>/dev/null)
  done
  log "blob-push-huge: dermaga $(summary blob-push-huge dermaga) | distribution $(summary blob-push-huge distribution)"
}

# What access control costs Dermaga (Distribution has no built-in token server, so the pairs
# above run without authentication on both sides): manifest GET with a bearer token from
# /token, and with HTTP Basic, on a second Dermaga with access control on.
auth_cost() {
  local pw=bench-Admin-pw-1 repo=admin/bench-auth token
  DERMAGA_AUTH_ENABLED=true DERMAGA_BOOTSTRAP_ADMIN_PASSWORD=$pw start_server dermaga-auth "$DERMAGA"
  token=$(curl -s -u "admin:$pw" "http://127.0.0.1:${PORT[dermaga-auth]}/token?service=dermaga&scope=repository:$repo:pull,push" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  [[ -n $token ]] || die "no token from the access-controlled dermaga"
  run_lg dermaga-auth manifest-get-bearer manifest-get -c 16 --duration "$DUR" --warmup "$WARM" --repo "$repo" \
    --authorization "Bearer $token"
  run_lg dermaga-auth manifest-get-basic manifest-get -c 16 --duration "$DUR" --warmup "$WARM" --repo "$repo" \
    --authorization "Basic $(printf '%s' "admin:$pw" | base64 -w0)"
  stop_server dermaga-auth
  log "auth: bearer $(summary manifest-get-bearer dermaga-auth) | basic $(summary manifest-get-basic dermaga-auth)"
}

# Crash restart: kill -9 each registry holding everything the run stored so far, start it on
# the same data directory and port, and time exec → first 200 from GET /v2/ (polled every
# 5 ms with bash's /dev/tcp, no fork per poll). tests/e2e/test_crash.sh checks that the
# restart is correct; how fast it is lives here.
declare -A RESTART_MS
now_ms() { local t=$EPOCHREALTIME; echo $((10#${t/./} / 1000)); }
answers_v2() {  # port
  local line
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3 || { exec 3<&-; return 1; }
  IFS= read -r -t 2 line <&3 || true
  exec 3<&-
  [[ $line == "HTTP/1.1 200"* ]]
}
restart_after_kill() {
  local side port t0 i
  for side in "${SIDES[@]}"; do
    port=${PORT[$side]}
    kill -9 "${PID[$side]}" 2>/dev/null; wait "${PID[$side]}" 2>/dev/null
    t0=$(now_ms)
    "${CMD[$side]}" serve --addr "127.0.0.1:$port" --data "$WORK/$side-data" >>"$WORK/$side.log" 2>&1 &
    PID[$side]=$!
    for ((i = 0; i < 12000; i++)); do
      if answers_v2 "$port"; then RESTART_MS[$side]=$(($(now_ms) - t0)); break; fi
      kill -0 "${PID[$side]}" 2>/dev/null || break
      sleep 0.005
    done
    [[ -n ${RESTART_MS[$side]:-} ]] || { tail -n 20 "$WORK/$side.log" >&2; die "$side did not come back after kill -9"; }
  done
  log "restart after kill -9: dermaga ${RESTART_MS[dermaga]} ms | distribution ${RESTART_MS[distribution]} ms"
}

# HTTPS on both sides with the same P-256 certificate (the client negotiates TLS 1.3 with
# TLS_AES_128_GCM_SHA256 on both): large push, large pull, manifest GET. For the pulls, the
# server's CPU seconds (user + system, from /proc/PID/stat) per GB sent is recorded too.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
declare -A TLS_CPU
tls_runs() {
  local cert=$WORK/tls.crt key=$WORK/tls.key side c0 c1 b
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$key" -out "$cert" 2>/dev/null || die "openssl req failed"
  printf '#!/bin/sh\nDERMAGA_HTTP_TLS_CERT=%s DERMAGA_HTTP_TLS_KEY=%s exec %s "$@"\n' "$cert" "$key" "$DERMAGA" \
    >"$WORK/dermaga-tls"
  printf '#!/bin/sh\nBENCH_TLS_CERT=%s BENCH_TLS_KEY=%s exec %s "$@"\n' "$cert" "$key" "$BENCH_DIR/distribution-serve.sh" \
    >"$WORK/distribution-tls"
  chmod +x "$WORK/dermaga-tls" "$WORK/distribution-tls"
  local plain=("${SIDES[@]}")
  SIDES=(dermaga-tls distribution-tls)
  for side in "${SIDES[@]}"; do
    LGFLAGS[$side]=--tls CMD[$side]=$WORK/$side
    start_server "$side" "${CMD[$side]}"
  done
  for side in "${SIDES[@]}"; do
    run_lg "$side" tls-blob-push-large blob-push-large --size "$LARGE" --blobs 4 --state "$WORK/tls-large.$side.json"
  done
  log "tls-blob-push-large: dermaga $(summary tls-blob-push-large dermaga-tls) | distribution $(summary tls-blob-push-large distribution-tls)"
  for side in "${SIDES[@]}"; do
    c0=$(cpu_ticks "${PID[$side]}")
    run_lg "$side" tls-blob-pull-large blob-pull-large --no-verify --rounds 2 --size "$LARGE" --blobs 4 \
      --state "$WORK/tls-large.$side.json"
    c1=$(cpu_ticks "${PID[$side]}")
    b=$(jget "$WORK/res.tls-blob-pull-large.$side" bytes)
    TLS_CPU[$side]=$(awk -v c=$((c1 - c0)) -v b="${b:-0}" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { if (b > 0) printf "%.2f", c / hz / (b / 1e9); else print "" }')
  done
  log "tls-blob-pull-large: dermaga $(summary tls-blob-pull-large dermaga-tls), ${TLS_CPU[dermaga-tls]} CPU s/GB |" \
    "distribution $(summary tls-blob-pull-large distribution-tls), ${TLS_CPU[distribution-tls]} CPU s/GB"
  rounds_pair tls-manifest-get manifest-get -c 16 --duration "$DUR" --warmup "$WARM"
  for side in "${SIDES[@]}"; do stop_server "$side"; done
  SIDES=("${plain[@]}")
}

# Mixed pull/push as measured from outside (issue 8, item 14): the main Dermaga, which holds
# everything the run stored so far, keeps running and its bench/mixed repository grows across
# the rounds (each round pushes new blobs, manifests and tags into it); Distribution starts
# each round on fresh, empty storage.
mixed_rounds() {
  CMD[distribution-mixed]=$BENCH_DIR/distribution-serve.sh FRESH[distribution-mixed]=1
  local SIDES=(dermaga distribution-mixed) r
  rounds_pair mixed mixed -c 16 --duration "$DUR" --warmup "$WARM" --repo bench/mixed
  stop_server distribution-mixed
  for r in "$WORK"/res.mixed*.distribution-mixed; do cp "$r" "${r%-mixed}"; done
}

# What metrics cost (issue 12: within noise): manifest GET on the main Dermaga (metrics on, the
# default) against a second one with metrics.enabled=false, interleaved rounds, medians kept.
# Meanwhile /metrics of the first is scraped every second, far more often than Prometheus would.
metrics_cost() {
  DERMAGA_METRICS_ENABLED=false start_server dermaga-nometrics "$DERMAGA"
  (while :; do curl -s -o /dev/null "http://127.0.0.1:${PORT[dermaga]}/metrics"; sleep 1; done) &
  local scraper=$!
  local SIDES=(dermaga dermaga-nometrics)
  rounds_pair manifest-get-metrics manifest-get -c 16 --duration "$DUR" --warmup "$WARM"
  kill "$scraper" 2>/dev/null; wait "$scraper" 2>/dev/null
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORT[dermaga-nometrics]}/metrics") == 404 ]] ||
    log "dermaga-nometrics serves /metrics: the comparison is not metrics on vs off"
  stop_server dermaga-nometrics
}

for sc in $SCENARIOS; do
  case $sc in
    blob-push-huge) huge ;;
    blob-push-large)
      for side in "${SIDES[@]}"; do
        run_lg "$side" blob-push-large blob-push-large --size "$LARGE" --blobs 4 --state "$WORK/large.$side.json"
      done
      log "blob-push-large: dermaga $(summary blob-push-large dermaga) | distribution $(summary blob-push-large distribution)" ;;
    blob-pull-large)
      for v in verify no-verify; do
        for side in "${SIDES[@]}"; do
          run_lg "$side" "blob-pull-large-$v" blob-pull-large --$v --rounds 2 --size "$LARGE" --blobs 4 \
            --state "$WORK/large.$side.json"
        done
        log "blob-pull-large-$v: dermaga $(summary "blob-pull-large-$v" dermaga) | distribution $(summary "blob-pull-large-$v" distribution)"
      done ;;
    chunked-push) pair chunked-push chunked-push --size "$CHUNKED" --chunk 5M ;;
    small-image-push) rounds_pair small-image-push small-image-push -c 8 --duration "$DUR" --warmup "$WARM" ;;
    manifest-get) rounds_pair manifest-get manifest-get -c 16 --duration "$DUR" --warmup "$WARM" ;;
    tag-list) rounds_pair tag-list tag-list -c 16 --tags "$TAGS" --duration "$DUR" --warmup "$WARM" ;;
    mixed) mixed_rounds ;;
    auth) auth_cost ;;
    restart) DO_RESTART=1 ;;  # last, after the final RSS sample: see below
    tls) tls_runs ;;
    metrics) metrics_cost ;;
    catalog-walk) pair catalog-walk catalog-walk -c 2 --repos "$REPOS" --page 100 --duration "$CAT_DUR" --setup-timeout 150 ;;
    *) die "unknown scenario $sc" ;;
  esac
done
for s in "${SIDES[@]}"; do FINAL_RSS[$s]=$(status_kib "${PID[$s]}" VmRSS); done
if [[ ${DO_RESTART:-0} == 1 ]]; then restart_after_kill; fi
for s in "${SIDES[@]}"; do stop_server "$s"; done

# ------------------------------------------------------------------ table
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
cell() {  # name side key -> value, flagged with error count
  local f="$WORK/res.$1.$2" v e
  [[ -s $f ]] || { echo "n/a"; return; }
  v=$(jget "$f" "$3"); e=$(( $(jget "$f" errors || echo 0) + 0 + $(jget "$f" setup_errors || echo 0) + 0 ))
  [[ -n $v ]] || v="n/a"
  if ((e > 0)); then echo "$v ($e err)"; else echo "$v"; fi
}
row() {  # label name key
  local d r
  [[ -e "$WORK/res.$2.dermaga" ]] || return 0
  d=$(cell "$2" dermaga "$3"); r=$(cell "$2" distribution "$3")
  echo "| $1 | $d | $r | $(ratio "${d%% *}" "${r%% *}") |"
}
tls_row() {  # label name key, for the HTTPS sides
  local d r
  [[ -e "$WORK/res.$2.dermaga-tls" ]] || return 0
  d=$(cell "$2" dermaga-tls "$3"); r=$(cell "$2" distribution-tls "$3")
  echo "| $1 | $d | $r | $(ratio "${d%% *}" "${r%% *}") |"
}
memrow() {
  local dv rv
  dv=$(mib "$2"); rv=$(mib "$3")
  echo "| $1 | $dv | $rv | $(ratio "$dv" "$rv") |"
}

TABLE=$(
  echo "## Dermaga vs CNCF Distribution ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "Host: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo). Distribution: $("${DISTRIBUTION:-docker-registry}" --version 2>/dev/null | awk '{print $NF}')." \
    "Timed scenarios ${DUR}s (catalog ${CAT_DUR}s), small-image-push, manifest-get, tag-list and mixed as the median of $ROUNDS interleaved rounds; large blobs 4x$LARGE, huge $HUGE, chunked $CHUNKED in 5M chunks, $TAGS tags, $REPOS repos."
  echo "ratio = dermaga / distribution: above 1 is better for throughput rows, below 1 is better for latency and memory rows."
  echo
  echo "| scenario | dermaga | distribution | ratio |"
  echo "|---|---:|---:|---:|"
  row "blob-push-huge 1x$HUGE (MB/s)" blob-push-huge mb_per_s
  row "blob-push-large 4x$LARGE (MB/s)" blob-push-large mb_per_s
  row "blob-pull-large, client sha256 verify (MB/s)" blob-pull-large-verify mb_per_s
  row "blob-pull-large, no verify (MB/s)" blob-pull-large-no-verify mb_per_s
  row "chunked-push $CHUNKED / 5M PATCH (MB/s)" chunked-push mb_per_s
  row "small-image-push c=8 (images/s)" small-image-push ops_per_s
  row "manifest-get c=16 (req/s)" manifest-get ops_per_s
  row "manifest-get p50 latency (ms)" manifest-get p50_ms
  row "manifest-get p99 latency (ms)" manifest-get p99_ms
  row "tag-list $TAGS tags c=16 (req/s)" tag-list ops_per_s
  row "mixed 80% pull / 20% push c=16 (ops/s)" mixed ops_per_s
  row "mixed p99 latency (ms)" mixed p99_ms
  row "catalog-walk $REPOS repos, n=100 (walks/s)" catalog-walk walks_per_s
  row "catalog-walk (pages/s)" catalog-walk pages_per_s
  row "catalog setup, untimed (repos/s)" catalog-walk setup_repos_per_s
  if [[ -n ${RESTART_MS[dermaga]:-} ]]; then
    echo "| restart after kill -9 with the run's data, exec to GET /v2/ 200 (ms) | ${RESTART_MS[dermaga]} | ${RESTART_MS[distribution]} | $(ratio "${RESTART_MS[dermaga]}" "${RESTART_MS[distribution]}") |"
  fi
  tls_row "TLS blob-push-large 4x$LARGE (MB/s)" tls-blob-push-large mb_per_s
  tls_row "TLS blob-pull-large, no verify (MB/s)" tls-blob-pull-large mb_per_s
  if [[ -n ${TLS_CPU[dermaga-tls]:-} ]]; then
    echo "| TLS blob-pull-large, server CPU s per GB sent | ${TLS_CPU[dermaga-tls]} | ${TLS_CPU[distribution-tls]:-n/a} | $(ratio "${TLS_CPU[dermaga-tls]}" "${TLS_CPU[distribution-tls]:-}") |"
  fi
  tls_row "TLS manifest-get c=16 (req/s)" tls-manifest-get ops_per_s
  tls_row "TLS manifest-get p99 latency (ms)" tls-manifest-get p99_ms
  memrow "idle RSS after start (MiB)" "${IDLE_RSS[dermaga]:-}" "${IDLE_RSS[distribution]:-}"
  if [[ -n ${HUGE_PEAK[dermaga]:-} ]]; then
    memrow "peak RSS pushing $HUGE, sampled VmRSS (MiB)" "${HUGE_PEAK[dermaga]:-}" "${HUGE_PEAK[distribution]:-}"
    memrow "VmHWM after $HUGE push (MiB)" "${HUGE_HWM[dermaga]:-}" "${HUGE_HWM[distribution]:-}"
  fi
  memrow "RSS at end of run (MiB)" "${FINAL_RSS[dermaga]:-}" "${FINAL_RSS[distribution]:-}"
  if [[ -e "$WORK/res.manifest-get-bearer.dermaga-auth" ]]; then
    echo
    echo "Access control (Dermaga only; the rows above run without it on both sides), manifest-get c=16:"
    echo
    echo "| credentials | req/s | p99 (ms) |"
    echo "|---|---:|---:|"
    if [[ -e "$WORK/res.manifest-get.dermaga" ]]; then
      echo "| none | $(cell manifest-get dermaga ops_per_s) | $(cell manifest-get dermaga p99_ms) |"
    fi
    echo "| bearer token | $(cell manifest-get-bearer dermaga-auth ops_per_s) | $(cell manifest-get-bearer dermaga-auth p99_ms) |"
    echo "| HTTP Basic | $(cell manifest-get-basic dermaga-auth ops_per_s) | $(cell manifest-get-basic dermaga-auth p99_ms) |"
  fi
  if [[ -e "$WORK/res.manifest-get-metrics.dermaga-nometrics" ]]; then
    echo
    echo "Metrics (Dermaga only): manifest-get c=16, median of $ROUNDS interleaved rounds; /metrics scraped every second while on:"
    echo
    echo "| metrics | req/s | p99 (ms) |"
    echo "|---|---:|---:|"
    echo "| on (default) | $(cell manifest-get-metrics dermaga ops_per_s) | $(cell manifest-get-metrics dermaga p99_ms) |"
    echo "| off (metrics.enabled: false) | $(cell manifest-get-metrics dermaga-nometrics ops_per_s) | $(cell manifest-get-metrics dermaga-nometrics p99_ms) |"
    on=$(cell manifest-get-metrics dermaga ops_per_s); off=$(cell manifest-get-metrics dermaga-nometrics ops_per_s)
    echo "| on / off | $(ratio "${on%% *}" "${off%% *}") | |"
  fi
  echo
  echo "Total runtime: $(($(date +%s) - T_START)) s. A cell marked (N err) had N failed requests (non-2xx or transport)."
)
echo "$TABLE"
if [[ -n ${BENCH_OUT:-} ]]; then echo "$TABLE" >"$BENCH_OUT"; fi
errs=$(cat "$WORK"/res.* 2>/dev/null | sed -n 's/.*"errors":\([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
if [[ ${errs:-0} -gt 0 ]]; then log "$errs failed requests in total; see $WORK/loadgen.*.log (BENCH_KEEP=1 keeps it)"; fi
exit 0
