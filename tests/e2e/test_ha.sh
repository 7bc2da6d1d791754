#!/usr/bin/env bash
# High availability: a private PostgreSQL, three dermaga nodes sharing one data directory
# (blobs) and one database, and HAProxy round-robin in front, health-checked on /readyz.
# Real clients (skopeo) push and pull through HAProxy. Steps:
#   - push and pull through the balancer, byte-compared;
#   - a chunked upload hops nodes (curl: POST on node 1, PATCH on node 2, PUT on node 3);
#   - one node is kill -9'ed during concurrent pushes and pulls: every push the client saw
#     succeed pulls afterwards with its digest, and the clients' retries succeed;
#   - the killed node comes back and serves;
#   - a rolling restart of all three nodes under pull load fails no pull (no client retries);
#   - a tag deleted through one node is gone on the others within cache.manifest_max_age;
#   - PostgreSQL stopped: nodes answer 503 UNAVAILABLE at once and /readyz fails; restarted:
#     service resumes by itself.
# Brings its own PostgreSQL (it stops and restarts it), so like test_migrate.sh it runs in the
# SQLite pass only: `run.sh test_ha`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_sqlite_pass_only
e2e_init_own_dermaga "starts three dermaga nodes itself" "$@"
command -v haproxy >/dev/null || die "haproxy not installed (Debian package haproxy)"

W=$E2E_WORK
PG_DIR=$W/pg
SHARED=$W/shared              # the one data directory every node uses (blobs and uploads)
mkdir -p "$SHARED"
NODE_PORT=()
HA_PID= LOAD_PIDS=()
# Steps run in subshells (t_run): node and PostgreSQL PIDs live in files, so that a restart in
# one step is seen by the next and by the cleanup.
node_pid() { cat "$W/node$1.pid" 2>/dev/null; }
MAX_AGE=1                     # cache.manifest_max_age, seconds

e2e_test_cleanup() {
    local p
    for p in "${LOAD_PIDS[@]}" "$(node_pid 1)" "$(node_pid 2)" "$(node_pid 3)" "$HA_PID"; do
        [[ -n $p ]] && kill -KILL "$p" 2>/dev/null || true
    done
    [[ -s $PG_DIR/data/postmaster.pid ]] && PG_PID=$(head -n1 "$PG_DIR/data/postmaster.pid")
    pg_stop
}

# --- servers ---------------------------------------------------------------------------------

pg_start "$PG_DIR"
PG_PORT_HA=$PG_PORT
DSN="host=127.0.0.1 port=$PG_PORT_HA user=postgres dbname=postgres"

# pg_restart: the same server (data, port) again after pg_stop.
pg_restart() {
    local as=()
    [[ $(id -u) != 0 ]] || as=(runuser -u postgres --)
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-k $PG_DIR/data -p $PG_PORT_HA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" \
        start >>"$PG_DIR/pg_ctl.log" 2>&1 || die "PostgreSQL did not restart"
    PG_PID=$(head -n1 "$PG_DIR/data/postmaster.pid")
}

