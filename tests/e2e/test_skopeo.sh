#!/usr/bin/env bash
# skopeo against the registry: push (single, --all multi-arch, --format v2s2), inspect,
# list-tags, delete, pull back and byte-compare, 200 MiB round trip, identical re-push,
# cross-repository blob mount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init "$@"

FIX=$E2E_FIXTURES
TLS=(--tls-verify=false)
SINGLE=$(oci_digest "$FIX" single)
ARM64=$(oci_digest "$FIX" arm64)
MULTI=$(oci_digest "$FIX" multi)
BIG=$(oci_digest "$FIX" big)
W=$E2E_WORK

push_single() {
    push_fixture single e2e/busybox:1.0 --digestfile "$W/single.digest"
    assert_eq "$(cat "$W/single.digest")" "$SINGLE" "skopeo --digestfile"

    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/busybox:1.0" >"$W/single.raw"
    assert_eq "$(sha256_of "$W/single.raw")" "$SINGLE" "inspect --raw digest"
    cmp "$W/single.raw" "$(oci_blob "$FIX" "$SINGLE")"

    local info
    info=$(sk inspect "${TLS[@]}" "docker://$REG/e2e/busybox:1.0")
    assert_eq "$(jq -r .Digest <<<"$info")" "$SINGLE" "inspect .Digest"
    assert_eq "$(jq -r .Architecture <<<"$info")" amd64 "inspect .Architecture"
    assert_eq "$(jq -r '.Labels["org.dermaga.e2e"]' <<<"$info")" single "inspect label (config blob)"

    # umoci manifests have no mediaType field: the registry must keep the pushed Content-Type.
    assert_eq "$(remote_manifest e2e/busybox 1.0)" application/vnd.oci.image.manifest.v1+json \
        "Content-Type of GET manifest by tag"
    assert_eq "$(remote_manifest e2e/busybox "$SINGLE")" application/vnd.oci.image.manifest.v1+json \
        "Content-Type of GET manifest by digest"
    assert_remote_blobs e2e/busybox "$SINGLE"
}

pull_single_back() {
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/busybox:1.0" "oci:$W/back:bytag"
    assert_layout_equal "$FIX" single "$W/back" bytag
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/busybox@$SINGLE" "oci:$W/back:bydigest"
    assert_layout_equal "$FIX" single "$W/back" bydigest
}

push_multi_all() {
    push_fixture multi e2e/multi:latest --all --digestfile "$W/multi.digest"
    assert_eq "$(cat "$W/multi.digest")" "$MULTI" "skopeo --digestfile (index)"

    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/multi:latest" >"$W/multi.raw"
    assert_eq "$(sha256_of "$W/multi.raw")" "$MULTI" "inspect --raw digest (index)"
    cmp "$W/multi.raw" "$(oci_blob "$FIX" "$MULTI")"
    assert_eq "$(remote_manifest e2e/multi latest)" application/vnd.oci.image.index.v1+json \
        "Content-Type of index"

    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/multi@$ARM64" >"$W/arm64.raw"
    cmp "$W/arm64.raw" "$(oci_blob "$FIX" "$ARM64")"

    # platform resolution through the index (skopeo inspect reports the index digest but the
    # resolved image's config)
    local info
    info=$(sk --override-arch arm64 inspect "${TLS[@]}" "docker://$REG/e2e/multi:latest")
    assert_eq "$(jq -r .Architecture <<<"$info")" arm64 "arm64 config via index"
    assert_eq "$(jq -r '.Labels["org.dermaga.e2e"]' <<<"$info")" arm64 "arm64 label via index"
    info=$(sk --override-arch amd64 inspect "${TLS[@]}" "docker://$REG/e2e/multi:latest")
    assert_eq "$(jq -r .Architecture <<<"$info")" amd64 "amd64 config via index"
    sk --override-arch arm64 copy --quiet --src-tls-verify=false "docker://$REG/e2e/multi:latest" "oci:$W/armback:arm64"
    assert_layout_equal "$FIX" arm64 "$W/armback" arm64

    assert_remote_blobs e2e/multi "$MULTI"
    sk copy --quiet --all --src-tls-verify=false "docker://$REG/e2e/multi:latest" "oci:$W/multiback:multi"
    assert_layout_equal "$FIX" multi "$W/multiback" multi
}

