#!/usr/bin/env bash
# dermaga migrate-meta, end to end: images pushed with skopeo to dermaga on SQLite (access
# control on: an administrator, a personal access token, an organisation with a robot), the
# server stopped, its metadata copied with `dermaga migrate-meta` into an empty database of a
# private PostgreSQL, dermaga started on PostgreSQL over the same blob directory (meta.db moved
# away), and every image pulled back with skopeo using the migrated credentials, digests and
# bytes compared. Row counts per table are checked independently with sqlite3 and psql; a
# second migration into the now non-empty database is refused and changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_sqlite_pass_only  # it starts on SQLite and brings its own PostgreSQL
e2e_init_own_dermaga "migrates dermaga's metadata to PostgreSQL" "$@"
command -v sqlite3 >/dev/null || die "sqlite3 not installed (Debian package sqlite3)"
command -v psql >/dev/null || die "psql not installed (Debian package postgresql-client)"
if [[ -z ${E2E_FIXTURES:-} ]]; then
    bash "$E2E_DIR/fixtures.sh" "${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}" >&2
    E2E_FIXTURES=${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}/oci
fi
FIX=$E2E_FIXTURES
DATA=$E2E_WORK/data
PIDS=$E2E_WORK/pids
: >"$PIDS"
PW=migrate-Admin-pw-$RANDOM
export DERMAGA_AUTH_ENABLED=true
e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
    pg_stop
}
dm() { "$DERMAGA" "$@" --data "$DATA"; }
pg_start "$E2E_WORK/pg"
REG=127.0.0.1:1                  # e2e_setup_clients wants one; every copy below says tls-verify=false
e2e_setup_clients
DSN=$(pg_dsn migrated)

# IMAGES: repository:tag → fixture tag (skopeo flags)
declare -A FIXTURE=([admin/single:v1]=single [admin/multi:v1]=multi [acme/app:2]=single)
stop_server() {
    kill -TERM "$SRV_PID"
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SRV_PID" 2>/dev/null && fail "dermaga did not stop"
    wait "$SRV_PID" 2>/dev/null || true
}

on_sqlite() {
    echo "$PW" | dm user add admin --admin --password-stdin
    dm org add acme --visibility private
    dm robot add acme ci --role write >"$E2E_WORK/robot.secret"
    dm token add admin laptop --scopes "pull push" >"$E2E_WORK/token.secret"
    serve_dermaga sqlite "$DATA" || fail "dermaga on SQLite did not become healthy"
    local ref
    for ref in "${!FIXTURE[@]}"; do
        local all=()
        [[ ${FIXTURE[$ref]} == multi ]] && all=(--all)
        sk copy --quiet --preserve-digests "${all[@]}" --dest-tls-verify=false --dest-creds "admin:$PW" \
            "oci:$FIX:${FIXTURE[$ref]}" "docker://$SRV/$ref"
    done
    sk copy --quiet --preserve-digests --dest-tls-verify=false --dest-creds "acme+ci:$(cat "$E2E_WORK/robot.secret")" \
        "oci:$FIX:single" "docker://$SRV/acme/app:robot"
    curl -s -o /dev/null -u admin:wrong "$SRV_URL/v2/"   # a failed login: a lockout counter row
    sleep 1.5                                             # the audit writer's batch
    stop_server
    [[ -s $DATA/meta.db ]] || fail "no SQLite database"
}

migrate() {
    pg_sql postgres "CREATE DATABASE migrated"
    local out
    out=$("$DERMAGA" migrate-meta --from "$DATA/meta.db" --to "$DSN")
    echo "$out"
    assert_contains "$out" "every table's count verified" "summary"
    # Independently of dermaga: every table holds as many rows on both sides.
    local table rows n=0
    while read -r table rows; do
        [[ $table == TABLE || $table == copied ]] && continue
        assert_eq "$(sqlite3 -readonly "$DATA/meta.db" "select count(*) from $table")" "$rows" "sqlite3 count of $table"
        assert_eq "$(pg_sql migrated "select count(*) from $table")" "$rows" "psql count of $table"
        n=$((n + 1))
    done <<<"$out"
    ((n >= 20)) || fail "only $n tables listed"
    (($(pg_sql migrated "select count(*) from audit") > 0)) || fail "no audit rows copied"
    mv "$DATA/meta.db" "$DATA/meta.db.migrated"   # from here on nothing can read it
    rm -f "$DATA/meta.db-wal" "$DATA/meta.db-shm"
}

