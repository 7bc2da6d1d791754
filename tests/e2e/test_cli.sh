#!/usr/bin/env bash
# The management CLI against a real data directory while `dermaga serve` runs on it: the first
# administrator, htpasswd import, organisations, teams, robots and tokens created from the CLI
# and then used over HTTP with curl; error cases exit non-zero with a one-line reason.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "checks the dermaga management CLI" "$@"

DATA=$E2E_WORK/data
PIDS=$E2E_WORK/pids
: >"$PIDS"
e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
}
dm() { "$DERMAGA" "$@" --data "$DATA"; }

# srv_start: dermaga serve with access control on; sets SRV_URL, SRV_PID.
srv_start() {
    serve_dermaga cli "$DATA" DERMAGA_AUTH_ENABLED=true || fail "dermaga did not become healthy"
}

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# expect_error WANT_RC SUBSTRING CMD…: exits WANT_RC with exactly one stderr line containing SUBSTRING.
expect_error() {
    local want=$1 needle=$2 rc=0
    shift 2
    "$@" >"$E2E_WORK/out" 2>"$E2E_WORK/err" || rc=$?
    assert_eq "$rc" "$want" "exit status of: $*"
    assert_eq "$(wc -l <"$E2E_WORK/err")" 1 "stderr lines of: $*"
    assert_contains "$(cat "$E2E_WORK/err")" "$needle" "reason"
    assert_contains "$(cat "$E2E_WORK/err")" "dermaga: " "prefix"
}

first_admin() {
    echo "admin-password-1" | dm user add admin --admin --password-stdin
    assert_contains "$(dm user list)" "admin" "user list"
    assert_eq "$(dm user show admin --json | jq -r .admin)" true "admin flag"
}

serve_and_login() {
    assert_eq "$(code -u admin:admin-password-1 "$SRV_URL/api/v1/me")" 200 "admin logs in"
    assert_eq "$(code "$SRV_URL/api/v1/me")" 401 "anonymous refused"
}

import_htpasswd() {
    local hash
    hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("pw-12345678", crypt.mksalt(crypt.METHOD_BLOWFISH)))')
    [[ $hash == \$2* ]] || fail "python3 crypt did not produce bcrypt: $hash"
    printf 'dave:%s\nadmin:%s\n' "$hash" "$hash" >"$E2E_WORK/htpasswd"
    out=$(dm user import-htpasswd "$E2E_WORK/htpasswd")
    assert_contains "$out" "created dave" "import"
    assert_contains "$out" "skipped admin" "existing kept"
    assert_eq "$(curl -s -u dave:pw-12345678 "$SRV_URL/api/v1/me" | jq -r .name)" dave "imported user logs in"
}

org_team_robot_token() {
    dm org add acme --description "ACME"
    dm org add other
    dm org member set acme dave write
    dm team put acme devs --role read --ldap-group "cn=devs,dc=example,dc=org"
    dm team add-member acme devs dave
    assert_eq "$(dm team list acme --json | jq -r '.[0].members[0]')" dave "team member"
    dm repo grant other/shared --user dave read
    assert_eq "$(dm repo permissions other/shared --json | jq -r '.[0].subject')" dave "grant listed"
    dm repo visibility acme/public public >/dev/null
    assert_eq "$(code "$SRV_URL/v2/acme/public/tags/list")" 404 "public repo readable anonymously (no tags yet)"

    local secret token pat
    secret=$(dm robot add acme ci --role write --expires-in 30d 2>/dev/null)
    [[ $secret == dmg_robot_* ]] || fail "robot secret: $secret"
    assert_eq "$(dm robot list acme --json | jq -r '.[0].login')" "acme+ci" "robot listed"
    dm robot list acme --json | grep -q dmg_robot_ && fail "secret shown twice"
    token=$(curl -s -u "acme+ci:$secret" "$SRV_URL/token?service=dermaga&scope=repository:acme/app:pull,push" | jq -r .token)
    assert_eq "$(code -X POST -H "Authorization: Bearer $token" "$SRV_URL/v2/acme/app/blobs/uploads/")" 202 \
        "robot pushes to its organisation"
    assert_eq "$(code -X POST -u "acme+ci:$secret" "$SRV_URL/v2/other/app/blobs/uploads/")" 403 \
        "robot refused elsewhere"

    pat=$(dm token add dave laptop --scopes "pull" --expires-in 7d 2>/dev/null)
    [[ $pat == dmg_pat_* ]] || fail "token secret: $pat"
    assert_eq "$(code -u "dave:$pat" "$SRV_URL/v2/acme/app/tags/list")" 404 "PAT pulls (no tags yet)"
    assert_eq "$(code -X POST -u "dave:$pat" "$SRV_URL/v2/acme/app/blobs/uploads/")" 403 "PAT cannot push"
    assert_eq "$(code -X POST -u "dave:pw-12345678" "$SRV_URL/v2/acme/app/blobs/uploads/")" 202 "dave can push"
    dm token revoke dave laptop
    assert_eq "$(code -u "dave:$pat" "$SRV_URL/v2/acme/app/tags/list")" 401 "revoked token refused"
    assert_contains "$(dm token list dave)" "yes" "listed as revoked"
    dm keys rotate
    assert_eq "$(code -X POST -H "Authorization: Bearer $token" "$SRV_URL/v2/acme/app/blobs/uploads/")" 202 \
        "old token verifies after rotation"
}

