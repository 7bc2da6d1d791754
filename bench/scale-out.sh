#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md): the scenarios of run.sh on
#   pg       one Dermaga node, metadata in PostgreSQL 15 (private, default durability)
#   sqlite   one Dermaga node, metadata in SQLite (the single-node default)
#   dist     CNCF Distribution (docker-registry)
#   ha2      two Dermaga nodes (PostgreSQL, one shared data directory) behind HAProxy
# side by side, with the ratios pg/dist, sqlite/dist, pg/sqlite and ha2/pg.
#   bench/scale-out.sh LOADGEN DERMAGA
# Every server runs on 127.0.0.1 (free ports), stopped by PID. On a 2-core machine the ha2
# column shows the overhead of a balancer and a second node, not scaling: the nodes, HAProxy,
# PostgreSQL and the load generator all share the same two cores.
#
# Environment: BENCH_QUICK=1 (small sizes), BENCH_DURATION (s, default 5), BENCH_ROUNDS (3:
# rounds of the short scenarios, sides in rotating order, median kept), BENCH_SCENARIOS
# (subset of: blob-push-large blob-pull-large chunked-push small-image-push manifest-get
# tag-list mixed), BENCH_OUT=FILE, BENCH_KEEP=1.
set -uo pipefail

die() { echo "scale-out.sh: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: $0 LOADGEN DERMAGA"
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOADGEN=$(readlink -f "$1") || die "no such loadgen: $1"
DERMAGA=$(readlink -f "$2") || die "no such dermaga: $2"
[[ -x $LOADGEN && -x $DERMAGA ]] || die "loadgen and dermaga must be executables"
command -v haproxy >/dev/null || die "haproxy not installed"
command -v "${DISTRIBUTION:-docker-registry}" >/dev/null || die "Distribution not installed"
PG_BIN=${DERMAGA_PG_BIN:-/usr/lib/postgresql/15/bin}
[[ -x $PG_BIN/initdb ]] || die "no $PG_BIN/initdb (Debian package postgresql)"
export DERMAGA_AUTH_ENABLED=false DERMAGA_LOG_ACCESS=false DERMAGA_LOG_LEVEL=warn

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
  DUR=${BENCH_DURATION:-2} WARM=0.5 LARGE=32M CHUNKED=32M TAGS=100
else
  DUR=${BENCH_DURATION:-5} WARM=1 LARGE=256M CHUNKED=256M TAGS=500
fi
ROUNDS=${BENCH_ROUNDS:-3}
SCENARIOS=${BENCH_SCENARIOS:-"blob-push-large blob-pull-large chunked-push small-image-push manifest-get tag-list mixed"}
SIDES=(pg sqlite dist ha2)
LG_MAX=240

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dermaga-scale.XXXXXX") || die "mktemp failed"
declare -A PORT
PIDS=()
PG_DATA=$WORK/pg/data
T_START=$(date +%s)
log() { echo "[scale-out $(($(date +%s) - T_START))s] $*" >&2; }

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  if [[ -s $PG_DATA/postmaster.pid ]]; then
    local pg; pg=$(head -n1 "$PG_DATA/postmaster.pid")
    kill -INT "$pg" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$pg" 2>/dev/null || break; sleep 0.1; done
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "scale-out.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL as an operator would run it (fsync and synchronous_commit on), as root through
# the postgres user.
start_pg() {
  local as=() port
  mkdir -p "$WORK/pg"
  if [[ $(id -u) == 0 ]]; then chmod o+x "$WORK"; chown postgres: "$WORK/pg"; as=(runuser -u postgres --); fi
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$WORK/pg/initdb.log" 2>&1 ||
    die "initdb failed"
  port=$("$LOADGEN" free-port)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -o "-k $PG_DATA -p $port \
    -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" start >/dev/null ||
    die "PostgreSQL did not start"
  PORT[pg_server]=$port
  for db in one two; do
    psql -XAtq -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null || die "createdb"
  done
  log "postgres on 127.0.0.1:$port"
}
dsn() { echo "host=127.0.0.1 port=${PORT[pg_server]} user=postgres dbname=$1"; }

# start NAME DATA_DIR CMD...: a server in the background; waits for /v2/.
start() {
  local name=$1 data=$2; shift 2
  local port; port=$("$LOADGEN" free-port)
  mkdir -p "$data"
  "$@" serve --addr "127.0.0.1:$port" --data "$data" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  PORT[$name]=$port
  "$LOADGEN" wait --target "127.0.0.1:$port" --path /v2/ --timeout 30 --pid "$!" ||
    { tail -n 20 "$WORK/$name.log" >&2; die "$name did not become ready"; }
}

start_pg
start pg "$WORK/pg-data" env DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="$(dsn one)" "$DERMAGA"
start sqlite "$WORK/sqlite-data" "$DERMAGA"
start dist "$WORK/dist-data" "$BENCH_DIR/distribution-serve.sh"
for n in a b; do
  start "ha2-$n" "$WORK/ha2-data" env DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="$(dsn two)" "$DERMAGA"
done
PORT[ha2]=$("$LOADGEN" free-port)
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 2000
defaults
    mode http
    timeout connect 1s
    timeout client 120s
    timeout server 120s
    option http-keep-alive
frontend registry
    bind 127.0.0.1:${PORT[ha2]}
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    default-server check inter 1s fall 2 rise 2
    server a 127.0.0.1:${PORT[ha2-a]}
    server b 127.0.0.1:${PORT[ha2-b]}
EOF
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
"$LOADGEN" wait --target "127.0.0.1:${PORT[ha2]}" --path /v2/ --timeout 30 --pid "$!" || die "haproxy did not start"
sleep 2

run_lg() {  # SIDE NAME LOADGEN-ARGS...
  local side=$1 name=$2; shift 2
  sync
  timeout $((LG_MAX + 30)) "$LOADGEN" "$@" --target "127.0.0.1:${PORT[$side]}" --max-time "$LG_MAX" \
    2>>"$WORK/loadgen.$side.log" | grep '^{' | tail -n 1 >"$WORK/res.$name.$side"
  [[ -s $WORK/res.$name.$side ]] || echo '{"errors":1,"failed":true}' >"$WORK/res.$name.$side"
}
jget() { sed -n 's/.*"'"$2"'":"\{0,1\}\([^,"}]*\).*/\1/p' "$1" 2>/dev/null | head -n 1; }
each() {  # NAME LOADGEN-ARGS...: once per side
  local name=$1 side; shift
  for side in "${SIDES[@]}"; do run_lg "$side" "$name" "$@"; done
  log "$name: $(for s in "${SIDES[@]}"; do printf '%s %s ops/s %s MB/s; ' "$s" "$(jget "$WORK/res.$name.$s" ops_per_s)" "$(jget "$WORK/res.$name.$s" mb_per_s)"; done)"
}
rounds() {  # NAME LOADGEN-ARGS...: ROUNDS rounds, side order rotating, median ops/s kept
  local name=$1 r i side f; shift
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < ${#SIDES[@]}; i++)); do
      side=${SIDES[$(((i + r - 1) % ${#SIDES[@]}))]}
      run_lg "$side" "$name.r$r" "$@"
    done
  done
  for side in "${SIDES[@]}"; do
    f=$(for ((r = 1; r <= ROUNDS; r++)); do
      echo "$(jget "$WORK/res.$name.r$r.$side" ops_per_s | sed 's/^$/0/') $WORK/res.$name.r$r.$side"
    done | sort -g | awk -v m=$(((ROUNDS + 1) / 2)) 'NR == m { print $2 }')
    cp "$f" "$WORK/res.$name.$side"
  done
  log "$name (median of $ROUNDS): $(for s in "${SIDES[@]}"; do printf '%s %s ops/s; ' "$s" "$(jget "$WORK/res.$name.$s" ops_per_s)"; done)"
}

for sc in $SCENARIOS; do
  case $sc in
    blob-push-large) for s in "${SIDES[@]}"; do run_lg "$s" blob-push-large blob-push-large --size "$LARGE" --blobs 4 --state "$WORK/large.$s.json"; done ;;
    blob-pull-large) for s in "${SIDES[@]}"; do run_lg "$s" blob-pull-large blob-pull-large --no-verify --rounds 2 --size "$LARGE" --blobs 4 --state "$WORK/large.$s.json"; done ;;
    chunked-push) each chunked-push chunked-push --size "$CHUNKED" --chunk 5M ;;
    small-image-push) rounds small-image-push small-image-push -c 8 --duration "$DUR" --warmup "$WARM" ;;
    manifest-get) rounds manifest-get manifest-get -c 16 --duration "$DUR" --warmup "$WARM" ;;
    tag-list) rounds tag-list tag-list -c 16 --tags "$TAGS" --duration "$DUR" --warmup "$WARM" ;;
    mixed) rounds mixed mixed -c 16 --duration "$DUR" --warmup "$WARM" ;;
    *) die "unknown scenario $sc" ;;
  esac
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
cell() {  # NAME KEY SIDE
  local f=$WORK/res.$1.$3 v e
  v=$(jget "$f" "$2") e=$(jget "$f" errors)
  [[ -n $e && $e != 0 ]] && v="${v:-n/a} ($e err)"
  echo "${v:-n/a}"
}
row() {  # LABEL NAME KEY
  local v=() s
  for s in "${SIDES[@]}"; do v+=("$(jget "$WORK/res.$2.$s" "$3")"); done
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" \
    "$(cell "$2" "$3" pg)" "$(cell "$2" "$3" sqlite)" "$(cell "$2" "$3" dist)" "$(cell "$2" "$3" ha2)" \
    "$(ratio "${v[0]}" "${v[2]}")" "$(ratio "${v[1]}" "${v[2]}")" "$(ratio "${v[0]}" "${v[1]}")" "$(ratio "${v[3]}" "${v[0]}")"
}
{
  echo
  echo "Scale-out: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; ha2 = two PostgreSQL nodes behind HAProxy."
  echo
  echo "| scenario | pg | sqlite | distribution | ha2 | pg/dist | sqlite/dist | pg/sqlite | ha2/pg |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for sc in $SCENARIOS; do
    case $sc in
      blob-push-large) row "blob-push-large 4x$LARGE (MB/s)" blob-push-large mb_per_s ;;
      blob-pull-large) row "blob-pull-large, no verify (MB/s)" blob-pull-large mb_per_s ;;
      chunked-push) row "chunked-push $CHUNKED / 5M PATCH (MB/s)" chunked-push mb_per_s ;;
      small-image-push) row "small-image-push c=8 (images/s)" small-image-push ops_per_s
                        row "small-image-push p99 (ms)" small-image-push p99_ms ;;
      manifest-get) row "manifest-get c=16 (req/s)" manifest-get ops_per_s
                    row "manifest-get p99 (ms)" manifest-get p99_ms ;;
      tag-list) row "tag-list $TAGS tags c=16 (req/s)" tag-list ops_per_s ;;
      mixed) row "mixed 80% pull / 20% push c=16 (ops/s)" mixed ops_per_s
             row "mixed p99 (ms)" mixed p99_ms ;;
    esac
  done
  echo
  echo "Throughput ratios > 1: the first is faster; latency ratios < 1: the first is better."
} | tee ${BENCH_OUT:+"$BENCH_OUT"}
