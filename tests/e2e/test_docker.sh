#!/usr/bin/env bash
# docker CLI without a daemon: `docker manifest inspect|create|push --insecure`.
# Exercises what only Docker's Go client does: TLS probe on the plain-HTTP port (must get an
# HTTP/1.x 400 back to fall back to HTTP), child manifests PUT by digest, and cross-repository
# blob mounts that must answer 201.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! command -v docker >/dev/null; then
    # `make test` installs docker.io when no Docker engine is present; a missing client is a failure.
    echo "FAIL  test_docker: no docker CLI installed"
    exit 1
fi
e2e_init "$@"

FIX=$E2E_FIXTURES
TLS=(--tls-verify=false)
SINGLE=$(oci_digest "$FIX" single)
ARM64=$(oci_digest "$FIX" arm64)

seed() {
    push_fixture single e2e/d-amd:1
    push_fixture arm64 e2e/d-arm:1
    push_fixture multi e2e/d-multi:latest --all
}

manifest_inspect() {
    local out
    out=$(docker manifest inspect --insecure -v "$REG/e2e/d-amd:1")
    assert_eq "$(jq -r .Descriptor.digest <<<"$out")" "$SINGLE" "single: descriptor digest"
    assert_eq "$(jq -r .Descriptor.size <<<"$out")" "$(stat -c %s "$(oci_blob "$FIX" "$SINGLE")")" "single: size"
    out=$(docker manifest inspect --insecure -v "$REG/e2e/d-multi:latest")
    assert_eq "$(jq -r '[.[] | .Descriptor.digest] | sort | join(" ")' <<<"$out")" \
        "$(printf '%s\n' "$SINGLE" "$ARM64" | sort | tr '\n' ' ' | sed 's/ $//')" "index: child digests"
    assert_eq "$(jq -r '[.[] | .Descriptor.platform.architecture] | sort | join(",")' <<<"$out")" "amd64,arm64" "index: platforms"
    expect_fail "manifest unknown|no such manifest" docker manifest inspect --insecure "$REG/e2e/d-amd:no-such-tag"
}

manifest_create_push() {
    docker manifest create --insecure "$REG/e2e/dlist:1" "$REG/e2e/d-amd:1" "$REG/e2e/d-arm:1"
    local out d raw=$E2E_WORK/dlist.raw
    out=$(docker manifest push --insecure --purge "$REG/e2e/dlist:1")
    echo "$out"
    d=$(tail -n1 <<<"$out")
    [[ $d == sha256:* ]] || fail "docker manifest push printed no digest"
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/dlist:1" >"$raw"
    cat "$raw"; echo
    assert_eq "$(sha256_of "$raw")" "$d" "pushed list digest"
    assert_eq "$(jq -r '[.manifests[] | "\(.platform.architecture)=\(.digest)"] | sort | join(" ")' "$raw")" \
        "amd64=$SINGLE arm64=$ARM64" "list entries"
    # children were PUT by digest and their blobs mounted from e2e/d-amd and e2e/d-arm
    assert_remote_blobs e2e/dlist "$d"
    sk copy --quiet --all --src-tls-verify=false "docker://$REG/e2e/dlist:1" "oci:$E2E_WORK/back:1"
    local child
    for child in "$SINGLE" "$ARM64"; do
        local all b
        all=$(oci_closure "$FIX" "$child" | sort -u)
        for b in $all; do cmp "$(oci_blob "$FIX" "$b")" "$(oci_blob "$E2E_WORK/back" "$b")"; done
    done
    echo "ok: all child blobs identical"
}

t_run "seed registry with skopeo" seed
t_run "docker manifest inspect --insecure" manifest_inspect
t_run "docker manifest create + push --insecure (mounts, PUT by digest)" manifest_create_push
e2e_finish