# node_start I: node I on its port (picked at first start, kept across restarts; a port taken
# meanwhile by another process is replaced at first start only).
node_start() {
    local i=$1 k attempt fresh=0 before
    [[ -n ${NODE_PORT[$i]:-} ]] || fresh=1
    for ((attempt = 0; attempt < 3; attempt++)); do
        ((fresh == 0)) || NODE_PORT[$i]=$(pick_port)
        touch "$W/node$i.log"
        before=$(wc -l <"$W/node$i.log")
        DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="$DSN" \
            DERMAGA_META_POSTGRES_CONNECT_TIMEOUT=2 DERMAGA_META_POSTGRES_STATEMENT_TIMEOUT=5 \
            DERMAGA_CACHE_MANIFEST_MAX_AGE=$MAX_AGE DERMAGA_HTTP_SHUTDOWN_GRACE=10 \
            setsid "$DERMAGA" serve --addr "127.0.0.1:${NODE_PORT[$i]}" --data "$SHARED" \
            >>"$W/node$i.log" 2>&1 &
        echo $! >"$W/node$i.pid"
        disown  # killed on purpose: no job-control notice
        for ((k = 0; k < 200; k++)); do
            kill -0 "$(node_pid "$i")" 2>/dev/null || break  # (then the port may answer for another)
            [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:${NODE_PORT[$i]}/readyz") == 200 ]] &&
                return 0
            sleep 0.05
        done
        ((fresh == 1)) && tail -n +$((before + 1)) "$W/node$i.log" | grep -q "Address already in use" || break
    done
    tail -n 20 "$W/node$i.log" >&2
    die "node $i did not become ready"
}
node_url() { echo "http://127.0.0.1:${NODE_PORT[$1]}"; }

# node_stop I SIGNAL: signals node I and waits until it is gone.
node_stop() {
    local i=$1 k pid
    pid=$(node_pid "$i")
    kill "-$2" "$pid" 2>/dev/null || true
    for ((k = 0; k < 300; k++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
}

node_start 1   # first alone: it creates the schema
node_start 2
node_start 3

HA_PORT=$(pick_port)
cat >"$W/haproxy.cfg" <<EOF
global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A request that met a dead or restarting node is sent to another (bodies that fit the
    # buffer only; clients retry the rest).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503
    option http-buffer-request
frontend registry
    bind 127.0.0.1:$HA_PORT
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /readyz
    default-server check inter 500ms fall 2 rise 2
    server n1 127.0.0.1:${NODE_PORT[1]}
    server n2 127.0.0.1:${NODE_PORT[2]}
    server n3 127.0.0.1:${NODE_PORT[3]}
EOF
haproxy -c -f "$W/haproxy.cfg" >/dev/null || die "haproxy rejects its configuration"
setsid haproxy -f "$W/haproxy.cfg" -db >>"$W/haproxy.log" 2>&1 &
HA_PID=$!
disown
REG=127.0.0.1:$HA_PORT
REG_URL=http://$REG
for ((k = 0; k < 100; k++)); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$REG_URL/v2/") == 200 ]] && break
    sleep 0.1
done
kill -0 "$HA_PID" 2>/dev/null || { tail -n 5 "$W/haproxy.log" >&2; die "haproxy did not start"; }
sleep 1.2  # two good checks per node
e2e_setup_clients
log "nodes on ${NODE_PORT[*]}, haproxy on $HA_PORT, postgres on $PG_PORT_HA"

# --- images ----------------------------------------------------------------------------------

# make_image LAYOUT TAG BYTES: a one-layer OCI image of BYTES random bytes (unique content).
make_image() {
    local lay=$1 tag=$2 n=$3 tmp layer cfg man ld cd md
    tmp=$(mktemp -d "$W/img.XXXX")
    head -c "$n" /dev/urandom >"$tmp/data"
    tar -C "$tmp" -cf - data | gzip -1 >"$tmp/layer"
    ld=$(sha256sum "$tmp/layer" | cut -d' ' -f1)
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$(tar -C "$tmp" -cf - data | sha256sum | cut -d' ' -f1)" >"$tmp/config"
    cd=$(sha256sum "$tmp/config" | cut -d' ' -f1)
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
        "$cd" "$(stat -c %s "$tmp/config")" "$ld" "$(stat -c %s "$tmp/layer")" >"$tmp/manifest"
    md=$(sha256sum "$tmp/manifest" | cut -d' ' -f1)
    mkdir -p "$lay/blobs/sha256"
    mv "$tmp/layer" "$lay/blobs/sha256/$ld"
    mv "$tmp/config" "$lay/blobs/sha256/$cd"
    mv "$tmp/manifest" "$lay/blobs/sha256/$md"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
        "$md" "$(stat -c %s "$lay/blobs/sha256/$md")" "$tag" >"$lay/index.json"
    rm -rf "$tmp"
    echo "sha256:$md"
}

# --- steps -----------------------------------------------------------------------------------

push_and_pull_through_haproxy() {
    push_fixture single ha/busybox:1.0 --digestfile "$W/single.digest"
    assert_eq "$(cat "$W/single.digest")" "$(oci_digest "$E2E_FIXTURES" single)" "pushed digest"
    sk copy --quiet --src-tls-verify=false "docker://$REG/ha/busybox:1.0" "oci:$W/back:one"
    assert_layout_equal "$E2E_FIXTURES" single "$W/back" one
    local i
    for i in 1 2 3; do  # every node serves it, whichever took the push
        assert_eq "$(curl -fsS -H "Accept: $ACCEPT_ALL" "$(node_url $i)/v2/ha/busybox/manifests/1.0" | sha256_stdin)" \
            "$(cat "$W/single.digest")" "manifest on node $i"
    done
}

chunked_upload_hops_nodes() {
    head -c 3000000 /dev/urandom >"$W/c1"
    head -c 2000000 /dev/urandom >"$W/c2"
    head -c 1000 /dev/urandom >"$W/c3"
    local digest loc h
    digest=sha256:$(cat "$W/c1" "$W/c2" "$W/c3" | sha256sum | cut -d' ' -f1)
    loc=$(curl -fsS -X POST -D - -o /dev/null "$(node_url 1)/v2/ha/chunked/blobs/uploads/" |
        tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    [[ -n $loc ]] || fail "no Location from POST on node 1"
    h=$(curl -fsS -X PATCH -D - -o /dev/null -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: 0-2999999" --data-binary "@$W/c1" "$(node_url 2)$loc" | tr -d '\r')
    assert_contains "$h" "Range: 0-2999999" "PATCH on node 2"
    h=$(curl -fsS -X PATCH -D - -o /dev/null -H 'Content-Type: application/octet-stream' \
        -H "Content-Range: 3000000-4999999" --data-binary "@$W/c2" "$(node_url 3)$loc" | tr -d '\r')
    assert_contains "$h" "Range: 0-4999999" "PATCH on node 3"
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
        --data-binary "@$W/c3" "$(node_url 3)$loc?digest=$digest")" 201 "PUT on node 3"
    assert_eq "$(curl -fsS "$REG_URL/v2/ha/chunked/blobs/$digest" | sha256_stdin)" "$digest" "blob through haproxy"
}

# pusher N COUNT: pushes COUNT fresh images; each skopeo copy is retried (new upload sessions
# through the balancer) up to 4 times; logs "ok TAG DIGEST" or "failed TAG".
pusher() {
    local n=$1 count=$2 j try tag digest
    for ((j = 0; j < count; j++)); do
        tag=p$n-$j
        digest=$(make_image "$W/imgs/$tag" "$tag" $((1000000 + RANDOM * 30)))
        for ((try = 1; try <= 4; try++)); do
            if sk copy --quiet --retry-times 2 --dest-tls-verify=false "oci:$W/imgs/$tag:$tag" \
                "docker://$REG/ha/load:$tag" 2>>"$W/load/push$n.err"; then
                echo "ok $tag $digest" >>"$W/load/push$n"
                continue 2
            fi
            echo "push $tag try $try failed" >>"$W/load/push$n.err"
        done
        echo "failed $tag" >>"$W/load/push$n"
    done
}

# puller N STOPFILE RETRIES: pulls ha/busybox:1.0 until STOPFILE exists; logs ok/failed per pull.
puller() {
    local n=$1 stop=$2 retries=$3 k=0
    while [[ ! -e $stop ]]; do
        k=$((k + 1))
        rm -rf "$W/load/pull$n"
        if sk copy --quiet --retry-times "$retries" --src-tls-verify=false "docker://$REG/ha/busybox:1.0" \
            "oci:$W/load/pull$n:x" 2>>"$W/load/pull$n.err"; then
            echo ok >>"$W/load/pulls$n"
        else
            echo failed >>"$W/load/pulls$n"
        fi
    done
}

kill_a_node_during_pushes_and_pulls() {
    mkdir -p "$W/load" "$W/imgs"
    rm -f "$W/load/stop"
    local p pushers=() pullers=()
    for p in 1 2 3; do pusher $p 4 & pushers+=($!); done
    for p in 1 2; do puller $p "$W/load/stop" 3 & pullers+=($!); done
    LOAD_PIDS=("${pushers[@]}" "${pullers[@]}")
    sleep 2
    log "kill -9 node 2 (pid $(node_pid 2))"
    node_stop 2 KILL
    for p in "${pushers[@]}"; do wait "$p"; done
    touch "$W/load/stop"
    for p in "${pullers[@]}"; do wait "$p"; done
    LOAD_PIDS=()
    local oks failed
    oks=$(cat "$W/load"/push? | grep -c '^ok' || true)
    failed=$(cat "$W/load"/push? | grep -c '^failed' || true)
    log "pushes acknowledged: $oks, failed after retries: $failed; pulls: $(cat "$W/load"/pulls? | sort | uniq -c | tr '\n' ' ')"
    assert_eq "$failed" 0 "pushes that failed even after retries"
    assert_eq "$(cat "$W/load"/pulls? | grep -c '^failed' || true)" 0 "pulls that failed even after retries"
    # Every acknowledged push pulls back with its digest.
    local ok tag digest
    while read -r ok tag digest; do
        sk inspect --raw --tls-verify=false "docker://$REG/ha/load:$tag" >"$W/load/m"
        assert_eq "$(sha256_of "$W/load/m")" "$digest" "manifest of $tag"
        rm -rf "$W/load/back"
        sk copy --quiet --src-tls-verify=false "docker://$REG/ha/load@$digest" "oci:$W/load/back:x"
    done < <(cat "$W/load"/push?)
}

killed_node_comes_back_and_serves() {
    node_start 2
    assert_eq "$(curl -fsS -H "Accept: $ACCEPT_ALL" "$(node_url 2)/v2/ha/load/manifests/p1-3" | sha256_stdin)" \
        "$(awk '$2=="p1-3"{print $3}' "$W/load/push1")" "node 2 serves what was pushed while it was down"
    sleep 1.2  # haproxy: two good checks
}

rolling_restart_fails_no_pull() {
    mkdir -p "$W/load2"
    rm -f "$W/load2/stop" "$W/load"/pulls?
    local p pullers=() i
    for p in 1 2 3; do puller $p "$W/load2/stop" 0 & pullers+=($!); done  # no client retries
    LOAD_PIDS=("${pullers[@]}")
    sleep 1
    for i in 1 2 3; do
        log "rolling restart: node $i"
        node_stop "$i" TERM
        node_start "$i"
        sleep 1.2  # back in haproxy's rotation before the next one goes
    done
    touch "$W/load2/stop"
    for p in "${pullers[@]}"; do wait "$p"; done
    LOAD_PIDS=()
    log "pulls during the rolling restart: $(cat "$W/load"/pulls? | sort | uniq -c | tr '\n' ' ')"
    (($(cat "$W/load"/pulls? | grep -c '^ok' || true) > 0)) || fail "no pull ran"
    assert_eq "$(cat "$W/load"/pulls? | grep -c '^failed' || true)" 0 "pulls that failed"
}

deleted_tag_is_gone_on_every_node() {
    push_fixture single ha/del:gone
    local i code
    for i in 1 2 3; do  # cached on every node
        curl -fsS -o /dev/null "$(node_url $i)/v2/ha/del/manifests/gone"
        curl -fsS -o /dev/null "$(node_url $i)/v2/ha/del/manifests/gone"
    done
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$(node_url 1)/v2/ha/del/manifests/gone")" 202 \
        "DELETE tag on node 1"
    sleep "$MAX_AGE.2"
    for i in 2 3; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$(node_url $i)/v2/ha/del/manifests/gone")
        assert_eq "$code" 404 "tag on node $i after ${MAX_AGE}s"
    done
}

database_outage_is_503_and_heals() {
    pg_stop
    local i out t0 t1
    for i in 1 2 3; do
        t0=$(date +%s%N)
        out=$(curl -s -w '\n%{http_code}' --max-time 20 "$(node_url $i)/v2/ha/busybox/tags/list")
        t1=$(date +%s%N)
        log "node $i without PostgreSQL: $(tail -n1 <<<"$out") in $(((t1 - t0) / 1000000)) ms"
        assert_eq "$(tail -n1 <<<"$out")" 503 "status on node $i"
        assert_eq "$(head -n1 <<<"$out" | jq -r '.errors[0].code')" UNAVAILABLE "OCI code on node $i"
        assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$(node_url $i)/readyz")" 503 "readyz on node $i"
    done
    pg_restart
    local k
    for i in 1 2 3; do
        for ((k = 0; k < 100; k++)); do
            [[ $(curl -s -o /dev/null -w '%{http_code}' "$(node_url $i)/readyz") == 200 ]] && break
            sleep 0.1
        done
        assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$(node_url $i)/v2/ha/busybox/tags/list")" 200 \
            "node $i after PostgreSQL returned"
    done
    sleep 1.2
    push_fixture arm64 ha/after:outage
}

t_run "push and pull through haproxy (skopeo)" push_and_pull_through_haproxy
t_run "a chunked upload hops nodes: POST on 1, PATCH on 2 and 3, PUT on 3" chunked_upload_hops_nodes
t_run "kill -9 a node during concurrent pushes and pulls: acknowledged pushes pull, retries succeed" \
    kill_a_node_during_pushes_and_pulls
t_run "the killed node comes back and serves" killed_node_comes_back_and_serves
t_run "a rolling restart of all three nodes fails no pull" rolling_restart_fails_no_pull
t_run "a tag deleted through one node is gone on the others within ${MAX_AGE}s" deleted_tag_is_gone_on_every_node
t_run "PostgreSQL down: 503 UNAVAILABLE and /readyz fails; back: service resumes" database_outage_is_503_and_heals
