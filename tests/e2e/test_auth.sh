#!/usr/bin/env bash
# Access control with real clients over verified TLS: `dermaga serve` with auth on, a bootstrap
# admin and a CA made here with openssl. Anonymous challenge and refusals; podman login/push/
# pull/logout; skopeo --creds; ctr --user with a hosts.toml naming the CA; docker CLI with config.json auths;
# client-certificate login (mTLS, CN=admin); brute-force lockout (429 + Retry-After); and the
# audit rows in the metadata store (SQLite or PostgreSQL) for each of these. No client is ever
# told to skip verification.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export DERMAGA_AUTH_ENABLED=true    # lib.sh turns access control off for the other suites
e2e_init_own_dermaga "checks dermaga's access control" "$@"
if [[ ${E2E_META:-sqlite} == postgres ]]; then
    command -v psql >/dev/null || die "psql not installed (Debian package postgresql-client)"
else
    command -v sqlite3 >/dev/null || die "sqlite3 not installed (Debian package sqlite3)"
fi

if [[ -z ${E2E_FIXTURES:-} ]]; then
    bash "$E2E_DIR/fixtures.sh" "${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}" >&2
    E2E_FIXTURES=${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}/oci
fi
FIX=$E2E_FIXTURES
SINGLE=$(oci_digest "$FIX" single)
W=$E2E_WORK
PW=e2e-Admin-pw-$RANDOM$RANDOM
PKI=$W/pki
CERTS=$W/certs.d          # ca.crt only: podman/skopeo --cert-dir
MCERTS=$W/certs-mtls.d    # ca.crt + admin.cert/admin.key: skopeo presents the client certificate
DATA=$W/registry-data
PIDS=$W/pids
: >"$PIDS"
mkdir -p "$PKI" "$CERTS" "$MCERTS"

# ------------------------------------------------------------------------------------------
# PKI (EC P-256): server CA + server certificate for 127.0.0.1/localhost; a separate client CA
# that issues CN=admin.

pki_ca ca "Dermaga e2e auth CA"
pki_ca clientca "Dermaga e2e client CA"
pki_leaf ca server "dermaga e2e registry" server
pki_leaf clientca admin admin client
CA=$PKI/ca.crt
cp "$CA" "$CERTS/ca.crt"
cp "$CA" "$MCERTS/ca.crt"
cp "$PKI/admin.crt" "$MCERTS/admin.cert"
cp "$PKI/admin.key" "$MCERTS/admin.key"

# ------------------------------------------------------------------------------------------
# the server: HTTPS, auth on, bootstrap admin; one data dir for every (re)start

e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
    containerd_stop
}

# srv_start NAME [VAR=VALUE…]: sets SRV (127.0.0.1:PORT), SRV_URL, SRV_PID, SRV_ERR; ready
# when /healthz answers 200 over verified https.
srv_start() {
    local name=$1
    shift
    SRV_SCHEME=https
    SRV_CURL=(--cacert "$CA")
    serve_dermaga "$name" "$DATA" DERMAGA_AUTH_ENABLED=true DERMAGA_BOOTSTRAP_ADMIN_PASSWORD="$PW" \
        DERMAGA_HTTP_TLS_CERT="$PKI/server.crt" DERMAGA_HTTP_TLS_KEY="$PKI/server.key" "$@" ||
        die "dermaga ($name) did not become healthy"
    log "dermaga ($name) pid $SRV_PID on $SRV_URL"
}

srv_stop() {
    kill -TERM "$SRV_PID"
    for _ in $(seq 1 200); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
}