audit_trail() {
    dm audit --limit 5
    local n
    n=$(dm audit --jsonl --action robot.create | jq -r '.actor' | grep -c '^cli:')
    assert_eq "$n" 1 "robot.create audited as the cli operator"
    assert_eq "$(dm audit --jsonl --limit 3 | wc -l)" 3 "limit"
    assert_eq "$(dm audit --json --since 2999-01-01T00:00:00Z | jq length)" 0 "since"
    assert_eq "$(curl -s -u admin:admin-password-1 "$SRV_URL/api/v1/audit?action=token.revoke" | jq -r '.[0].object')" \
        "user:dave/token:laptop" "visible through the API"
}

error_cases() {
    expect_error 1 "no such user nobody" dm token add nobody t1 --scopes pull
    expect_error 1 "role" dm org member set acme dave owner
    expect_error 1 "taken" dm org add acme
    expect_error 1 "last global administrator" dm user delete admin
    expect_error 1 "scopes" dm token add dave t2 --scopes "pull fly"
    expect_error 2 "config" "$DERMAGA" user list --config "$E2E_WORK/missing.yaml"
    local rc=0
    "$DERMAGA" user add 2>/dev/null || rc=$?
    assert_eq "$rc" 2 "usage error"
    rc=0
    "$DERMAGA" user add eve --data "$DATA" </dev/null 2>/dev/null || rc=$?
    assert_eq "$rc" 1 "no password on stdin"
}

# subcommands COMMAND…: the subcommand names listed by `dermaga COMMAND… --help`.
subcommands() {
    "$DERMAGA" "$@" --help | awk '/^Subcommands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}'
}

# Every management command, at any depth, lists -c/--config and --data in its --help (and
# takes them after its own arguments).
help_lists_store_options() {
    local top cmd sub n=0 out p paths=()
    for top in $(subcommands); do
        case $top in serve | check-config | version) continue ;; esac
        paths+=("$top")
        for cmd in $(subcommands "$top"); do
            paths+=("$top $cmd")
            for sub in $(subcommands "$top" "$cmd"); do paths+=("$top $cmd $sub"); done
        done
    done
    for p in "${paths[@]}"; do
        # shellcheck disable=SC2086
        out=$("$DERMAGA" $p --help)
        assert_contains "$out" "-c,--config" "dermaga $p --help"
        assert_contains "$out" "--data" "dermaga $p --help"
        n=$((n + 1))
    done
    ((n >= 35)) || fail "only $n management commands found in the help"
    echo "ok: $n management commands list -c/--config and --data"
    assert_eq "$("$DERMAGA" user list --json --data "$DATA" | jq -r '.[0].name')" admin "user list … --data"
    assert_eq "$("$DERMAGA" user show admin --data "$DATA" --json | jq -r .name)" admin "user show NAME --data"
}

t_run "first administrator: user add --admin --password-stdin" first_admin
t_run "every management command's --help lists -c/--config and --data" help_lists_store_options
srv_start  # here, not in a step: steps run in subshells and need SRV_URL
t_run "serve with access control; the admin logs in" serve_and_login
t_run "import-htpasswd: bcrypt entries, existing names skipped" import_htpasswd
t_run "org, team, grant, robot, token from the CLI work over HTTP while serving" org_team_robot_token
t_run "audit: filters, limit, JSON lines; the API sees CLI entries" audit_trail
t_run "errors: one line on stderr, exit 1 (2 for usage and config)" error_cases
e2e_finish
