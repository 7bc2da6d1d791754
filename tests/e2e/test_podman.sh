#!/usr/bin/env bash
# podman against the registry: pull (tag, digest, --arch arm64 from an index), push to a new
# name, manifest create/add/push; everything cross-checked with skopeo and raw GETs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init "$@"

FIX=$E2E_FIXTURES
TLS=(--tls-verify=false)
SINGLE=$(oci_digest "$FIX" single)
ARM64=$(oci_digest "$FIX" arm64)
MULTI=$(oci_digest "$FIX" multi)
W=$E2E_WORK

config_id() { jq -r .config.digest "$(oci_blob "$FIX" "$1")" | sed 's/^sha256://'; }

# assert_local_image REF ARCH: podman's copy of REF has the fixture's filesystem.
assert_local_image() {
    local ref=$1 arch=$2 mnt
    assert_eq "$(pm image inspect --format '{{.Architecture}}' "$ref")" "$arch" "local image architecture"
    mnt=$(pm image mount "$ref")
    cmp "$mnt/bin/busybox" /bin/busybox
    assert_eq "$(cat "$mnt/etc/e2e-release")" "dermaga e2e fixture v1" "file from 2nd layer"
    assert_eq "$(readlink "$mnt/bin/sh")" busybox "symlink in 1st layer"
    pm image unmount "$ref" >/dev/null
}

seed() {
    push_fixture single e2e/pod:1
    push_fixture multi e2e/podmulti:latest --all
}

pull_by_tag() {
    pm pull "${TLS[@]}" "$REG/e2e/pod:1"
    assert_eq "$(pm image inspect --format '{{.Digest}}' "$REG/e2e/pod:1")" "$SINGLE" "pulled manifest digest"
    assert_eq "$(pm image inspect --format '{{.Id}}' "$REG/e2e/pod:1")" "$(config_id "$SINGLE")" "image ID = config digest"
    assert_local_image "$REG/e2e/pod:1" amd64
}

push_new_name() {
    pm push "${TLS[@]}" --digestfile "$W/pushed.digest" "$REG/e2e/pod:1" "$REG/e2e/pod-pushed:1"
    local d
    d=$(cat "$W/pushed.digest")
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/pod-pushed:1" >"$W/pushed.raw"
    assert_eq "$(sha256_of "$W/pushed.raw")" "$d" "podman --digestfile vs skopeo inspect --raw"
    assert_eq "$(sk inspect "${TLS[@]}" "docker://$REG/e2e/pod-pushed:1" | jq -r .Digest)" "$d" "skopeo inspect .Digest"
    assert_remote_blobs e2e/pod-pushed "$d"
    # podman may re-encode the manifest, but the filesystem content must be the same
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/pod-pushed:1" "oci:$W/pushed:1"
    assert_layers_match_diffids "$W/pushed" 1
    assert_eq "$(diff_ids "$W/pushed" 1 | tr '\n' ' ')" "$(diff_ids "$FIX" single | tr '\n' ' ')" "diff_ids vs fixture"
    echo "$d" >"$W/pushed.ok"
}

pull_by_digest() {
    local d
    d=$(cat "$W/pushed.ok")
    pm rmi -a -f >/dev/null
    assert_eq "$(pm images -q | wc -l)" 0 "local store empty"
    pm pull "${TLS[@]}" "$REG/e2e/pod-pushed@$d"
    assert_eq "$(pm image inspect --format '{{.Digest}}' "$REG/e2e/pod-pushed@$d")" "$d" "digest of image pulled by digest"
    assert_local_image "$REG/e2e/pod-pushed@$d" amd64
    # and the original by digest from the first repository
    pm pull "${TLS[@]}" "$REG/e2e/pod@$SINGLE"
    # same image ID as above, so .Digest stays the first one; the repo digest must be recorded
    assert_contains "$(pm image inspect --format '{{.RepoDigests}}' "$REG/e2e/pod@$SINGLE")" \
        "$REG/e2e/pod@$SINGLE" "pull fixture by digest"
}

pull_arm64_from_index() {
    pm rmi -a -f >/dev/null
    pm pull "${TLS[@]}" --arch arm64 "$REG/e2e/podmulti:latest"
    local ref=$REG/e2e/podmulti:latest
    assert_eq "$(pm image inspect --format '{{.Id}}' "$ref")" "$(config_id "$ARM64")" "arm64 image ID"
    assert_eq "$(pm image inspect --format '{{.Digest}}' "$ref")" "$MULTI" "list digest recorded"
    assert_contains "$(pm image inspect --format '{{.RepoDigests}}' "$ref")" "$REG/e2e/podmulti@$ARM64" "arm64 instance digest"
    assert_local_image "$ref" arm64
}

manifest_list_push() {
    pm manifest create e2e-list
    pm manifest add "${TLS[@]}" e2e-list "docker://$REG/e2e/podmulti@$SINGLE"
    pm manifest add "${TLS[@]}" e2e-list "docker://$REG/e2e/podmulti@$ARM64"
    pm manifest inspect e2e-list
    pm manifest push --all "${TLS[@]}" --digestfile "$W/list.digest" e2e-list "docker://$REG/e2e/podlist:1"
    local d raw=$W/list.raw
    d=$(cat "$W/list.digest")
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/podlist:1" >"$raw"
    cat "$raw"; echo
    assert_eq "$(sha256_of "$raw")" "$d" "manifest push --digestfile vs skopeo inspect --raw"
    case $(jq -r .mediaType "$raw") in
    application/vnd.oci.image.index.v1+json | application/vnd.docker.distribution.manifest.list.v2+json) ;;
    *) fail "unexpected list mediaType $(jq -r .mediaType "$raw")" ;;
    esac
    assert_eq "$(remote_manifest e2e/podlist 1)" "$(jq -r .mediaType "$raw")" "Content-Type of pushed list"
    assert_eq "$(jq -r '[.manifests[] | "\(.platform.os)/\(.platform.architecture)=\(.digest)"] | sort | join(" ")' "$raw")" \
        "$(printf '%s\n' "linux/amd64=$SINGLE" "linux/arm64=$ARM64" | sort | tr '\n' ' ' | sed 's/ $//')" \
        "list entries (platform=digest)"
    assert_remote_blobs e2e/podlist "$d"
    assert_eq "$(sk --override-arch arm64 inspect "${TLS[@]}" "docker://$REG/e2e/podlist:1" | jq -r .Architecture)" \
        arm64 "skopeo resolves arm64 through pushed list"
    # pull the list back with podman too
    pm rmi -a -f >/dev/null
    pm pull "${TLS[@]}" --arch arm64 "$REG/e2e/podlist:1"
    assert_local_image "$REG/e2e/podlist:1" arm64
}

t_run "seed registry with skopeo" seed
t_run "podman pull by tag" pull_by_tag
t_run "podman push to a new name" push_new_name
t_run "podman pull by digest" pull_by_digest
t_run "podman pull --arch arm64 from index" pull_arm64_from_index
t_run "podman manifest create/add/push" manifest_list_push
e2e_finish