# hdrs ARGS…: status line + headers of a verified curl request (body dropped)
hdrs() { curl -sS -o /dev/null -D - --max-time 10 --cacert "$CA" "$@" | tr -d '\r'; }
status() { curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA" "$@"; }

srv_start main DERMAGA_BOOTSTRAP_ADMIN_USER=admin
grep -q '"event":"bootstrap_admin_created"' "$SRV_ERR" || die "no bootstrap_admin_created in the log"
# shellcheck disable=SC2034  # e2e_setup_clients (lib.sh) reads REG
REG=$SRV
e2e_setup_clients
# No registries.conf entry for this registry: nothing marks it insecure.
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$CONTAINERS_REGISTRIES_CONF"
VERIFY=(--tls-verify=true --cert-dir "$CERTS")
PM_AUTH=$W/podman-auth.json    # podman login writes here, never into REGISTRY_AUTH_FILE

# ------------------------------------------------------------------------------------------

anonymous() {
    local h
    h=$(hdrs "$SRV_URL/v2/")
    echo "$h"
    assert_contains "$(head -n1 <<<"$h")" " 401" "anonymous GET /v2/"
    assert_contains "$h" "Bearer realm=\"https://$SRV/token\",service=\"dermaga\"" "challenge"
    # anonymous push: challenged with the push scope, no upload session
    h=$(curl -sS -o /dev/null -D - --cacert "$CA" -X POST "$SRV_URL/v2/admin/anon/blobs/uploads/" | tr -d '\r')
    echo "$h"
    assert_contains "$(head -n1 <<<"$h")" " 401" "anonymous POST upload"
    assert_contains "$h" 'scope="repository:admin/anon:pull,push"' "challenge scope"
    # a token issued to anonymous carries no push right: the upload is still refused
    local tok
    tok=$(curl -fsS --cacert "$CA" "$SRV_URL/token?service=dermaga&scope=repository:admin/anon:pull,push" | jq -er .token)
    assert_eq "$(status -X POST -H "Authorization: Bearer $tok" "$SRV_URL/v2/admin/anon/blobs/uploads/")" 401 \
        "anonymous token, POST upload"
    # Basic works directly on /v2, and the CA is really checked
    assert_eq "$(status -u "admin:$PW" "$SRV_URL/v2/")" 200 "Basic admin on /v2/"
    assert_eq "$(status -u "admin:wrong" "$SRV_URL/v2/")" 401 "Basic with a wrong password"
    expect_fail "SSL certificate problem" curl -sS -o /dev/null --max-time 5 "$SRV_URL/v2/"  # system CAs do not know ours
}

podman_flow() {
    local d got
    # wrong password: non-zero exit, nothing stored
    expect_fail "invalid username/password|unauthorized" pm login "${VERIFY[@]}" --authfile "$PM_AUTH" -u admin -p wrong-password "$SRV"
    printf '%s' "$PW" | pm login "${VERIFY[@]}" --authfile "$PM_AUTH" -u admin --password-stdin "$SRV"
    assert_eq "$(jq -r --arg r "$SRV" '.auths[$r].auth' "$PM_AUTH" | base64 -d)" "admin:$PW" "authfile entry"
    pm pull -q "oci:$FIX:single"
    pm tag "$(pm images -q | head -n1)" "$SRV/admin/pod:1"
    pm push "${VERIFY[@]}" --authfile "$PM_AUTH" --digestfile "$W/pod.digest" "$SRV/admin/pod:1"
    d=$(cat "$W/pod.digest")
    sk inspect --raw --creds "admin:$PW" "${VERIFY[@]}" "docker://$SRV/admin/pod:1" >"$W/pod.raw"
    assert_eq "$(sha256_of "$W/pod.raw")" "$d" "podman --digestfile vs skopeo inspect --raw"
    pm rmi -a -f >/dev/null
    pm pull "${VERIFY[@]}" --authfile "$PM_AUTH" "$SRV/admin/pod:1"
    assert_eq "$(pm image inspect --format '{{.Digest}}' "$SRV/admin/pod:1")" "$d" "pulled digest"
    sk copy --quiet --src-creds "admin:$PW" --src-cert-dir "$CERTS" --src-tls-verify=true \
        "docker://$SRV/admin/pod:1" "oci:$W/pod-back:1"
    assert_layers_match_diffids "$W/pod-back" 1
    assert_eq "$(diff_ids "$W/pod-back" 1 | tr '\n' ' ')" "$(diff_ids "$FIX" single | tr '\n' ' ')" "diff_ids vs fixture"
    # logout: the private repository is refused
    pm logout --authfile "$PM_AUTH" "$SRV"
    pm rmi -a -f >/dev/null
    if got=$(pm pull "${VERIFY[@]}" --authfile "$PM_AUTH" "$SRV/admin/pod:1" 2>&1); then
        fail "pull after logout succeeded"
    fi
    echo "$got"
    grep -Eqi "unauthorized|authentication required|denied" <<<"$got" || fail "not an auth error: $got"
}

skopeo_flow() {
    sk copy --quiet --preserve-digests --dest-creds "admin:$PW" --dest-cert-dir "$CERTS" --dest-tls-verify=true \
        "oci:$FIX:single" "docker://$SRV/admin/sk:1"
    assert_eq "$(sk inspect --creds "admin:$PW" "${VERIFY[@]}" "docker://$SRV/admin/sk:1" | jq -r .Digest)" \
        "$SINGLE" "skopeo inspect --creds"
    sk copy --quiet --src-creds "admin:$PW" --src-cert-dir "$CERTS" --src-tls-verify=true \
        "docker://$SRV/admin/sk:1" "oci:$W/sk-back:1"
    assert_layout_equal "$FIX" single "$W/sk-back" 1
    # without credentials: reading and pushing are refused
    expect_fail "unauthorized|authentication required" sk inspect --raw "${VERIFY[@]}" "docker://$SRV/admin/sk:1"
    expect_fail "requested access to the resource is denied|unauthorized" sk copy --quiet --dest-cert-dir "$CERTS" \
        --dest-tls-verify=true "oci:$FIX:single" "docker://$SRV/admin/sk-anon:1"
    expect_fail "unauthorized|invalid username/password" sk copy --quiet --dest-creds "admin:not-it" --dest-cert-dir "$CERTS" --dest-tls-verify=true \
        "oci:$FIX:single" "docker://$SRV/admin/sk-wrong:1"
    assert_eq "$(status -u "admin:$PW" "$SRV_URL/v2/admin/sk-anon/tags/list")" 404 "refused push left no repo"
}

# --- private containerd (lib.sh) ------------------------------------------------------------
c() { ctr -a "$CD_SOCK" -n e2e-auth "$@"; }

# ctr_hosts DIR [CA]: a hosts dir naming the registry as https, with CA trusted if given.
# (ctr 1.6 speaks plain http to 127.0.0.1 unless a hosts.toml says https; --tlscacert alone
# does not change the scheme.)
ctr_hosts() {
    mkdir -p "$1/$SRV"
    {
        printf 'server = "https://%s"\n\n[host."https://%s"]\n  capabilities = ["pull", "resolve", "push"]\n' "$SRV" "$SRV"
        [[ -z ${2:-} ]] || printf '  ca = "%s"\n' "$2"
    } >"$1/$SRV/hosts.toml"
    cat "$1/$SRV/hosts.toml"
}

ctr_flow() {
    local have d
    ctr_hosts "$W/hosts" "$CA"
    ctr_hosts "$W/hosts-noca"
    expect_fail "insufficient_scope|unauthorized" c images pull --hosts-dir "$W/hosts" "$SRV/admin/sk:1"  # anonymous
    expect_fail "x509|certificate" c images pull --hosts-dir "$W/hosts-noca" --user "admin:$PW" "$SRV/admin/sk:1"  # CA unknown
    c images pull --hosts-dir "$W/hosts" --user "admin:$PW" "$SRV/admin/sk:1"
    assert_eq "$(c images ls "name==$SRV/admin/sk:1" | awk 'NR==2{print $3}')" "$SINGLE" "ctr image target"
    have=$(c content ls -q)
    for d in $(oci_closure "$FIX" "$SINGLE" | sort -u); do
        grep -qx "$d" <<<"$have" || fail "content store lacks $d"
        c content get "$d" | cmp - "$(oci_blob "$FIX" "$d")"
    done
    echo "ok: pulled blobs identical to the fixture"
    c images tag "$SRV/admin/sk:1" "$SRV/admin/ctr:1"
    expect_fail "insufficient_scope|unauthorized" c images push --hosts-dir "$W/hosts" "$SRV/admin/ctr:1"  # anonymous
    c images push --hosts-dir "$W/hosts" --user "admin:$PW" "$SRV/admin/ctr:1"
    sk inspect --raw --creds "admin:$PW" "${VERIFY[@]}" "docker://$SRV/admin/ctr:1" | cmp - "$(oci_blob "$FIX" "$SINGLE")"
    echo "ok: ctr-pushed manifest identical"
}

docker_flow() {
    command -v docker >/dev/null || fail "no docker CLI installed"
    local dc=$W/docker-auth out
    mkdir -p "$dc"
    jq -n --arg r "$SRV" --arg a "$(printf 'admin:%s' "$PW" | base64 -w0)" '{auths: {($r): {auth: $a}}}' >"$dc/config.json"
    # The docker CLI counts 127.0.0.0/8 as an insecure registry (built-in default, only a
    # daemon's config changes it) and then skips certificate verification: the CA cannot be
    # enforced here. SSL_CERT_FILE (Go's root pool) is what it would verify against otherwise;
    # /etc/docker/certs.d is a machine path. What is checked: credentials from config.json.
    out=$(DOCKER_CONFIG=$dc SSL_CERT_FILE=$CA docker manifest inspect -v "$SRV/admin/sk:1")
    assert_eq "$(jq -r .Descriptor.digest <<<"$out")" "$SINGLE" "docker manifest inspect with config.json auths"
    # no credentials (the hermetic empty DOCKER_CONFIG): refused
    expect_fail "unauthorized|no basic auth credentials" env SSL_CERT_FILE="$CA" docker manifest inspect "$SRV/admin/sk:1"
    mkdir -p "$W/docker-wrong"
    jq -n --arg r "$SRV" --arg a "$(printf 'admin:wrong' | base64 -w0)" '{auths: {($r): {auth: $a}}}' >"$W/docker-wrong/config.json"
    expect_fail "unauthorized" env DOCKER_CONFIG="$W/docker-wrong" SSL_CERT_FILE="$CA" docker manifest inspect "$SRV/admin/sk:1"
    # (`docker manifest push` is not covered: against this loopback HTTPS registry it fails in
    # its endpoint ping, "Get http://…/v2/: EOF", after the https attempt; see the report.)
}

mtls_flow() {
    local h
    assert_eq "$(status "$SRV_URL/v2/")" 401 "optional client auth: no certificate, no credentials"
    assert_eq "$(status --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SRV_URL/v2/")" 200 "CN=admin certificate"
    assert_eq "$(status --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SRV_URL/v2/admin/sk/tags/list")" 200 \
        "certificate reads the admin's repository"
    sk copy --quiet --preserve-digests --dest-cert-dir "$MCERTS" --dest-tls-verify=true \
        "oci:$FIX:single" "docker://$SRV/admin/mtls:1"
    assert_eq "$(sk inspect --raw --tls-verify=true --cert-dir "$MCERTS" "docker://$SRV/admin/mtls:1" | sha256_stdin)" \
        "$SINGLE" "pushed with the client certificate, no credentials"
    # the users from before the restart are still there: password login works too
    assert_eq "$(status -u "admin:$PW" "$SRV_URL/v2/")" 200 "Basic after the restart"
}

