#!/usr/bin/env bash
# Process lifecycle and operations: graceful SIGTERM/SIGINT with requests in flight, JSON logs,
# configuration errors and overrides, unwritable data dir, a database from a newer binary,
# client disconnects, slow clients.
# Each step runs its own dermaga instance(s) on a free 127.0.0.1 port with a temp data dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "checks the dermaga binary itself" "$@"

PIDS=$E2E_WORK/pids    # every process a step starts, killed (by PID) at exit if still alive
: >"$PIDS"
MiB=$((1 << 20))

e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
}

# srv_start NAME DATA_DIR [VAR=VALUE…]: serve_dermaga (lib.sh), failing the step when the server
# never becomes healthy.
srv_start() {
    serve_dermaga "$@" || fail "dermaga ($1) did not become healthy"
}

# srv_wait PID SECONDS: waits (bounded) for a child of this shell to exit; sets EXIT_RC.
# (Not in $(…): a subshell cannot wait for its parent's children.)
srv_wait() {
    local pid=$1 i
    for ((i = 0; i < $2 * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && fail "pid $pid still running $2 s after the signal"
    EXIT_RC=0
    wait "$pid" || EXIT_RC=$?
}

# post_upload URL REPO -> upload path (Location)
post_upload() {
    curl -fsS -X POST -D - -o /dev/null "$1/v2/$2/blobs/uploads/" | tr -d '\r' |
        awk 'tolower($1)=="location:"{print $2}'
}

# upload_bytes URL LOC -> bytes the server holds for an upload session (from GET's Range)
upload_bytes() {
    local hdr code range
    hdr=$(curl -sS -D - -o /dev/null "$1$2" | tr -d '\r')
    code=$(awk 'NR==1{print $2}' <<<"$hdr")
    [[ $code == 204 ]] || fail "GET upload status $2: HTTP $code"
    range=$(awk 'tolower($1)=="range:"{print $2}' <<<"$hdr")
    [[ $range == 0-* ]] || fail "GET upload status $2: no Range header"
    if [[ $range == 0-0 ]]; then echo 0; else echo $((${range#0-} + 1)); fi
}

http_code() { curl -sS -o /dev/null -w '%{http_code}' "$@" || true; }

# ------------------------------------------------------------------------------------------

sigterm_inflight() {
    local w=$E2E_WORK/inflight big=$((300 * MiB)) part=$((64 * MiB)) d1 d2 loc1 loc2 c1 c2 i n1=0 n2=0 rc t0
    mkdir -p "$w"
    head -c "$big" /dev/urandom >"$w/big"
    head -c "$part" /dev/urandom >"$w/part"
    d1=$(sha256_of "$w/big")
    d2=$(sha256_of "$w/part")
    srv_start inflight "$w/data"
    loc1=$(post_upload "$SRV_URL" e2e/big)
    loc2=$(post_upload "$SRV_URL" e2e/big)
    # a monolithic PUT of 300 MiB and a 64 MiB PATCH, both streamed slowly
    curl -sS -o "$w/put.body" -w '%{http_code}' --max-time 120 --limit-rate 100M -T "$w/big" \
        -H 'Content-Type: application/octet-stream' "$SRV_URL$loc1?digest=$d1" >"$w/put.code" 2>"$w/put.err" &
    c1=$!
    curl -sS -o "$w/patch.body" -w '%{http_code}' --max-time 120 --limit-rate 25M -X PATCH -T "$w/part" \
        -H 'Content-Type: application/octet-stream' -H "Content-Range: 0-$((part - 1))" \
        "$SRV_URL$loc2" >"$w/patch.code" 2>"$w/patch.err" &
    c2=$!
    printf '%s\n' "$c1" "$c2" >>"$PIDS"
    for ((i = 0; i < 300; i++)); do
        n1=$(upload_bytes "$SRV_URL" "$loc1")
        n2=$(upload_bytes "$SRV_URL" "$loc2")
        ((n1 >= 16 * MiB && n2 >= 4 * MiB)) && break
        sleep 0.05
    done
    ((n1 < big && n2 < part)) || fail "uploads finished before SIGTERM ($n1, $n2 bytes)"
    echo "SIGTERM with $n1/$big bytes of the PUT and $n2/$part of the PATCH received"
    t0=$SECONDS
    kill -TERM "$SRV_PID"
    # the listener closes at once: new connections are refused while the uploads go on
    for ((i = 0; i < 40; i++)); do
        curl -s -o /dev/null --max-time 1 "$SRV_URL/healthz" || [[ $? != 7 ]] || break
        sleep 0.05
    done
    ((i < 40)) || fail "still accepting connections 2 s after SIGTERM"
    kill -0 "$c1" 2>/dev/null || fail "the PUT ended right at SIGTERM"
    wait "$c1" || fail "curl PUT failed: $(cat "$w/put.err")"
    wait "$c2" || fail "curl PATCH failed: $(cat "$w/patch.err")"
    assert_eq "$(cat "$w/put.code")" 201 "in-flight PUT ?digest= (300 MiB) status after SIGTERM"
    assert_eq "$(cat "$w/patch.code")" 202 "in-flight PATCH (64 MiB) status after SIGTERM"
    srv_wait "$SRV_PID" 40
    assert_eq "$EXIT_RC" 0 "exit status after SIGTERM"
    echo "exited $((SECONDS - t0)) s after SIGTERM"
    grep -q '"event":"shutting_down"' "$SRV_ERR" || fail "no shutting_down log line"
    grep -q '"event":"stopped"' "$SRV_ERR" || fail "no stopped log line"

    srv_start inflight-restart "$w/data"
    assert_eq "$(curl -sS -I "$SRV_URL/v2/e2e/big/blobs/$d1" | tr -d '\r' |
        awk 'NR==1{c=$2} tolower($1)=="content-length:"{l=$2} END{print c, l}')" "200 $big" "HEAD blob after restart"
    assert_eq "$(curl -fsS "$SRV_URL/v2/e2e/big/blobs/$d1" | sha256_stdin)" "$d1" "GET 300 MiB blob after restart"
    assert_eq "$(upload_bytes "$SRV_URL" "$loc2")" "$part" "PATCHed session size after restart"
    assert_eq "$(http_code -X PUT "$SRV_URL$loc2?digest=$d2")" 201 "PUT ?digest= completes the PATCHed session"
    assert_eq "$(curl -fsS "$SRV_URL/v2/e2e/big/blobs/$d2" | sha256_stdin)" "$d2" "GET the PATCHed blob"
    kill -TERM "$SRV_PID"
    srv_wait "$SRV_PID" 10
    assert_eq "$EXIT_RC" 0 "exit status"
    rm -f "$w/big" "$w/part"
}

sigint_with_idle_connection() {
    local line rc t0 i
    srv_start sigint "$E2E_WORK/sigint-data"
    # an idle keep-alive connection must not hold the shutdown for http.shutdown_grace (30 s)
    exec 5<>"/dev/tcp/${SRV%:*}/${SRV#*:}"
    printf 'GET /v2/ HTTP/1.1\r\nHost: %s\r\n\r\n' "$SRV" >&5
    IFS= read -r -t 5 line <&5
    assert_contains "$line" "HTTP/1.1 200" "keep-alive request"
    t0=$(date +%s%N)
    kill -INT "$SRV_PID"
    srv_wait "$SRV_PID" 10
    assert_eq "$EXIT_RC" 0 "exit status after SIGINT"
    echo "exited $((($(date +%s%N) - t0) / 1000000)) ms after SIGINT"
    (($(date +%s%N) - t0 < 3000000000)) || fail "SIGINT with an idle connection took more than 3 s"
    for ((i = 0; i < 100; i++)); do IFS= read -r -t 1 line <&5 || break; done   # server closed it
    exec 5<&-
    grep -q '"signal":2' "$SRV_ERR" || fail "shutting_down line lacks signal 2"
}

# A supervisor may send SIGTERM as soon as the port accepts connections; that must still be a
# graceful shutdown (exit 0), not death by the default signal disposition (143).
# Ports below the ephemeral range: a tight connect loop on an ephemeral port can self-connect.
sigterm_right_after_listen() {
    local i j port bad=() data=$E2E_WORK/early-data pid err
    for ((i = 0; i < 20; i++)); do
        for ((j = 0; j < 50; j++)); do
            port=$((20000 + RANDOM % 12000))
            port_in_use "$port" || break
        done
        err=$E2E_WORK/early-$i.serve.err
        setsid "$DERMAGA" serve --addr "127.0.0.1:$port" --data "$data" 2>"$err" &
        pid=$!
        echo "$pid" >>"$PIDS"
        for ((j = 0; j < 5000; j++)); do
            port_in_use "$port" && break
            kill -0 "$pid" 2>/dev/null || break
            ((j % 20 == 19)) && sleep 0.01
        done
        kill -TERM "$pid" 2>/dev/null || true
        srv_wait "$pid" 10
        if [[ $EXIT_RC != 0 ]]; then
            bad+=("run $i: exit $EXIT_RC")
            echo "run $i: exit $EXIT_RC; stderr:"
            sed 's/^/  | /' "$err"
        fi
    done
    ((${#bad[@]} == 0)) || fail "SIGTERM just after the port opened: ${bad[*]} (143 = killed by SIGTERM, i.e. no handler yet)"
    echo "ok: 20 starts, SIGTERM as soon as the port accepts, all exited 0"
}

json_logs() {
    local rid code
    srv_start logs "$E2E_WORK/logs-data"
    rid=$(curl -sS -D - -o /dev/null "$SRV_URL/v2/" | tr -d '\r' | awk 'tolower($1)=="x-request-id:"{print $2}')
    [[ -n $rid ]] || fail "no X-Request-Id on GET /v2/"
    code=$(http_code "$SRV_URL/v2/e2e/nope/manifests/latest")
    assert_eq "$code" 404 "unknown manifest"
    http_code -X POST "$SRV_URL/v2/e2e/logs/blobs/uploads/" >/dev/null
    # awkward bytes in the request line and headers must still give valid JSON lines
    local raw
    for raw in 'GET /v2/a"b\\c/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
        'GET /v2/\xff\xfe\xc3(/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
        'GET /v2/x/tags/list?n=1%00%0a"\\ HTTP/1.1\r\nHost: x\r\nUser-Agent: a"b\\c\x01\r\nConnection: close\r\n\r\n' \
        'NOT-HTTP\r\n\r\n' '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03'; do
        (
            exec 3<>"/dev/tcp/${SRV%:*}/${SRV#*:}"
            printf '%b' "$raw" >&3
            timeout 5 cat <&3 >/dev/null || true
        )
    done
    kill -TERM "$SRV_PID"
    srv_wait "$SRV_PID" 10
    assert_eq "$EXIT_RC" 0 "exit status"
    grep -q "\"rid\":\"$rid\"" "$SRV_ERR" || fail "X-Request-Id $rid not logged as rid"
    # every server's stderr in this run (the steps before this one too)
    "$PY" "$RC" checklogs "$E2E_WORK"/*.serve.err
}

check_config_unknown_key() {
    local out err rc=0 f=$E2E_WORK/bad.yaml
    printf 'http:\n  addr: 127.0.0.1:5000\n  bogus_knob: 3\nstorage:\n  data_dir: %s\n' "$E2E_WORK/cc" >"$f"
    "$DERMAGA" check-config -c "$f" >"$E2E_WORK/cc.out" 2>"$E2E_WORK/cc.err" || rc=$?
    err=$(cat "$E2E_WORK/cc.err")
    echo "exit $rc: $err"
    ((rc != 0)) || fail "check-config accepted an unknown key"
    assert_eq "$(wc -l <"$E2E_WORK/cc.err")" 1 "stderr line count"
    assert_contains "$err" "http.bogus_knob" "reason names the key"
    # serve refuses it the same way, before binding anything
    rc=0
    timeout 10 "$DERMAGA" serve -c "$f" --addr "127.0.0.1:$(pick_port)" 2>"$E2E_WORK/cc2.err" || rc=$?
    ((rc != 0 && rc != 124)) || fail "serve with an unknown key: exit $rc"
    assert_contains "$(cat "$E2E_WORK/cc2.err")" "http.bogus_knob" "serve: reason names the key"
    # a misspelt DERMAGA_* variable is also named
    rc=0
    DERMAGA_HTTP_READ_TIMEOT=2s "$DERMAGA" check-config 2>"$E2E_WORK/cc3.err" >/dev/null || rc=$?
    ((rc != 0)) || fail "check-config accepted DERMAGA_HTTP_READ_TIMEOT"
    assert_contains "$(cat "$E2E_WORK/cc3.err")" "DERMAGA_HTTP_READ_TIMEOT" "reason names the variable"
    # and a valid file passes
    printf 'http:\n  addr: 127.0.0.1:5000\n  read_timeout: 5s\n' >"$f"
    "$DERMAGA" check-config -c "$f" | grep -q 'configuration OK' || fail "valid file rejected"
}

env_overrides_file() {
    local p1 p2 f=$E2E_WORK/addr.yaml out pid
    p1=$(pick_port)
    p2=$(pick_port)
    [[ $p1 != "$p2" ]] || p2=$((p1 + 1))
    printf 'http:\n  addr: 127.0.0.1:%s\nstorage:\n  data_dir: %s\n' "$p1" "$E2E_WORK/env-data" >"$f"
    out=$(DERMAGA_HTTP_ADDR=127.0.0.1:$p2 "$DERMAGA" check-config -c "$f")
    assert_eq "$(awk '$1=="http.addr"{print $3}' <<<"$out")" "127.0.0.1:$p2" "check-config http.addr"
    assert_eq "$(awk '$1=="storage.data_dir"{print $3}' <<<"$out")" "$E2E_WORK/env-data" "check-config data_dir from file"
    DERMAGA_HTTP_ADDR=127.0.0.1:$p2 setsid "$DERMAGA" serve -c "$f" 2>"$E2E_WORK/env.serve.err" &
    pid=$!
    echo "$pid" >>"$PIDS"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ $(http_code --max-time 2 "http://127.0.0.1:$p2/healthz") == 200 ]] && break
        sleep 0.05
    done
    assert_eq "$(http_code --max-time 2 "http://127.0.0.1:$p2/v2/")" 200 "serve listens on DERMAGA_HTTP_ADDR"
    port_in_use "$p1" && fail "serve also listens on the file's address $p1"
    [[ -d $E2E_WORK/env-data ]] || fail "data dir from the file not used"
    kill -TERM "$pid"
    srv_wait "$pid" 10
    assert_eq "$EXIT_RC" 0 "exit status"
}

version_cmd() {
    local out rc=0
    out=$("$DERMAGA" version) || rc=$?
    assert_eq "$rc" 0 "version exit status"
    echo "$out"
    [[ $out =~ ^dermaga\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "unexpected version output: $out"
}

# The data dir is unwritable (read-only bind mount in this private mount namespace: root ignores
# permission bits), or lies below a regular file. serve must exit non-zero with one plain line.
unwritable_data_dir() {
    local ro=$E2E_WORK/ro-data dir rc lines plain port
    mkdir -p "$ro"
    mount --bind "$ro" "$ro"
    mount -o remount,bind,ro "$ro"
    echo x >"$E2E_WORK/a-file"
    for dir in "$ro" "$ro/sub" "$E2E_WORK/a-file/sub"; do
        port=$(pick_port)
        rc=0
        timeout 10 "$DERMAGA" serve --addr "127.0.0.1:$port" --data "$dir" >/dev/null 2>"$E2E_WORK/ro.err" || rc=$?
        echo "--data $dir: exit $rc"
        sed 's/^/  | /' "$E2E_WORK/ro.err"
        ((rc != 0 && rc != 124)) || fail "serve --data $dir: exit $rc"
        plain=$(grep -v '^{' "$E2E_WORK/ro.err" || true)
        lines=$(grep -c . <<<"$plain" || true)
        assert_eq "$lines" 1 "plain-text reason lines"
        [[ $plain == dermaga:* ]] || fail "reason does not start with 'dermaga:': $plain"
        [[ $plain == *"$dir"* || $plain == *"${dir%/sub}"* ]] || fail "reason does not name the path: $plain"
        grep -q '"event":"listening"' "$E2E_WORK/ro.err" && fail "it logged listening first"
        port_in_use "$port" && fail "port $port is bound"
    done
    umount "$ro"
}

# A database written by a newer binary (its schema version, SQLite's PRAGMA user_version or
# PostgreSQL's dermaga_schema, beyond the migrations this one has): serve refuses it with one
# line naming both versions, exits 1, binds nothing, and leaves the version as it was.
newer_schema_refused() {
    local w=$E2E_WORK/newer port rc=0 v plain
    mkdir -p "$w"
    "$DERMAGA" user list --data "$w" >/dev/null    # creates the metadata at this binary's version
    v=$(meta_schema_version "$w")
    ((v >= 1)) || fail "no schema version in a fresh database: '$v'"
    meta_schema_version "$w" "$((v + 1))" >/dev/null
    port=$(pick_port)
    timeout 10 "$DERMAGA" serve --addr "127.0.0.1:$port" --data "$w" >/dev/null 2>"$E2E_WORK/newer.err" || rc=$?
    sed 's/^/  | /' "$E2E_WORK/newer.err"
    assert_eq "$rc" 1 "serve exit status"
    plain=$(grep -v '^{' "$E2E_WORK/newer.err" || true)
    assert_eq "$(grep -c . <<<"$plain" || true)" 1 "plain-text reason lines"
    assert_contains "$plain" "dermaga: " "prefix"
    assert_contains "$plain" "database schema version $((v + 1)) is newer than this binary supports ($v)" "reason"
    assert_eq "$(meta_schema_version "$w")" "$((v + 1))" "schema version left as it was"
    grep -q '"event":"listening"' "$E2E_WORK/newer.err" && fail "it logged listening"
    port_in_use "$port" && fail "port $port is bound"
    return 0
}

# The client dies mid-PATCH: the server keeps what it stored, drops the connection at once (no
# socket left in CLOSE-WAIT until http.read_timeout), and the session resumes from its Range.
client_disconnect_mid_patch() {
    local w=$E2E_WORK/disc size=$((48 * MiB)) d loc cpid i have prev=-1 port lingering t0
    mkdir -p "$w"
    head -c "$size" /dev/urandom >"$w/blob"
    d=$(sha256_of "$w/blob")
    srv_start disc "$w/data" DERMAGA_HTTP_SHUTDOWN_GRACE=3s
    port=${SRV#*:}
    loc=$(post_upload "$SRV_URL" e2e/disc)
    curl -sS -o /dev/null --limit-rate 10M -X PATCH -T "$w/blob" -H 'Content-Type: application/octet-stream' \
        "$SRV_URL$loc" 2>/dev/null &
    cpid=$!
    echo "$cpid" >>"$PIDS"
    for ((i = 0; i < 200; i++)); do
        have=$(upload_bytes "$SRV_URL" "$loc")
        ((have >= 4 * MiB)) && break
        sleep 0.05
    done
    kill -KILL "$cpid"
    wait "$cpid" 2>/dev/null || true
    t0=$SECONDS
    # the server notices the reset and keeps what it got: wait for the size to settle
    for ((i = 0; i < 50; i++)); do
        have=$(upload_bytes "$SRV_URL" "$loc")
        ((have == prev)) && break
        prev=$have
        sleep 0.2
    done
    echo "curl killed; session holds $have of $size bytes"
    ((have > 0 && have < size)) || fail "unexpected session size $have"
    assert_eq "$(tail -c +"$((have + 1))" "$w/blob" | http_code -X PATCH --data-binary @- \
        -H 'Content-Type: application/octet-stream' -H "Content-Range: $have-$((size - 1))" "$SRV_URL$loc")" \
        202 "PATCH the rest from byte $have"
    assert_eq "$(upload_bytes "$SRV_URL" "$loc")" "$size" "session size"
    assert_eq "$(http_code -X PUT "$SRV_URL$loc?digest=$d")" 201 "PUT ?digest="
    assert_eq "$(curl -fsS "$SRV_URL/v2/e2e/disc/blobs/$d" | sha256_stdin)" "$d" "GET blob"
    for ((i = 0; i < 20; i++)); do
        lingering=$(ss -Htn state close-wait "( sport = :$port )" | wc -l)
        ((lingering == 0)) && break
        sleep 0.1
    done
    echo "$lingering $((SECONDS - t0))" >"$E2E_WORK/disc.lingering"
    kill -TERM "$SRV_PID"
    srv_wait "$SRV_PID" 10
    assert_eq "$EXIT_RC" 0 "exit status"
}

disconnect_releases_connection() {
    local lingering secs
    [[ -f $E2E_WORK/disc.lingering ]] || fail "the client-disconnect step did not get that far"
    read -r lingering secs <"$E2E_WORK/disc.lingering"
    ((lingering == 0)) || fail "${secs}s after the client died the server still held ${lingering} connection(s)" \
        "in CLOSE-WAIT: released only at http.read_timeout, and it holds up graceful shutdown meanwhile"
    echo "ok: no connection left in CLOSE-WAIT"
}

slow_clients() {
    local loc out t status have
    srv_start slow "$E2E_WORK/slow-data" DERMAGA_HTTP_READ_TIMEOUT=2s DERMAGA_HTTP_THREADS=1
    # 40 connections with a partial header (half of them dripping a byte every 0.5 s)
    "$PY" "$RC" slowloris --addr "$SRV" --conns 40 --timeout 2 --slack 3 --max-latency 1.0
    # a body that stalls: the server gives up after the read timeout, the session stays usable
    loc=$(post_upload "$SRV_URL" e2e/slow)
    out=$("$PY" "$RC" stall --addr "$SRV" --path "$loc" --length $((1 * MiB)) --send 100000 --seed 7 --wait 10)
    echo "stalled PATCH: closed after $out"
    t=${out%% *}
    status=${out#* }
    awk -v t="$t" 'BEGIN{exit !(t >= 1.5 && t <= 5)}' || fail "stalled body closed after $t s (read timeout 2 s)"
    have=$(upload_bytes "$SRV_URL" "$loc")
    echo "response: $status; session holds $have bytes"
    assert_contains "$status" " 408 " "status line of the stalled PATCH (docs/config.md promises 408)"
    ((have <= 100000)) || fail "session holds $have bytes, more than were sent"
    assert_eq "$(http_code -X DELETE "$SRV_URL$loc")" 204 "DELETE the stalled session"
    kill -TERM "$SRV_PID"
    srv_wait "$SRV_PID" 10
    assert_eq "$EXIT_RC" 0 "exit status"
}

t_run "SIGTERM during 300 MiB PUT + PATCH: both complete 2xx, exit 0, blob there after restart" sigterm_inflight
t_run "SIGINT with an idle keep-alive connection: exit 0 promptly" sigint_with_idle_connection
t_run "SIGTERM as soon as the port accepts: exit 0 (20 starts)" sigterm_right_after_listen
t_run "check-config: unknown key exits non-zero naming it" check_config_unknown_key
t_run "DERMAGA_HTTP_ADDR overrides the config file" env_overrides_file
t_run "version prints a version" version_cmd
t_run "serve with an unwritable data dir: one-line reason, non-zero exit" unwritable_data_dir
t_run "serve refuses a database with a newer schema: one line, exit 1, version untouched" newer_schema_refused
t_run "client killed mid-PATCH: session resumable from its Range" client_disconnect_mid_patch
t_run "client killed mid-PATCH: server drops the dead connection at once" disconnect_releases_connection
t_run "slowloris: partial headers don't block others, closed after read timeout" slow_clients
t_run "stderr of every server above: JSON lines with event, request lines carry rid" json_logs
e2e_finish
