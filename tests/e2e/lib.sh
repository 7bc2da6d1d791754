# shellcheck shell=bash
# Shared helpers for the Dermaga end-to-end client tests. Source it, then call e2e_init "$@".
#
# Environment:
#   REGISTRY_KIND  dermaga (default) | distribution | custom
#   DERMAGA        path to the dermaga binary (REGISTRY_KIND=dermaga)
#   REGISTRY_CMD   (REGISTRY_KIND=custom) shell command run with $PORT and $DATA set,
#                  e.g. 'exec ./dermaga serve --addr 127.0.0.1:$PORT --data $DATA'
#   E2E_CACHE      fixture cache dir (default ${TMPDIR:-/tmp}/dermaga-e2e-cache)
#   E2E_TMP        where per-run work dirs go (default ${TMPDIR:-/tmp})
#   E2E_KEEP=1     keep the work dir (registry data, logs) after the run
#   E2E_RESULTS    file that receives one "PASS|FAIL<TAB>name" line per step (set by run.sh)
#   E2E_META       sqlite (default) | postgres: where every dermaga the tests start keeps its
#                  metadata (see e2e_use_postgres)
#
# Everything runs inside a private mount namespace (`unshare -m --propagation private`) with
# overlays over /var and /run, so skopeo/podman/buildah caches
# (/var/lib/containers/cache, /var/cache/containers, /var/tmp, /run/containers …) never touch
# the machine. Podman/buildah use private vfs storage; credentials are isolated via
# DOCKER_CONFIG / REGISTRY_AUTH_FILE / HOME pointing at empty temp dirs.

set -euo pipefail
shopt -s inherit_errexit

# The client suites exercise the open registry; test_auth.sh turns access control back on.
export DERMAGA_AUTH_ENABLED=${DERMAGA_AUTH_ENABLED:-false}

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SCRIPT=$(basename "$0" .sh)

