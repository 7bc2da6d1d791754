#!/usr/bin/env bash
# The Docker daemon itself (dockerd from Debian's docker.io), run privately, against dermaga
# with access control on: once over plain HTTP on 127.0.0.1 and once over verified TLS.
# For each: docker login (a wrong password refused), push, pull back (same image id), a push to
# a second repository that mounts every layer ("Mounted from"), logout then the private pull
# refused, and a user without rights refused on pull and push.
#
# The daemon counts 127.0.0.0/8 as an insecure registry (hard-wired) and then never verifies
# certificates nor reads certs.d. So the TLS server listens on [::1] under a name that only the
# private /etc/hosts knows, and its CA goes to /etc/docker/certs.d/NAME:PORT/ca.crt; a tmpfs
# over /etc/docker in this private mount namespace keeps it off the machine.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export DERMAGA_AUTH_ENABLED=true
e2e_init_own_dermaga "drives the Docker daemon" "$@"
command -v dockerd >/dev/null || die "no dockerd (Debian package docker.io; make test installs it)"
# The CLI of the daemon's own package (another docker CLI may come first in PATH).
docker() { /usr/bin/docker "$@"; }

if [[ -z ${E2E_FIXTURES:-} ]]; then
    bash "$E2E_DIR/fixtures.sh" "${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}" >&2
    E2E_FIXTURES=${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}/oci
fi
FIX=$E2E_FIXTURES
W=$E2E_WORK
PW=e2e-Admin-pw-$RANDOM$RANDOM
EVE_PW=e2e-Eve-pw-$RANDOM$RANDOM
TLS_NAME=dermaga-e2e.test
PKI=$W/pki
PIDS=$W/pids
DK=/run/dermaga-e2e/dockerd    # short: dockerd's sockets live under it
: >"$PIDS"
mkdir -p "$PKI"

# Private /etc/hosts (TLS_NAME → ::1 only) and /etc/docker (certs.d, the daemon's key.json).
printf '127.0.0.1 localhost\n::1 %s\n' "$TLS_NAME" >"$W/hosts"
mount --bind "$W/hosts" /etc/hosts
[[ -d /etc/docker ]] || die "no /etc/docker (docker.io installs it)"
mount -t tmpfs dermaga-e2e-docker /etc/docker

pki_ca ca "Dermaga e2e docker CA"
pki_leaf ca server "dermaga e2e registry" server "DNS:$TLS_NAME"
CA=$PKI/ca.crt

DOCKERD_PID=
e2e_test_cleanup() {
    local p
    if [[ -n $DOCKERD_PID ]]; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DOCKERD_PID" 2>/dev/null
    fi
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
    grep -o " $DK/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    return 0
}

# The two servers, each with its own data directory and bootstrap administrator.
serve_dermaga plain "$W/data-plain" DERMAGA_BOOTSTRAP_ADMIN_USER=admin DERMAGA_BOOTSTRAP_ADMIN_PASSWORD="$PW" ||
    die "dermaga (plain) did not become healthy"
PLAIN=$SRV
SRV_CURL=(--cacert "$CA")
SRV_SCHEME=https SRV_BIND='[::1]' SRV_HOST=$TLS_NAME \
    serve_dermaga tls "$W/data-tls" DERMAGA_BOOTSTRAP_ADMIN_USER=admin DERMAGA_BOOTSTRAP_ADMIN_PASSWORD="$PW" \
    DERMAGA_HTTP_TLS_CERT="$PKI/server.crt" DERMAGA_HTTP_TLS_KEY="$PKI/server.key" ||
    die "dermaga (tls) did not become healthy"
SECURE=$SRV
SRV_CURL=()
log "plain http on $PLAIN, https on $SECURE"

# eve: an account with no rights on admin's repositories.
for reg in "http://$PLAIN" "https://$SECURE"; do
    code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -u "admin:$PW" -X POST "$reg/api/v1/users" \
        -d "{\"name\":\"eve\",\"password\":\"$EVE_PW\"}")
    [[ $code == 201 ]] || die "creating eve on $reg: HTTP $code"
done

mkdir -p "$DK/exec" "$W/dockerd/root" "$W/docker-config"
echo '{}' >"$W/dockerd/daemon.json"
dockerd --config-file "$W/dockerd/daemon.json" --data-root "$W/dockerd/root" --exec-root "$DK/exec" \
    --pidfile "$DK/pid" --host "unix://$DK/sock" --iptables=false --ip6tables=false --bridge=none \
    --storage-driver=vfs >"$W/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST=unix://$DK/sock DOCKER_CONFIG=$W/docker-config
for ((i = 0; i < 150; i++)); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 30 "$W/dockerd.log" >&2; die "dockerd exited"; }
    sleep 0.1
done
docker version >/dev/null 2>&1 || { tail -n 30 "$W/dockerd.log" >&2; die "dockerd did not answer"; }
log "dockerd pid $DOCKERD_PID ($(docker version --format '{{.Server.Version}}'))"

