#!/usr/bin/env bash
# Crash safety: `kill -9` the registry while concurrent clients push, restart it on the same
# data dir, and check that everything it acknowledged (201) is intact and nothing is
# half-visible; sessions the kill interrupted resume. Three kill cycles on one data dir.
#
# Pushers (regclient.py push, raw HTTP): POST, PATCH chunks with Content-Range, PUT ?digest=,
# monolithic POST ?digest=, PUT manifest by tag; blobs 4 KiB–20 MiB of incompressible bytes.
# Each records a blob/manifest/tag in its log only after the 201. A slow pusher keeps one
# 20 MiB chunked upload in flight so every cycle has an interrupted session to resume.
#
# Blobs that `resume` completes are recorded as acknowledged too, so the later cycles and the
# final step check them byte for byte after every further kill. How fast the restart is is not
# checked here (bench/run.sh reports it as the "restart" row).
#
# Env: E2E_CRASH_CYCLES (3), E2E_CRASH_PUSHERS (6).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "restarts the dermaga binary itself" "$@"

CYCLES=${E2E_CRASH_CYCLES:-3}
PUSHERS=${E2E_CRASH_PUSHERS:-6}
LOGS=$E2E_WORK/acks
mkdir -p "$LOGS"
PUSH_PIDS=()

e2e_test_cleanup() {
    local p
    for p in "${PUSH_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

# restart on the same port and data dir; sets REG_PID, and RESTARTED=1 once it answers
registry_restart() {
    RESTARTED=0
    setsid "$DERMAGA" serve --addr "$REG" --data "$REG_DATA" >>"$REG_LOG" 2>&1 &
    REG_PID=$!
    if registry_wait_ready; then
        RESTARTED=1
        log "restarted (pid $REG_PID)"
        return 0
    fi
    log "registry did not come back; log tail:"
    tail -n 20 "$REG_LOG" >&2
}

# start the pushers, wait until all of them have traffic going, then kill -9 after 1–3 s
load_and_kill() {
    local c=$1 w i n delay
    PUSH_PIDS=()
    for ((w = 0; w < PUSHERS; w++)); do
        "$PY" "$RC" push --addr "$REG" --repo "crash/r$((w % 3))" --tag "c$c-w$w" \
            --log "$LOGS/c$c-w$w.jsonl" --seed "$((c * 1000 + w + RANDOM))" 2>>"$LOGS/c$c-errors" &
        PUSH_PIDS+=($!)
    done
    "$PY" "$RC" push --slow --addr "$REG" --repo crash/slow --tag "c$c-slow" \
        --log "$LOGS/c$c-slow.jsonl" --seed "$((c * 1000 + 999))" 2>>"$LOGS/c$c-errors" &
    PUSH_PIDS+=($!)
    local logs=()
    for ((i = 0; i < 300; i++)); do   # up to 30 s for every pusher's first acknowledged request
        logs=("$LOGS"/c"$c"-*.jsonl)
        n=$(cat "${logs[@]}" 2>/dev/null | grep -c '"upload_started"' || true)
        ((${#logs[@]} == PUSHERS + 1 && n >= PUSHERS)) && break
        sleep 0.1
    done
    delay=$((1000 + RANDOM % 2001))
    sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
    kill -KILL "$REG_PID"
    wait "$REG_PID" 2>/dev/null || true
    log "cycle $c: killed registry pid $REG_PID after ${delay} ms of traffic"
    REG_PID=
    for i in "${!PUSH_PIDS[@]}"; do
        # they exit on the connection error; bound the wait anyway
        timeout 10 tail --pid="${PUSH_PIDS[$i]}" -f /dev/null || kill -KILL "${PUSH_PIDS[$i]}" 2>/dev/null || true
        wait "${PUSH_PIDS[$i]}" 2>/dev/null || echo "pusher $i exited with $?" >>"$LOGS/c$c-errors"
    done
    PUSH_PIDS=()
}

check_traffic() {
    local c=$1 blobs manifests
    if [[ -s $LOGS/c$c-errors ]]; then
        cat "$LOGS/c$c-errors"
        fail "pushers saw unexpected responses before the kill"
    fi
    blobs=$(cat "$LOGS"/c"$c"-*.jsonl | grep -c '"ev": "blob"' || true)
    manifests=$(cat "$LOGS"/c"$c"-*.jsonl | grep -c '"ev": "manifest"' || true)
    echo "cycle $c: $blobs blobs and $manifests manifests acknowledged before the kill"
    ((blobs > 0)) || fail "no blob was acknowledged before the kill"
    # what the kill interrupted: acknowledged chunks of sessions that never completed
    grep -h '"ev": "stopped"' "$LOGS"/c"$c"-*.jsonl | head -n 3 || true
}

check_restart() {
    ((RESTARTED == 1)) || fail "registry did not become healthy after the restart"
    echo "ok: healthy again (how fast is not checked here: bench/run.sh reports it)"
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$REG_URL/v2/")" 200 "GET /v2/ after restart"
}

# Every log: the pushers' acknowledgements and the blobs resume completed (resumed-c*.jsonl).
verify_all() { "$PY" "$RC" verify --addr "$REG" "$LOGS"/*.jsonl; }
resume_cycle() {
    local acked=$LOGS/resumed-c$1.jsonl n
    : >"$LOGS/c$1-lost"
    # On PostgreSQL other nodes could hold live claims, so the killed process's claims on the
    # uploads it was writing run out by their lease (10 s); SQLite frees them at start-up.
    [[ ${E2E_META:-sqlite} == postgres ]] && sleep 11
    "$PY" "$RC" resume --addr "$REG" --min-resumed 1 --lost "$LOGS/c$1-lost" --acked "$acked" "$LOGS"/c"$1"-*.jsonl
    n=$(grep -c '"ev": "blob"' "$acked" || true)
    ((n >= 1)) || fail "resume recorded no completed blob in $acked"
    echo "ok: $n blobs completed by resume, recorded for the checks after the next kills"
}
# A session whose completing PUT ?digest= the kill cut off must end up either completed (blob
# there) or still resumable (GET gives 204 + Range). Seen instead: session 404, blob 404.
no_lost_sessions() {
    [[ -f $LOGS/c$1-lost ]] || fail "resume step did not run"
    if [[ -s $LOGS/c$1-lost ]]; then
        cat "$LOGS/c$1-lost"
        fail "$(wc -l <"$LOGS/c$1-lost") session(s) neither completed nor resumable after the kill"
    fi
    echo "ok: every session cut off in its final PUT was completed or resumable"
}

registry_start
for ((c = 1; c <= CYCLES; c++)); do
    load_and_kill "$c"
    t_run "cycle $c: concurrent pushes until kill -9" check_traffic "$c"
    registry_restart
    t_run "cycle $c: restart on the same data dir" check_restart
    [[ -n $REG_PID ]] || break
    t_run "cycle $c: acknowledged blobs/manifests/tags intact, catalog all pullable" verify_all
    t_run "cycle $c: uploads interrupted by the kill resume and complete" resume_cycle "$c"
    t_run "cycle $c: a session cut off in its final PUT is completed or resumable" no_lost_sessions "$c"
done
t_run "after $CYCLES cycles: everything acknowledged or resumed still intact" verify_all
e2e_finish
