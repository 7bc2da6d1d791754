#!/usr/bin/env bash
# Shutdown deadlines of the dermaga binary, with a request kept in flight by a body that stops
# arriving: http.shutdown_grace expiring (exit 0 once the grace has passed, not before), and a
# second SIGTERM during the drain (exit at once, 128+15, forced_exit logged).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "checks the dermaga binary's shutdown deadlines" "$@"

PIDS=$E2E_WORK/pids    # every process a step starts, killed (by PID) at exit if still alive
: >"$PIDS"

e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
}

# srv_start NAME [VAR=VALUE…]: access control off (the uploads below need no token), bodies
# without a minimum rate, and a long read deadline: only the shutdown may end the request.
srv_start() {
    local name=$1
    shift
    serve_dermaga "$name" "$E2E_WORK/$name.data" DERMAGA_AUTH_ENABLED=false DERMAGA_HTTP_READ_TIMEOUT=120s \
        DERMAGA_HTTP_MIN_BODY_RATE=0 "$@" || fail "dermaga ($name) did not become healthy"
}

# stall_request: a PATCH announcing 1000000 bytes sends 3 and stops, on fd 5: in flight until
# the server gives up on it.
stall_request() {
    local loc
    loc=$(curl -fsS -X POST -D - -o /dev/null "$SRV_URL/v2/e2e/drain/blobs/uploads/" | tr -d '\r' |
        awk 'tolower($1)=="location:"{print $2}')
    [[ -n $loc ]] || fail "no upload session"
    exec 5<>"/dev/tcp/${SRV%:*}/${SRV#*:}"
    printf 'PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\nabc' \
        "$loc" "$SRV" >&5
    sleep 0.5   # the handler is now reading the body
}

# wait_exit T0_NS LIMIT_S: waits for $SRV_PID to end; sets EXIT_RC and EXIT_MS (since T0_NS)
wait_exit() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.02
    done
    EXIT_MS=$((($(date +%s%N) - $1) / 1000000))
    kill -0 "$SRV_PID" 2>/dev/null && fail "still running $2 s after the signal"
    EXIT_RC=0
    wait "$SRV_PID" || EXIT_RC=$?
}

grace_expiry() {
    local t0
    srv_start grace DERMAGA_HTTP_SHUTDOWN_GRACE=2s
    stall_request
    t0=$(date +%s%N)
    kill -TERM "$SRV_PID"
    wait_exit "$t0" 10
    echo "exit $EXIT_RC ${EXIT_MS} ms after SIGTERM (grace 2 s)"
    assert_eq "$EXIT_RC" 0 "exit status when the grace expires"
    ((EXIT_MS >= 1800)) || fail "exited after $EXIT_MS ms, before the 2 s grace, with a request in flight"
    ((EXIT_MS < 6000)) || fail "exited after $EXIT_MS ms: the 2 s grace did not bound the drain"
    exec 5<&-
}

second_sigterm() {
    local t0
    srv_start twice DERMAGA_HTTP_SHUTDOWN_GRACE=60s
    stall_request
    kill -TERM "$SRV_PID"
    sleep 0.5
    kill -0 "$SRV_PID" 2>/dev/null || fail "exited on the first SIGTERM with a request in flight"
    grep -q '"event":"shutting_down"' "$SRV_ERR" || fail "no shutting_down line after the first SIGTERM"
    t0=$(date +%s%N)
    kill -TERM "$SRV_PID"
    wait_exit "$t0" 5
    echo "exit $EXIT_RC ${EXIT_MS} ms after the second SIGTERM (grace 60 s)"
    assert_eq "$EXIT_RC" 143 "exit status after a second SIGTERM (128+15)"
    ((EXIT_MS < 2000)) || fail "the second SIGTERM took $EXIT_MS ms"
    grep -q '"event":"forced_exit"' "$SRV_ERR" || fail "no forced_exit line"
    exec 5<&-
}

t_run "shutdown_grace expires with a request in flight: exit 0 after the grace, not before" grace_expiry
t_run "a second SIGTERM during the drain exits at once (143, forced_exit)" second_sigterm
e2e_finish