lockout() {
    local i h
    assert_eq "$(status -u "admin:$PW" "$SRV_URL/token?service=dermaga")" 200 "correct password (resets the count)"
    for ((i = 1; i <= 10; i++)); do
        assert_eq "$(status -u "admin:wrong-$i" "$SRV_URL/token?service=dermaga")" 401 "wrong password #$i"
    done
    h=$(hdrs -u "admin:$PW" "$SRV_URL/token?service=dermaga")
    echo "$h"
    assert_contains "$(head -n1 <<<"$h")" " 429" "correct password while locked"
    [[ $(grep -i '^retry-after:' <<<"$h" | awk '{print $2}') =~ ^[1-9][0-9]*$ ]] || fail "no positive Retry-After"
    local out
    if out=$(printf '%s' "$PW" | pm login "${VERIFY[@]}" --authfile "$W/locked-auth.json" -u admin --password-stdin "$SRV" 2>&1); then
        fail "podman login succeeded while locked: $out"
    fi
    echo "$out"
    # the client certificate is not a password login: it still works
    assert_eq "$(status --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SRV_URL/v2/")" 200 "certificate while locked"
}

# audit_count WHERE: rows of the audit table matching WHERE, polled for up to 3 s (async writer)
audit_at_least() { # N WHERE WHAT
    local n=0
    for _ in $(seq 1 30); do
        n=$(meta_sql "$DATA" "select count(*) from audit where $2;")
        ((n >= $1)) && { echo "ok: $3: $n rows"; return 0; }
        sleep 0.1
    done
    meta_sql "$DATA" "select at,actor,actor_kind,address,action,object,outcome,detail from audit order by id desc limit 40;" >&2
    fail "$3: $n rows where $2 (want >= $1)"
}

