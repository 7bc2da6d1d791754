#!/usr/bin/env bash
# containerd/ctr against the registry: a private containerd; pulls by tag, by digest,
# --platform linux/arm64 from an index, pushes (single image and whole index); content is
# verified blob-by-blob (`ctr content get` vs the fixture bytes) and through skopeo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init "$@"

FIX=$E2E_FIXTURES
TLS=(--tls-verify=false)
SINGLE=$(oci_digest "$FIX" single)
ARM64=$(oci_digest "$FIX" arm64)
MULTI=$(oci_digest "$FIX" multi)
W=$E2E_WORK

# --- private containerd ----------------------------------------------------------------------
e2e_test_cleanup() { containerd_stop; }
containerd_start containerd

c() { ctr -a "$CD_SOCK" "$@"; }

# image_target NS REF -> digest the image record points at
image_target() { c -n "$1" images ls "name==$2" | awk 'NR==2{print $3}'; }

# assert_content NS DIGEST…: containerd holds each blob with exactly the fixture's bytes.
assert_content() {
    local ns=$1 d; shift
    local have
    have=$(c -n "$ns" content ls -q)
    for d in "$@"; do
        grep -qx "$d" <<<"$have" || fail "content store ($ns) lacks $d"
        c -n "$ns" content get "$d" | cmp - "$(oci_blob "$FIX" "$d")"
        echo "ok: content $d identical"
    done
}

# assert_unpacked NS REF [--platform P]: the unpacked snapshot has the fixture files.
assert_unpacked() {
    local ns=$1 ref=$2 mnt=$W/mnt-$1
    shift 2
    mkdir -p "$mnt"
    c -n "$ns" images mount "$@" "$ref" "$mnt" >/dev/null
    local rc=0
    cmp "$mnt/bin/busybox" /bin/busybox || rc=1
    [[ $(cat "$mnt/etc/e2e-release") == "dermaga e2e fixture v1" ]] || rc=1
    c -n "$ns" images unmount "$mnt" >/dev/null
    ((rc == 0)) || fail "unpacked rootfs of $ref differs"
    echo "ok: unpacked rootfs of $ref"
}

closure() { oci_closure "$FIX" "$1" | sort -u; }

seed() {
    push_fixture single e2e/ctr:1
    push_fixture multi e2e/ctrmulti:latest --all
}

pull_by_tag() {
    c -n e2e-tag images pull --plain-http "$REG/e2e/ctr:1"
    assert_eq "$(image_target e2e-tag "$REG/e2e/ctr:1")" "$SINGLE" "image target digest"
    # shellcheck disable=SC2046
    assert_content e2e-tag $(closure "$SINGLE")
    assert_unpacked e2e-tag "$REG/e2e/ctr:1"
}

pull_by_digest() {
    # registry configured through a hosts dir instead of --plain-http
    mkdir -p "$W/hosts/$REG"
    cat >"$W/hosts/$REG/hosts.toml" <<EOF
server = "http://$REG"

[host."http://$REG"]
  capabilities = ["pull", "resolve", "push"]
EOF
    c -n e2e-digest images pull --hosts-dir "$W/hosts" "$REG/e2e/ctr@$SINGLE"
    assert_eq "$(image_target e2e-digest "$REG/e2e/ctr@$SINGLE")" "$SINGLE" "image target digest"
    # shellcheck disable=SC2046
    assert_content e2e-digest $(closure "$SINGLE")
    assert_unpacked e2e-digest "$REG/e2e/ctr@$SINGLE"
}

pull_arm64() {
    c -n e2e-arm64 images pull --plain-http --platform linux/arm64 "$REG/e2e/ctrmulti:latest"
    assert_eq "$(image_target e2e-arm64 "$REG/e2e/ctrmulti:latest")" "$MULTI" "image target = index"
    # shellcheck disable=SC2046
    assert_content e2e-arm64 $(closure "$ARM64") "$MULTI"
    # the amd64 config was not needed, so it must not have been fetched
    local amdcfg
    amdcfg=$(jq -r .config.digest "$(oci_blob "$FIX" "$SINGLE")")
    if c -n e2e-arm64 content ls -q | grep -qx "$amdcfg"; then fail "amd64 config fetched for arm64 pull"; fi
    assert_unpacked e2e-arm64 "$REG/e2e/ctrmulti:latest" --platform linux/arm64
}

push_single() {
    c -n e2e-push images pull --plain-http "$REG/e2e/ctr:1"
    c -n e2e-push images tag "$REG/e2e/ctr:1" "$REG/e2e/ctr-pushed:1"
    c -n e2e-push images push --plain-http "$REG/e2e/ctr-pushed:1"
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/ctr-pushed:1" | cmp - "$(oci_blob "$FIX" "$SINGLE")"
    assert_eq "$(remote_manifest e2e/ctr-pushed 1)" application/vnd.oci.image.manifest.v1+json "Content-Type"
    assert_remote_blobs e2e/ctr-pushed "$SINGLE"
    # pull the ctr-pushed image with skopeo and compare every byte
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/ctr-pushed:1" "oci:$W/back:1"
    assert_layout_equal "$FIX" single "$W/back" 1
}

push_index() {
    c -n e2e-pushidx images pull --plain-http --all-platforms "$REG/e2e/ctrmulti:latest"
    # shellcheck disable=SC2046
    assert_content e2e-pushidx $(closure "$MULTI")
    c -n e2e-pushidx images tag "$REG/e2e/ctrmulti:latest" "$REG/e2e/ctr-index:1"
    c -n e2e-pushidx images push --plain-http "$REG/e2e/ctr-index:1"
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/ctr-index:1" | cmp - "$(oci_blob "$FIX" "$MULTI")"
    assert_eq "$(remote_manifest e2e/ctr-index 1)" application/vnd.oci.image.index.v1+json "Content-Type"
    assert_remote_blobs e2e/ctr-index "$MULTI"
    # and a fresh namespace pulls the arm64 image back out of the ctr-pushed index
    c -n e2e-pushidx-back images pull --plain-http --platform linux/arm64 "$REG/e2e/ctr-index:1"
    # shellcheck disable=SC2046
    assert_content e2e-pushidx-back $(closure "$ARM64")
}

t_run "seed registry with skopeo" seed
t_run "ctr pull by tag" pull_by_tag
t_run "ctr pull by digest (--hosts-dir)" pull_by_digest
t_run "ctr pull --platform linux/arm64 from index" pull_arm64
t_run "ctr push single image" push_single
t_run "ctr push multi-arch index" push_index
e2e_finish