log() { printf '[%s %s] %s\n' "$(date +%T)" "$E2E_SCRIPT" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------------------
# namespace + hermetic environment
# ------------------------------------------------------------------------------------------

# Re-exec the calling script inside a private mount namespace (once), then isolate.
e2e_enter_ns() {
    if [[ ${E2E_IN_NS:-} != 1 ]]; then
        [[ $(id -u) == 0 ]] || die "must run as root (needs unshare -m and mounts)"
        export E2E_IN_NS=1
        exec unshare -m --propagation private bash "$0" "$@"
    fi
    if [[ ${E2E_ISOLATED:-} != 1 ]]; then
        local base=${E2E_TMP:-${TMPDIR:-/tmp}}
        mkdir -p "$base"
        E2E_NS_ROOT=$(mktemp -d "$base/dermaga-e2e.XXXXXX")
        export E2E_NS_ROOT
        local d
        for d in var run; do
            mkdir -p "$E2E_NS_ROOT/ovl/$d/upper" "$E2E_NS_ROOT/ovl/$d/work"
            mount -t overlay "e2e-$d" \
                -o "lowerdir=/$d,upperdir=$E2E_NS_ROOT/ovl/$d/upper,workdir=$E2E_NS_ROOT/ovl/$d/work" "/$d"
        done
        mkdir -p /var/lib/containers/cache /var/cache/containers /var/tmp
        export E2E_ISOLATED=1
        # Who removes the root: the process that created it (run.sh, or a standalone test).
        E2E_OWN_NS_ROOT=1
        if [[ ${E2E_META:-sqlite} == postgres && ${REGISTRY_KIND:-dermaga} == dermaga ]]; then
            e2e_use_postgres
        elif [[ ${E2E_META:-sqlite} != sqlite && ${E2E_META:-sqlite} != postgres ]]; then
            die "E2E_META must be sqlite or postgres, not $E2E_META"
        fi
    fi
}

e2e_cleanup_ns_root() {
    [[ ${E2E_OWN_NS_ROOT:-} == 1 ]] || return 0
    pg_stop
    if [[ ${E2E_KEEP:-} == 1 ]]; then
        log "keeping work dir $E2E_NS_ROOT"
        return 0
    fi
    umount -l /run 2>/dev/null || true
    umount -l /var 2>/dev/null || true
    rm -rf "$E2E_NS_ROOT" 2>/dev/null || true
}

# ------------------------------------------------------------------------------------------
# PostgreSQL 15 (Debian's postgresql) for the metadata
# ------------------------------------------------------------------------------------------

PG_BIN=${DERMAGA_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_PID=                   # set only in the shell that started the server: only it stops it
PG_PORT=${PG_PORT:-}      # inherited from run.sh under E2E_META=postgres

# pg_start DIR: a private PostgreSQL in the new directory DIR: initdb (as the postgres user, who
# owns DIR, when run as root), pg_ctl start on a free 127.0.0.1 port with the socket inside the
# data directory. Sets PG_PORT and PG_PID. A watchdog stops it by PID when this shell dies,
# however it dies; pg_stop stops it sooner.
pg_start() {
    local dir=$1 attempt as=() up
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [[ $(id -u) == 0 ]]; then
        chown postgres: "$dir"
        as=(runuser -u postgres --)
        # The work directories are private (mktemp -d); the postgres user must pass through them.
        for up in "${E2E_NS_ROOT:-}" "${E2E_WORK:-}"; do
            [[ -n $up && $dir == "$up"/* ]] && chmod o+x "$up"
        done
    fi
    [[ -x $PG_BIN/initdb ]] || die "no $PG_BIN/initdb (Debian package postgresql)"
    "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
        --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    for attempt in 1 2 3; do
        PG_PORT=$(pick_port)
        if "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "-k $dir/data -p $PG_PORT \
            -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=300" start >"$dir/pg_ctl.log" 2>&1; then
            PG_PID=$(head -n1 "$dir/data/postmaster.pid")
            local owner=$$ pid=$PG_PID
            (
                trap '' INT TERM HUP
                while kill -0 "$owner" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 0.5; done
                kill -INT "$pid" 2>/dev/null
            ) </dev/null >/dev/null 2>&1 &
            log "postgres pid $PG_PID on 127.0.0.1:$PG_PORT ($dir)"
            return 0
        fi
    done
    tail -n 20 "$dir/server.log" >&2
    die "PostgreSQL did not start"
}

# pg_stop: fast shutdown by PID; returns once the server is gone.
pg_stop() {
    [[ -n ${PG_PID:-} ]] || return 0
    local i
    kill -INT "$PG_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PG_PID" 2>/dev/null || true
    PG_PID=
}

pg_dsn() { echo "host=127.0.0.1 port=$PG_PORT user=postgres dbname=$1"; }
# pg_sql DB SQL: runs SQL, prints rows unaligned ("|" between columns).
pg_sql() { psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -c "$2"; }

# The database a data directory's metadata lives in under E2E_META=postgres.
pg_db_of() { echo "m$(realpath -m -- "$1" | md5sum | cut -c1-16)"; }

# e2e_use_postgres: starts this run's PostgreSQL and makes $DERMAGA a wrapper around a private
# copy of the binary. The wrapper maps the data directory (--data, else the -c file, else
# $DERMAGA_STORAGE_DATA_DIR or ./data) to a database of its own, created on first use, and
# execs the binary with DERMAGA_META_DRIVER=postgres and that database's DSN: every test keeps
# its own fresh metadata, and a restart on the same data directory finds its metadata again.
e2e_use_postgres() {
    [[ -n ${DERMAGA:-} && -x ${DERMAGA:-} ]] || die "DERMAGA=${DERMAGA:-} is not an executable"
    pg_start "$E2E_NS_ROOT/pg"
    export PG_PORT
    local real=$E2E_NS_ROOT/dermaga.real
    cp "$DERMAGA" "$real"
    cat >"$E2E_NS_ROOT/dermaga" <<EOF
#!/usr/bin/env bash
# E2E_META=postgres: run dermaga with its metadata in the database of its data directory.
key= prev=
for a in "\$@"; do
    case \$prev in --data) key=\$a ;; -c | --config) [[ -n \$key ]] || key=\$a ;; esac
    case \$a in --data=*) key=\${a#--data=} ;; esac
    prev=\$a
done
db=m\$(realpath -m -- "\${key:-\${DERMAGA_STORAGE_DATA_DIR:-\$PWD/data}}" | md5sum | cut -c1-16)
psql -XAtq -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c "CREATE DATABASE \$db" >/dev/null 2>&1 || true
export DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=\$db"
exec "$real" "\$@"
EOF
    chmod 755 "$E2E_NS_ROOT/dermaga"
    export DERMAGA=$E2E_NS_ROOT/dermaga E2E_DERMAGA_REAL=$real
}

# meta_sql DATA_DIR SQL: runs a query on the metadata of the dermaga serving DATA_DIR, whichever
# engine holds it; prints rows with "|" between columns.
meta_sql() {
    if [[ ${E2E_META:-sqlite} == postgres ]]; then
        pg_sql "$(pg_db_of "$1")" "$2"
    else
        sqlite3 -readonly "$1/meta.db" "$2"
    fi
}

# meta_schema_version DATA_DIR [VERSION]: the schema version recorded in the metadata of the
# dermaga serving DATA_DIR, whichever engine holds it; with VERSION, set to it first.
meta_schema_version() {
    if [[ ${E2E_META:-sqlite} == postgres ]]; then
        local db
        db=$(pg_db_of "$1")
        [[ -z ${2:-} ]] || pg_sql "$db" "UPDATE dermaga_schema SET version = $2"
        pg_sql "$db" "SELECT version FROM dermaga_schema"
    else
        [[ -z ${2:-} ]] || sqlite3 "$1/meta.db" "PRAGMA user_version = $2"
        sqlite3 "$1/meta.db" 'PRAGMA user_version'
    fi
}

# Private client configuration: no credentials, no system registries/short names, vfs storage.
e2e_setup_clients() {
    local w=$E2E_WORK
    mkdir -p "$w/home" "$w/docker-config" "$w/tmp" "$w/xdg" "$w/cni" "$w/podman-tmp"
    export HOME=$w/home
    export DOCKER_CONFIG=$w/docker-config          # empty: no fallback credentials
    export REGISTRY_AUTH_FILE=$w/auth.json         # containers/image + podman/buildah login
    echo '{}' >"$REGISTRY_AUTH_FILE"               # podman refuses a missing file
    export XDG_RUNTIME_DIR=$w/xdg
    export XDG_CONFIG_HOME=$w/home/.config
    export TMPDIR=$w/tmp
    unset CONTAINER_HOST CONTAINER_CONNECTION DOCKER_HOST

    cat >"$w/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
    E2E_POLICY=$w/policy.json

    cat >"$w/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "disabled"

[[registry]]
location = "$REG"
insecure = true
EOF
    export CONTAINERS_REGISTRIES_CONF=$w/registries.conf

    # Podman/buildah storage. runroot must be < 50 chars: put it under the private /run.
    E2E_STORE_ROOT=$w/storage
    E2E_RUNROOT=/run/dermaga-e2e/$E2E_SCRIPT
    mkdir -p "$E2E_STORE_ROOT" "$E2E_RUNROOT"
    ((${#E2E_RUNROOT} < 50)) || die "runroot too long: $E2E_RUNROOT"
    cat >"$w/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$E2E_STORE_ROOT"
runroot = "$E2E_RUNROOT"
EOF
    export CONTAINERS_STORAGE_CONF=$w/storage.conf

    cat >"$w/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$w/podman-tmp"
image_copy_tmp_dir = "$w/tmp"

[network]
network_backend = "cni"
network_config_dir = "$w/cni"
EOF
    export CONTAINERS_CONF=$w/containers.conf
}

# Client wrappers (explicit flags in addition to the private config files).
sk() { skopeo --policy "$E2E_POLICY" "$@"; }
pm() {
    podman --root "$E2E_STORE_ROOT" --runroot "$E2E_RUNROOT" --storage-driver vfs \
        --cgroup-manager cgroupfs --events-backend none "$@"
}
bh() { buildah --root "$E2E_STORE_ROOT" --runroot "$E2E_RUNROOT" --storage-driver vfs "$@"; }

# ------------------------------------------------------------------------------------------
# registry lifecycle
# ------------------------------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    die "no free port found"
}

# containerd_start NAME: a private containerd (state under $E2E_WORK/containerd, socket under
# the private /run, which keeps the path short); sets CD, CD_SOCK and CD_PID. containerd_stop
# stops it by PID and unmounts what its snapshots left mounted.
CD_PID=
containerd_start() {
    CD=$E2E_WORK/containerd
    local run=/run/dermaga-e2e/$1 i
    CD_SOCK=$run/containerd.sock
    mkdir -p "$CD/root" "$CD/opt" "$run/state"
    cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$run/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CD_SOCK"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
EOF
    containerd --config "$CD/config.toml" >"$E2E_WORK/containerd.log" 2>&1 &
    CD_PID=$!
    for ((i = 0; i < 100; i++)); do
        ctr -a "$CD_SOCK" version >/dev/null 2>&1 && { log "containerd pid $CD_PID on $CD_SOCK"; return 0; }
        kill -0 "$CD_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 30 "$E2E_WORK/containerd.log" >&2
    die "containerd not ready"
}
containerd_stop() {
    if [[ -n $CD_PID ]]; then
        kill -TERM "$CD_PID" 2>/dev/null
        local i
        for ((i = 0; i < 50; i++)); do kill -0 "$CD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$CD_PID" 2>/dev/null
        wait "$CD_PID" 2>/dev/null
        CD_PID=
    fi
    grep -o " $E2E_WORK/containerd/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    return 0
}

# serve_dermaga NAME DATA_DIR [VAR=VALUE…]: `dermaga serve` on a free port of $SRV_BIND
# (default 127.0.0.1; "[::1]" for IPv6) with the given environment; returns once /healthz
# answers 200, non-zero (after printing the server's stderr) when it never does. The scheme is
# $SRV_SCHEME (default http) and the host clients use is $SRV_HOST (default $SRV_BIND; a name
# the private /etc/hosts resolves); SRV_CURL holds extra curl options for the health check
# (--cacert, a client certificate). A port taken between picking and binding is retried. Sets
# SRV (host:port), SRV_URL, SRV_PID and SRV_ERR (stderr; stdout goes to
# $E2E_WORK/NAME.serve.out); the PID is appended to $PIDS.
SRV_CURL=()
serve_dermaga() {
    local name=$1 data=$2 i attempt port bind=${SRV_BIND:-127.0.0.1}
    shift 2
    SRV_ERR=$E2E_WORK/$name.serve.err
    for ((attempt = 0; attempt < 3; attempt++)); do
        port=$(pick_port)
        SRV=${SRV_HOST:-$bind}:$port
        SRV_URL=${SRV_SCHEME:-http}://$SRV
        env "$@" setsid "$DERMAGA" serve --addr "$bind:$port" --data "$data" >"$E2E_WORK/$name.serve.out" 2>"$SRV_ERR" &
        SRV_PID=$!
        echo "$SRV_PID" >>"$PIDS"
        for ((i = 0; i < 200; i++)); do
            if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${SRV_CURL[@]}" "$SRV_URL/healthz") == 200 ]]; then
                [[ ${E2E_META:-sqlite} != postgres || ! -e $data/meta.db ]] ||
                    { echo "E2E_META=postgres, yet dermaga made $data/meta.db" >&2; return 1; }
                return 0
            fi
            kill -0 "$SRV_PID" 2>/dev/null || break
            sleep 0.05
        done
        grep -q "Address already in use" "$SRV_ERR" || break
        wait "$SRV_PID" 2>/dev/null || true
    done
    cat "$SRV_ERR" >&2
    echo "dermaga ($name) did not become healthy on $SRV_URL" >&2
    return 1
}

# PKI for the TLS suites (EC P-256), files under $PKI.
# pki_ca NAME CN: $PKI/NAME.crt + NAME.key, a self-signed CA.
pki_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>/dev/null
}
# pki_leaf CA NAME CN server|client [SAN]: $PKI/NAME.crt + NAME.key signed by CA; a server
# certificate names SAN (default IP:127.0.0.1,DNS:localhost).
pki_leaf() {
    local ext=$PKI/$2.ext
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$ext"
    if [[ $4 == server ]]; then
        printf 'extendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "${5:-IP:127.0.0.1,DNS:localhost}" >>"$ext"
    else
        printf 'extendedKeyUsage=clientAuth\n' >>"$ext"
    fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
        -keyout "$PKI/$2.key" -out "$PKI/$2.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$2.csr" -CA "$PKI/$1.crt" -CAkey "$PKI/$1.key" -CAcreateserial \
        -days 2 -extfile "$ext" -out "$PKI/$2.crt" 2>/dev/null
}

# registry_start: sets REG (127.0.0.1:PORT), REG_URL, REG_PID, REG_DATA, REG_LOG.
# The registry runs in its own session (setsid), so REG_PID is also its process-group id and
# registry_stop can end helper processes a custom REGISTRY_CMD may have spawned.
registry_start() {
    local kind=${REGISTRY_KIND:-dermaga} attempt port
    REG_DATA=$E2E_WORK/registry-data
    REG_LOG=$E2E_WORK/registry.log
    mkdir -p "$REG_DATA"
    for attempt in 1 2 3 4 5; do
        port=$(pick_port)
        case $kind in
        dermaga)
            [[ -n ${DERMAGA:-} && -x ${DERMAGA:-} ]] || die "DERMAGA=${DERMAGA:-} is not an executable"
            setsid "$DERMAGA" serve --addr "127.0.0.1:$port" --data "$REG_DATA" >>"$REG_LOG" 2>&1 &
            ;;
        distribution)
            command -v docker-registry >/dev/null || die "docker-registry (CNCF Distribution) not installed"
            cat >"$E2E_WORK/distribution.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: dermaga-e2e-not-a-secret
health:
  storagedriver:
    enabled: false
EOF
            setsid docker-registry serve "$E2E_WORK/distribution.yml" >>"$REG_LOG" 2>&1 &
            ;;
        custom)
            [[ -n ${REGISTRY_CMD:-} ]] || die "REGISTRY_KIND=custom needs REGISTRY_CMD"
            PORT=$port DATA=$REG_DATA setsid bash -c "$REGISTRY_CMD" >>"$REG_LOG" 2>&1 &
            ;;
        *) die "unknown REGISTRY_KIND=$kind" ;;
        esac
        REG_PID=$!
        REG=127.0.0.1:$port
        REG_URL=http://$REG
        if registry_wait_ready; then
            log "registry ($kind) pid $REG_PID listening on $REG"
            [[ ${E2E_META:-sqlite} != postgres || $kind != dermaga || ! -e $REG_DATA/meta.db ]] ||
                die "E2E_META=postgres, yet dermaga made $REG_DATA/meta.db"
            return 0
        fi
        registry_stop
        log "registry did not come up on port $port (attempt $attempt); log tail:"
        tail -n 20 "$REG_LOG" >&2 || true
    done
    die "could not start registry ($kind)"
}

registry_wait_ready() {
    local i code
    for i in $(seq 1 150); do
        kill -0 "$REG_PID" 2>/dev/null || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$REG_URL/v2/" || true)
        if [[ $code == 200 ]]; then
            if [[ ${REGISTRY_KIND:-dermaga} == dermaga ]]; then
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$REG_URL/healthz" || true)
                [[ $code == 200 ]] || { log "/v2/ is 200 but /healthz is $code"; return 1; }
            fi
            return 0
        fi
        sleep 0.1
    done
    return 1
}

registry_stop() {
    [[ -n ${REG_PID:-} ]] || return 0
    if kill -0 "$REG_PID" 2>/dev/null; then
        kill -TERM -- "-$REG_PID" 2>/dev/null || kill -TERM "$REG_PID" 2>/dev/null || true
        local i
        for i in $(seq 1 100); do
            kill -0 "$REG_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    kill -KILL -- "-$REG_PID" 2>/dev/null || true    # stragglers in the registry's group
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=
}

# ------------------------------------------------------------------------------------------
# test steps + results
# ------------------------------------------------------------------------------------------

E2E_PASS=0
E2E_FAIL=0

# t_run NAME FUNCTION [ARGS…]: run one step in a subshell with errexit honoured (it runs in the
# background so that `set -e` is not suspended by an if/|| context), log to a file, report.
t_run() {
    local name=$1; shift
    local slug=${name//[^A-Za-z0-9_.-]/_}
    local steplog=$E2E_WORK/logs/$slug.log start=$SECONDS rc=0
    mkdir -p "$E2E_WORK/logs"
    (
        set -Eeuo pipefail
        trap 'echo "FAILED at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
        "$@"
    ) >"$steplog" 2>&1 &
    wait $! || rc=$?
    local dt=$((SECONDS - start))
    if ((rc == 0)); then
        E2E_PASS=$((E2E_PASS + 1))
        printf 'PASS  %s: %s (%ss)\n' "$E2E_SCRIPT" "$name" "$dt"
        [[ -n ${E2E_RESULTS:-} ]] && printf 'PASS\t%s: %s\n' "$E2E_SCRIPT" "$name" >>"$E2E_RESULTS"
    else
        E2E_FAIL=$((E2E_FAIL + 1))
        printf 'FAIL  %s: %s (%ss, exit %s) — log %s\n' "$E2E_SCRIPT" "$name" "$dt" "$rc" "$steplog"
        sed 's/^/    | /' "$steplog" | tail -n 40
        [[ -n ${E2E_RESULTS:-} ]] && printf 'FAIL\t%s: %s\n' "$E2E_SCRIPT" "$name" >>"$E2E_RESULTS"
    fi
    # A crashed registry makes every later step meaningless noise: flag it once.
    if [[ -n ${REG_PID:-} ]] && ! kill -0 "$REG_PID" 2>/dev/null; then
        printf 'FAIL  %s: registry process died (log %s)\n' "$E2E_SCRIPT" "$REG_LOG"
        tail -n 20 "$REG_LOG" | sed 's/^/    | /'
        [[ -n ${E2E_RESULTS:-} ]] && printf 'FAIL\t%s: registry died\n' "$E2E_SCRIPT" >>"$E2E_RESULTS"
        E2E_FAIL=$((E2E_FAIL + 1))
        REG_PID=
    fi
    return 0
}

fail() { echo "ASSERTION FAILED: $*" >&2; exit 1; }

assert_eq() { # ACTUAL EXPECTED WHAT
    [[ $1 == "$2" ]] || fail "${3:-values differ}: got '$1', want '$2'"
    echo "ok: ${3:-equal}: $1"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
    [[ $1 == *"$2"* ]] || fail "${3:-missing}: '$2' not in: $1"
}

# expect_fail REASON CMD…: CMD must exit non-zero and say why: its output (stdout and stderr
# together) must match the extended regular expression REASON, case-insensitively — a 401, a
# 403, a TLS failure, an unknown manifest. A failure for any other reason fails the step.
expect_fail() {
    local reason=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    ((rc != 0)) || fail "expected failure: $*"
    printf '%s\n' "$out" | tail -n 20
    grep -Eqi -- "$reason" <<<"$out" || fail "failed (exit $rc), but not for /$reason/: $*"
    echo "ok: failed as expected (/$reason/): $*"
}

# ------------------------------------------------------------------------------------------
# content helpers
# ------------------------------------------------------------------------------------------

sha256_of() { sha256sum "$1" | cut -d' ' -f1 | sed 's/^/sha256:/'; }
sha256_stdin() { sha256sum | cut -d' ' -f1 | sed 's/^/sha256:/'; }

oci_blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }          # LAYOUT DIGEST -> path
oci_digest() { # LAYOUT TAG -> digest of the tagged manifest/index
    jq -er --arg t "$2" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$t)][0].digest' "$1/index.json"
}

# oci_closure LAYOUT DIGEST: every digest reachable from DIGEST (itself, children, configs, layers).
oci_closure() {
    local l=$1 d=$2 f
    f=$(oci_blob "$l" "$d")
    [[ -f $f ]] || fail "blob $d missing from $l"
    echo "$d"
    if jq -e 'has("manifests")' "$f" >/dev/null; then
        local c children
        children=$(jq -r '.manifests[].digest' "$f")
        for c in $children; do oci_closure "$l" "$c"; done
    else
        jq -r '.config.digest, .layers[].digest' "$f"
    fi
}

# assert_layout_equal SRC_LAYOUT SRC_TAG DST_LAYOUT DST_TAG: same top digest and every reachable
# blob byte-for-byte identical.
assert_layout_equal() {
    local sl=$1 st=$2 dl=$3 dt=$4 sd dd d all n=0
    sd=$(oci_digest "$sl" "$st")
    dd=$(oci_digest "$dl" "$dt")
    assert_eq "$dd" "$sd" "pulled manifest digest ($dl:$dt)"
    all=$(oci_closure "$sl" "$sd" | sort -u)
    for d in $all; do
        [[ -f $(oci_blob "$dl" "$d") ]] || fail "pulled layout lacks blob $d"
        cmp "$(oci_blob "$sl" "$d")" "$(oci_blob "$dl" "$d")" || fail "blob $d differs"
        [[ $(sha256_of "$(oci_blob "$dl" "$d")") == "$d" ]] || fail "blob $d has wrong sha256"
        n=$((n + 1))
    done
    echo "ok: $n blobs identical ($sd)"
}

# assert_layers_match_diffids LAYOUT TAG: each (re)compressed layer decompresses to the
# config's diff_id, and every blob's sha256 is its digest.
assert_layers_match_diffids() {
    local l=$1 t=$2 md m cfg i n
    md=$(oci_digest "$l" "$t")
    m=$(oci_blob "$l" "$md")
    [[ $(sha256_of "$m") == "$md" ]] || fail "manifest $md has wrong sha256"
    cfg=$(oci_blob "$l" "$(jq -r .config.digest "$m")")
    [[ $(sha256_of "$cfg") == "$(jq -r .config.digest "$m")" ]] || fail "config has wrong sha256"
    n=$(jq '.layers | length' "$m")
    assert_eq "$(jq '.rootfs.diff_ids | length' "$cfg")" "$n" "diff_id count"
    for ((i = 0; i < n; i++)); do
        local ld lf diff
        ld=$(jq -r ".layers[$i].digest" "$m")
        lf=$(oci_blob "$l" "$ld")
        [[ $(sha256_of "$lf") == "$ld" ]] || fail "layer $ld has wrong sha256"
        case $(jq -r ".layers[$i].mediaType" "$m") in
        *gzip*) diff=$(gzip -dc "$lf" | sha256_stdin) ;;
        *zstd*) diff=$(zstd -dc "$lf" | sha256_stdin) ;;
        *) diff=$(sha256_of "$lf") ;;
        esac
        assert_eq "$diff" "$(jq -r ".rootfs.diff_ids[$i]" "$cfg")" "layer $i diff_id"
    done
}

# diff_ids LAYOUT TAG -> the config's rootfs.diff_ids, one per line
diff_ids() {
    local m
    m=$(oci_blob "$1" "$(oci_digest "$1" "$2")")
    jq -r '.rootfs.diff_ids[]' "$(oci_blob "$1" "$(jq -r .config.digest "$m")")"
}

# remote_manifest REPO REF [OUTFILE]: GET a manifest with all usual Accept types; prints
# Content-Type header. Body goes to OUTFILE (default /dev/null).
ACCEPT_ALL='application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json'
remote_manifest() {
    curl -fsS -H "Accept: $ACCEPT_ALL" -o "${3:-/dev/null}" -w '%{content_type}' \
        "$REG_URL/v2/$1/manifests/$2"
}

# assert_remote_blobs REPO MANIFEST_DIGEST: raw HTTP check that the manifest and every blob it
# references (recursively for indexes) are served with exactly the right bytes.
assert_remote_blobs() {
    local repo=$1 md=$2 tmp
    tmp=$(mktemp)
    remote_manifest "$repo" "$md" "$tmp" >/dev/null
    assert_eq "$(sha256_of "$tmp")" "$md" "GET manifest $repo@$md"
    if jq -e 'has("manifests")' "$tmp" >/dev/null; then
        local c
        for c in $(jq -r '.manifests[].digest' "$tmp"); do assert_remote_blobs "$repo" "$c"; done
    else
        local b
        for b in $(jq -r '.config.digest, .layers[].digest' "$tmp"); do
            assert_eq "$(curl -fsS "$REG_URL/v2/$repo/blobs/$b" | sha256_stdin)" "$b" "GET blob $repo@$b"
        done
    fi
    rm -f "$tmp"
}

# head_blob REPO DIGEST -> "STATUS CONTENT-LENGTH"
head_blob() {
    curl -sS -I "$REG_URL/v2/$1/blobs/$2" | tr -d '\r' |
        awk 'NR==1{code=$2} tolower($1)=="content-length:"{len=$2} END{print code, len}'
}

# push_fixture TAG DEST_REF [extra skopeo flags…]: skopeo-push a fixture unchanged.
push_fixture() {
    local tag=$1 dest=$2; shift 2
    sk copy --quiet --preserve-digests --dest-tls-verify=false "$@" "oci:$E2E_FIXTURES:$tag" "docker://$REG/$dest"
}

# ------------------------------------------------------------------------------------------
# init / finish
# ------------------------------------------------------------------------------------------

e2e_on_exit() {
    local rc=$?
    set +e
    [[ $(type -t e2e_test_cleanup) == function ]] && e2e_test_cleanup
    registry_stop
    if [[ ${E2E_KEEP:-} != 1 && -n ${E2E_WORK:-} ]]; then
        rm -rf "$E2E_WORK"
    fi
    e2e_cleanup_ns_root
    exit "$rc"
}

# e2e_enter_work "$@": enter the namespace, make $E2E_WORK (removed at exit), set the traps.
e2e_enter_work() {
    e2e_enter_ns "$@"
    E2E_WORK=$(mktemp -d "$E2E_NS_ROOT/$E2E_SCRIPT.XXXX")
    trap e2e_on_exit EXIT
    trap 'exit 130' INT TERM
}

# e2e_sqlite_pass_only: for a script that brings its own PostgreSQL, so that one run covers
# both engines: exits 0 (no steps) under E2E_META=postgres; the SQLite pass runs it.
e2e_sqlite_pass_only() {
    [[ ${E2E_META:-sqlite} == postgres ]] || return 0
    log "not run under E2E_META=postgres: the SQLite pass runs it (it brings its own PostgreSQL)"
    exit 0
}

# e2e_init_own_dermaga WHAT "$@": for scripts that start and stop the dermaga binary
# themselves. Skips (exit 0) under another REGISTRY_KIND, enters the namespace, runs a private
# copy of $DERMAGA (a concurrent build may relink it), and sets PY and RC (regclient.py).
e2e_init_own_dermaga() {
    local what=$1
    shift
    if [[ ${REGISTRY_KIND:-dermaga} != dermaga ]]; then
        log "skipped: $what (REGISTRY_KIND=${REGISTRY_KIND})"
        exit 0
    fi
    e2e_enter_work "$@"
    [[ -n ${DERMAGA:-} && -x ${DERMAGA:-} ]] || die "DERMAGA=${DERMAGA:-} is not an executable"
    cp "$DERMAGA" "$E2E_WORK/dermaga"
    DERMAGA=$E2E_WORK/dermaga
    PY=$(command -v /usr/bin/python3 || command -v python3)
    RC=$E2E_DIR/regclient.py
}

# e2e_init "$@": enter the namespace, build/locate fixtures, start the registry, set up clients.
e2e_init() {
    e2e_enter_work "$@"
    if [[ -z ${E2E_FIXTURES:-} ]]; then
        local cache=${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}
        bash "$E2E_DIR/fixtures.sh" "$cache" >&2
        E2E_FIXTURES=$cache/oci
    fi
    [[ -f $E2E_FIXTURES/index.json ]] || die "no fixtures at $E2E_FIXTURES"
    registry_start
    e2e_setup_clients
}

# e2e_finish: print a summary and exit non-zero if any step failed.
e2e_finish() {
    log "$E2E_PASS passed, $E2E_FAIL failed"
    ((E2E_FAIL == 0))
}