on_postgres() {
    serve_dermaga postgres "$DATA" DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="$DSN" ||
        fail "dermaga on PostgreSQL did not become healthy"
    [[ ! -e $DATA/meta.db ]] || fail "dermaga on PostgreSQL created meta.db"
    local ref token
    token=$(cat "$E2E_WORK/token.secret")
    for ref in "${!FIXTURE[@]}"; do
        local all=() tag=${FIXTURE[$ref]} out=$E2E_WORK/back-${ref//[\/:]/_}
        [[ $tag == multi ]] && all=(--all)
        # pulled with the migrated personal access token
        sk copy --quiet "${all[@]}" --src-tls-verify=false --src-creds "admin:$token" "docker://$SRV/$ref" "oci:$out:$tag"
        assert_layout_equal "$FIX" "$tag" "$out" "$tag"
    done
    sk copy --quiet --src-tls-verify=false --src-creds "acme+ci:$(cat "$E2E_WORK/robot.secret")" \
        "docker://$SRV/acme/app:robot" "oci:$E2E_WORK/back-robot:single"
    assert_layout_equal "$FIX" single "$E2E_WORK/back-robot" single
    # the administrator's password, the catalog, and a push that needs fresh ids
    assert_eq "$(curl -fsS -u "admin:$PW" "$SRV_URL/v2/_catalog" | jq -c .repositories)" \
        '["acme/app","admin/multi","admin/single"]' "catalog"
    echo "$PW" | DERMAGA_META_DRIVER=postgres DERMAGA_META_POSTGRES_DSN="$DSN" dm user add later --password-stdin
    assert_contains "$(pg_sql migrated "select name from users")" "later" "a user added after the migration"
    sk copy --quiet --dest-tls-verify=false --dest-creds "admin:$PW" "oci:$FIX:single" "docker://$SRV/admin/after:1"
    # anonymous access to the private organisation is still refused
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SRV_URL/v2/acme/app/tags/list")" 401 "anonymous on acme/app"
    [[ ! -e $DATA/meta.db ]] || fail "something opened SQLite after the migration"
}

refuse_second_copy() {
    local before rc=0
    before=$(pg_sql migrated "select count(*) from users")
    cp "$DATA/meta.db.migrated" "$E2E_WORK/again.db"
    "$DERMAGA" migrate-meta --from "$E2E_WORK/again.db" --to "$DSN" >"$E2E_WORK/again.out" 2>"$E2E_WORK/again.err" || rc=$?
    assert_eq "$rc" 1 "exit status"
    assert_eq "$(wc -l <"$E2E_WORK/again.err")" 1 "one line of reason"
    assert_contains "$(cat "$E2E_WORK/again.err")" "dermaga: the target database is not empty" "reason"
    assert_eq "$(pg_sql migrated "select count(*) from users")" "$before" "users untouched"
    rc=0
    "$DERMAGA" migrate-meta --from "$E2E_WORK/absent.db" --to "$DSN" 2>"$E2E_WORK/absent.err" || rc=$?
    assert_eq "$rc" 1 "missing source: exit status"
    assert_contains "$(cat "$E2E_WORK/absent.err")" "no SQLite database at" "missing source: reason"
    [[ ! -e $E2E_WORK/absent.db ]] || fail "a missing source was created"
}

t_run "push images, a robot's and a token's, on SQLite" on_sqlite
t_run "migrate-meta into an empty PostgreSQL database; counts agree per table" migrate
t_run "dermaga on PostgreSQL: every image pulls back byte-exact with migrated credentials" on_postgres
t_run "a second migration into the non-empty database is refused" refuse_second_copy
e2e_finish