# ------------------------------------------------------------------------------------------

login() { printf '%s' "$3" | docker login -u "$2" --password-stdin "$1"; }

load_fixture() {
    echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$W/policy.json"
    skopeo --policy "$W/policy.json" copy --quiet "oci:$FIX:single" "docker-daemon:e2e/single:1" --dest-daemon-host "$DOCKER_HOST"
    docker image inspect --format '{{.Id}}' e2e/single:1 >"$W/single.id"
    assert_eq "$(cat "$W/single.id")" "$(jq -r .config.digest "$(oci_blob "$FIX" "$(oci_digest "$FIX" single)")")" \
        "image id is the fixture's config digest"
}

# login_push_pull_mount REGISTRY: a wrong password, then login, push, a mounting push, pull.
login_push_pull_mount() {
    local reg=$1 out d
    expect_fail "unauthorized" login "$reg" admin wrong-password
    login "$reg" admin "$PW" | tee "$W/login.out"
    assert_contains "$(cat "$W/login.out")" "Login Succeeded" "docker login"
    jq -e --arg r "$reg" '.auths[$r].auth' "$DOCKER_CONFIG/config.json" >/dev/null || fail "no auths entry for $reg"

    docker tag e2e/single:1 "$reg/admin/app:1"
    out=$(docker push "$reg/admin/app:1")
    echo "$out"
    d=$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$out" | cut -d' ' -f2)
    [[ $d == sha256:* ]] || fail "docker push printed no digest"
    assert_eq "$(curl -fsS --cacert "$CA" -u "admin:$PW" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        "$(scheme_of "$reg")://$reg/v2/admin/app/manifests/1" | sha256_stdin)" "$d" "served manifest digest"

    # A second repository: every layer is mounted from the first, nothing uploaded again.
    docker tag e2e/single:1 "$reg/admin/copy:1"
    out=$(docker push "$reg/admin/copy:1")
    echo "$out"
    local layers mounted
    layers=$(docker image inspect --format '{{len .RootFS.Layers}}' e2e/single:1)
    mounted=$(grep -c 'Mounted from admin/app' <<<"$out" || true)
    assert_eq "$mounted" "$layers" "layers mounted from admin/app"

    docker rmi "$reg/admin/app:1" "$reg/admin/copy:1" e2e/single:1 >/dev/null
    docker pull "$reg/admin/app:1"
    assert_eq "$(docker image inspect --format '{{.Id}}' "$reg/admin/app:1")" "$(cat "$W/single.id")" "pulled image id"
    assert_eq "$(docker image inspect --format '{{index .RepoDigests 0}}' "$reg/admin/app:1")" "$reg/admin/app@$d" \
        "pulled repo digest"
    docker tag "$reg/admin/app:1" e2e/single:1
}

logout_then_denied() {
    local reg=$1
    docker logout "$reg"
    jq -e --arg r "$reg" '.auths[$r]' "$DOCKER_CONFIG/config.json" >/dev/null && fail "auths entry left after logout"
    docker rmi "$reg/admin/app:1" >/dev/null
    expect_fail "requested access to the resource is denied" \
        docker pull "$reg/admin/app:1"
}

user_without_rights() {
    local reg=$1
    login "$reg" eve "$EVE_PW"
    expect_fail "requested access to the resource is denied" docker pull "$reg/admin/app:1"
    docker tag e2e/single:1 "$reg/admin/eve-was-here:1"
    expect_fail "requested access to the resource is denied" \
        docker push "$reg/admin/eve-was-here:1"
    assert_eq "$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" -u "admin:$PW" \
        "$(scheme_of "$reg")://$reg/v2/admin/eve-was-here/tags/list")" 404 "eve's refused push left nothing"
    docker rmi "$reg/admin/eve-was-here:1" >/dev/null
    docker logout "$reg"
}

scheme_of() { [[ $1 == "$SECURE" ]] && echo https || echo http; }

untrusted_then_certs_d() {
    expect_fail "x509: certificate signed by unknown authority" login "$SECURE" admin "$PW"
    mkdir -p "/etc/docker/certs.d/$SECURE"
    cp "$CA" "/etc/docker/certs.d/$SECURE/ca.crt"
}

t_run "load the fixture into the daemon (skopeo docker-daemon:)" load_fixture
t_run "http: login (wrong password refused), push, mount into a second repository, pull" login_push_pull_mount "$PLAIN"
t_run "http: logout, then the private pull is refused" logout_then_denied "$PLAIN"
t_run "http: a user without rights is refused on pull and push" user_without_rights "$PLAIN"
t_run "tls: unknown CA refused, then trusted through certs.d" untrusted_then_certs_d
t_run "tls: login (wrong password refused), push, mount into a second repository, pull" login_push_pull_mount "$SECURE"
t_run "tls: logout, then the private pull is refused" logout_then_denied "$SECURE"
t_run "tls: a user without rights is refused on pull and push" user_without_rights "$SECURE"
e2e_finish
