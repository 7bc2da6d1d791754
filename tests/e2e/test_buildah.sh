#!/usr/bin/env bash
# buildah against the registry: build from scratch, push (OCI and v2s2), pull back with skopeo
# and byte-compare; then build on top of the pushed image (`buildah from` the registry).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init "$@"

TLS=(--tls-verify=false)
W=$E2E_WORK

# unpack_layers LAYOUT TAG DIR: apply every layer (gzip/plain) of the image into DIR.
unpack_layers() {
    local l=$1 t=$2 dir=$3 m d
    m=$(oci_blob "$l" "$(oci_digest "$l" "$t")")
    mkdir -p "$dir"
    for d in $(jq -r '.layers[].digest' "$m"); do
        tar -xf "$(oci_blob "$l" "$d")" -C "$dir"
    done
}

build_and_push() {
    local c
    c=$(bh from scratch)
    bh copy "$c" /bin/busybox /bin/busybox
    printf 'built by buildah for dermaga e2e\n' >"$W/hello.txt"
    bh copy "$c" "$W/hello.txt" /etc/hello.txt
    bh config --os linux --arch amd64 --cmd '["/bin/busybox","sh"]' --label org.dermaga.e2e=buildah "$c"
    bh commit --format oci "$c" e2e-built
    bh rm "$c"
    local id
    id=$(bh images --no-trunc --format '{{.ID}}' e2e-built | sed 's/^sha256://')

    bh push "${TLS[@]}" --digestfile "$W/built.digest" e2e-built "docker://$REG/e2e/buildah:1"
    local d
    d=$(cat "$W/built.digest")
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/buildah:1" >"$W/built.raw"
    assert_eq "$(sha256_of "$W/built.raw")" "$d" "buildah --digestfile vs skopeo inspect --raw"
    assert_eq "$(jq -r .config.digest "$W/built.raw")" "sha256:$id" "pushed config = local image ID"
    assert_eq "$(sk inspect "${TLS[@]}" "docker://$REG/e2e/buildah:1" | jq -r '.Labels["org.dermaga.e2e"]')" buildah "label"
    assert_remote_blobs e2e/buildah "$d"

    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/buildah:1" "oci:$W/back:1"
    assert_eq "$(oci_digest "$W/back" 1)" "$d" "skopeo-pulled manifest digest"
    assert_layers_match_diffids "$W/back" 1
    unpack_layers "$W/back" 1 "$W/rootfs"
    cmp "$W/rootfs/bin/busybox" /bin/busybox
    cmp "$W/rootfs/etc/hello.txt" "$W/hello.txt"
    echo "$d" >"$W/built.ok"
}

push_v2s2() {
    bh push "${TLS[@]}" --format v2s2 --digestfile "$W/v2s2.digest" e2e-built "docker://$REG/e2e/buildah:v2s2"
    local d raw=$W/v2s2.raw
    d=$(cat "$W/v2s2.digest")
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/buildah:v2s2" >"$raw"
    assert_eq "$(sha256_of "$raw")" "$d" "v2s2 digest"
    assert_eq "$(jq -r .mediaType "$raw")" application/vnd.docker.distribution.manifest.v2+json "v2s2 mediaType"
    assert_eq "$(remote_manifest e2e/buildah v2s2)" application/vnd.docker.distribution.manifest.v2+json "v2s2 Content-Type"
    assert_remote_blobs e2e/buildah "$d"
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/buildah:v2s2" "dir:$W/v2s2dir"
    cmp "$W/v2s2dir/manifest.json" "$raw"
    local l
    l=$(jq -r '.layers[0].digest' "$raw")
    tar -xOf "$W/v2s2dir/${l#sha256:}" bin/busybox | cmp - /bin/busybox
}

build_on_top() {
    local base c
    base=$(cat "$W/built.ok")
    bh rmi -a -f >/dev/null
    c=$(bh from "${TLS[@]}" "$REG/e2e/buildah:1")
    local mnt
    mnt=$(bh mount "$c")
    cmp "$mnt/bin/busybox" /bin/busybox
    mkdir -p "$mnt/data"
    head -c 1048576 /dev/urandom >"$mnt/data/random.bin"
    cp "$mnt/data/random.bin" "$W/random.bin"
    bh umount "$c"
    bh commit --format oci "$c" e2e-layered
    bh push "${TLS[@]}" --digestfile "$W/layered.digest" e2e-layered "docker://$REG/e2e/buildah-layered:1"
    local d
    d=$(cat "$W/layered.digest")
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/buildah-layered:1" >"$W/layered.raw"
    assert_eq "$(sha256_of "$W/layered.raw")" "$d" "layered digest"
    assert_eq "$(jq '.layers | length' "$W/layered.raw")" 2 "layer count"
    # the base layer is reused as-is (same compressed blob as in e2e/buildah:1)
    assert_eq "$(jq -r '.layers[0].digest' "$W/layered.raw")" \
        "$(sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/buildah@$base" | jq -r '.layers[0].digest')" "base layer reused"
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/buildah-layered:1" "oci:$W/layered:1"
    assert_layers_match_diffids "$W/layered" 1
    unpack_layers "$W/layered" 1 "$W/layered-rootfs"
    cmp "$W/layered-rootfs/data/random.bin" "$W/random.bin"
    cmp "$W/layered-rootfs/bin/busybox" /bin/busybox
}

t_run "buildah from scratch, commit, push, skopeo pull + compare" build_and_push
t_run "buildah push --format v2s2" push_v2s2
t_run "buildah from registry image, add layer, push" build_on_top
e2e_finish