push_v2s2() {
    sk copy --quiet --format v2s2 --dest-tls-verify=false --digestfile "$W/v2s2.digest" \
        "oci:$FIX:single" "docker://$REG/e2e/v2s2:1"
    local raw=$W/v2s2.raw
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/v2s2:1" >"$raw"
    assert_eq "$(sha256_of "$raw")" "$(cat "$W/v2s2.digest")" "v2s2 manifest digest"
    assert_eq "$(jq -r .mediaType "$raw")" application/vnd.docker.distribution.manifest.v2+json "v2s2 mediaType"
    assert_eq "$(jq -r .config.mediaType "$raw")" application/vnd.docker.container.image.v1+json "v2s2 config type"
    assert_eq "$(remote_manifest e2e/v2s2 1)" application/vnd.docker.distribution.manifest.v2+json \
        "Content-Type of v2s2 manifest"
    # gzip layers are reused unchanged, only their media type changes
    assert_eq "$(jq -r '.layers[].digest' "$raw" | tr '\n' ' ')" \
        "$(jq -r '.layers[].digest' "$(oci_blob "$FIX" "$SINGLE")" | tr '\n' ' ')" "v2s2 layer digests"
    assert_remote_blobs e2e/v2s2 "$(cat "$W/v2s2.digest")"

    # dir: keeps the manifest verbatim; compare every blob byte-for-byte
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/v2s2:1" "dir:$W/v2s2dir"
    cmp "$W/v2s2dir/manifest.json" "$raw"
    local d
    for d in $(jq -r '.layers[].digest' "$raw"); do
        cmp "$W/v2s2dir/${d#sha256:}" "$(oci_blob "$FIX" "$d")"
    done
    d=$(jq -r .config.digest "$raw")
    assert_eq "$(sha256_of "$W/v2s2dir/${d#sha256:}")" "$d" "v2s2 config bytes"
    # same filesystem content as the OCI original
    assert_eq "$(jq -r '.rootfs.diff_ids[]' "$W/v2s2dir/${d#sha256:}" | tr '\n' ' ')" \
        "$(diff_ids "$FIX" single | tr '\n' ' ')" "v2s2 diff_ids"
}

list_tags() {
    local t
    for t in v1.0 a b latest; do push_fixture single "e2e/tags:$t"; done
    local tags
    tags=$(sk list-tags "${TLS[@]}" "docker://$REG/e2e/tags" | jq -r '.Tags | sort | join(",")')
    assert_eq "$tags" "a,b,latest,v1.0" "list-tags e2e/tags"
    tags=$(sk list-tags "${TLS[@]}" "docker://$REG/e2e/busybox" | jq -r '.Tags | sort | join(",")')
    assert_eq "$tags" "1.0" "list-tags e2e/busybox"
    expect_fail "404 \(Not Found\)|name unknown" sk list-tags "${TLS[@]}" "docker://$REG/e2e/no-such-repo"
}

catalog() {
    local repos
    repos=$(curl -fsS "$REG_URL/v2/_catalog" | jq -r '.repositories | join(",")')
    assert_contains ",$repos," ",e2e/busybox," "catalog"
    assert_contains ",$repos," ",e2e/multi," "catalog"
}

delete_manifest() {
    push_fixture single e2e/del:keep
    push_fixture arm64 e2e/del:gone
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/del:gone" >/dev/null
    sk delete "${TLS[@]}" "docker://$REG/e2e/del:gone"
    expect_fail "manifest unknown" sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/del:gone"
    expect_fail "manifest unknown" sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/del@$ARM64"
    assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT_ALL" \
        "$REG_URL/v2/e2e/del/manifests/$ARM64")" 404 "GET deleted manifest"
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/del:keep" | cmp - "$(oci_blob "$FIX" "$SINGLE")"
    assert_eq "$(sk list-tags "${TLS[@]}" "docker://$REG/e2e/del" | jq -r '.Tags | join(",")')" keep \
        "tags after delete"
    # a repository that shares the content is unaffected
    sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/multi@$ARM64" | cmp - "$(oci_blob "$FIX" "$ARM64")"
}

repush_identical() {
    # Clients HEAD each blob first; an identical re-push must upload nothing (no POST/PATCH).
    local out nlayers
    nlayers=$(jq '.layers | length' "$(oci_blob "$FIX" "$SINGLE")")
    for tag in 1.0 again; do
        out=$(sk --debug copy --preserve-digests --dest-tls-verify=false --digestfile "$W/repush.digest" \
            "oci:$FIX:single" "docker://$REG/e2e/busybox:$tag" 2>&1)
        grep -E 'level=debug msg="(HEAD|GET|PUT|POST|PATCH|DELETE) |Skipping blob' <<<"$out" || true
        assert_eq "$(cat "$W/repush.digest")" "$SINGLE" "re-push digest ($tag)"
        assert_eq "$(grep -c 'Skipping blob .*(already present)' <<<"$out" || true)" "$nlayers" \
            "layers skipped on identical re-push ($tag)"
        assert_eq "$(grep -cE 'msg="(POST|PATCH) ' <<<"$out" || true)" 0 "blob uploads on identical re-push ($tag)"
        sk inspect --raw "${TLS[@]}" "docker://$REG/e2e/busybox:$tag" | cmp - "$(oci_blob "$FIX" "$SINGLE")"
    done
}

cross_repo_mount() {
    local layer size hdr code
    layer=$(jq -r '.layers[0].digest' "$(oci_blob "$FIX" "$SINGLE")")
    size=$(jq -r '.layers[0].size' "$(oci_blob "$FIX" "$SINGLE")")
    # OCI distribution spec: a successful mount answers 201 Created + Location.
    hdr=$(curl -sS -o /dev/null -D - -X POST \
        "$REG_URL/v2/e2e/mounted/blobs/uploads/?mount=$layer&from=e2e/busybox" | tr -d '\r')
    echo "$hdr"
    code=$(head -n1 <<<"$hdr" | awk '{print $2}')
    assert_eq "$code" 201 "cross-repo mount status"
    grep -qi '^location: ' <<<"$hdr" || fail "mount response lacks Location"
    assert_eq "$(head_blob e2e/mounted "$layer")" "200 $size" "HEAD mounted blob (status, Content-Length)"
    assert_eq "$(curl -fsS "$REG_URL/v2/e2e/mounted/blobs/$layer" | sha256_stdin)" "$layer" "GET mounted blob"

    # registry-to-registry copy within the same registry (skopeo may mount or re-upload)
    sk copy --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
        "docker://$REG/e2e/busybox:1.0" "docker://$REG/e2e/copied:1"
    assert_remote_blobs e2e/copied "$SINGLE"
}

big_round_trip() {
    local t0=$SECONDS
    push_fixture big e2e/big:1 --digestfile "$W/big.digest"
    assert_eq "$(cat "$W/big.digest")" "$BIG" "big push digest"
    echo "push took $((SECONDS - t0))s"
    t0=$SECONDS
    sk copy --quiet --src-tls-verify=false "docker://$REG/e2e/big:1" "oci:$W/bigback:big"
    echo "pull took $((SECONDS - t0))s"
    assert_layout_equal "$FIX" big "$W/bigback" big
    rm -rf "$W/bigback"
    # HEAD reports the exact size of the big blob
    local layer size
    layer=$(jq -r '.layers[0].digest' "$(oci_blob "$FIX" "$BIG")")
    size=$(jq -r '.layers[0].size' "$(oci_blob "$FIX" "$BIG")")
    assert_eq "$(head_blob e2e/big "$layer")" "200 $size" "HEAD big blob (status, Content-Length)"
    # identical re-push of the big image only checks existence
    t0=$SECONDS
    push_fixture big e2e/big:1
    echo "re-push took $((SECONDS - t0))s"
}

t_run "push single-arch (oci: -> docker://), inspect --raw" push_single
t_run "pull single-arch back to oci: (tag, digest), byte compare" pull_single_back
t_run "push multi-arch index with --all, platform resolve, pull back" push_multi_all
t_run "push --format v2s2, pull back via dir:" push_v2s2
t_run "list-tags" list_tags
t_run "catalog" catalog
t_run "delete manifest" delete_manifest
t_run "re-push identical image skips blobs" repush_identical
t_run "cross-repo blob mount (201) + registry-to-registry copy" cross_repo_mount
t_run "200 MiB image push + pull round trip" big_round_trip
e2e_finish