audit() {
    audit_at_least 1 "action='login' and outcome='success' and actor='admin' and actor_kind='user' and detail='password'" "password login"
    audit_at_least 1 "action='login' and outcome='success' and actor='admin' and detail='certificate'" "certificate login"
    audit_at_least 10 "action='login' and outcome='failed' and actor='admin'" "failed logins"
    audit_at_least 1 "action='login' and outcome='lockout' and actor='admin' and detail like 'user:admin locked for%'" "lockout"
    audit_at_least 2 "action='login' and outcome='locked' and actor='admin'" "attempts while locked"
    audit_at_least 1 "action='manifest.push' and outcome='allowed' and actor='admin' and object like 'admin/pod%'" "podman manifest push"
    audit_at_least 1 "action='manifest.push' and outcome='allowed' and actor='admin' and object like 'admin/ctr%'" "ctr manifest push"
    audit_at_least 1 "action='access' and outcome='denied' and actor_kind='anonymous' and object='admin/anon'" "anonymous push denied"
    audit_at_least 1 "action='access' and outcome='denied' and actor_kind='anonymous' and object='admin/sk-anon'" "skopeo anonymous push denied"
    audit_at_least 1 "address like '127.0.0.1%'" "client address recorded"
    # The password was sent many times (Basic, /token, podman, skopeo, ctr, docker): it must
    # appear in no log line and no audit entry.
    local f
    grep -q '"event":"request"' "$E2E_WORK/main.serve.err" || fail "no access log to search"
    for f in "$E2E_WORK"/*.serve.err "$E2E_WORK"/*.serve.out; do
        ! grep -qF "$PW" "$f" || fail "the admin password appears in $f"
    done
    assert_eq "$(meta_sql "$DATA" "select count(*) from audit where detail like '%$PW%' or object like '%$PW%'")" 0 \
        "password in the audit trail"
}

t_run "anonymous: 401 + Bearer challenge naming https://…/token; push refused" anonymous
t_run "podman login (wrong password fails) / push / pull / logout → auth error" podman_flow
t_run "skopeo --creds copy + inspect; without or with wrong creds refused" skopeo_flow
containerd_start containerd-auth
t_run "ctr pull/push --user, CA in hosts.toml; anonymous or CA unknown refused" ctr_flow
t_run "docker CLI: config.json auths: manifest inspect; none or wrong refused" docker_flow
srv_stop
srv_start mtls DERMAGA_HTTP_TLS_CLIENT_CA="$PKI/clientca.crt" DERMAGA_HTTP_TLS_CLIENT_AUTH=optional
t_run "mTLS optional: CN=admin certificate logs in (curl, skopeo cert dir)" mtls_flow
t_run "lockout: 10 wrong passwords → 429 + Retry-After, podman login refused" lockout
t_run "audit rows: logins, failures, lockout, pushes, denials; no password in logs or audit" audit
srv_stop
e2e_finish
