#!/usr/bin/env bash
# Build the e2e test images into an OCI image layout, without network.
#
#   bash fixtures.sh CACHE_DIR
#
# Produces CACHE_DIR/oci (an OCI image layout) with these tags:
#   single  linux/amd64 busybox image (2 gzip layers), built with umoci
#   arm64   same layers, config architecture arm64
#   multi   OCI image index over single + arm64 (assembled by hand)
#   big     one ~200 MiB layer of incompressible (AES-CTR keystream) data
# Skips all work when CACHE_DIR/oci/.e2e-fixtures-v1 exists.
set -euo pipefail

FIXTURES_VERSION=v1
CACHE=${1:?usage: fixtures.sh CACHE_DIR}
OUT=$CACHE/oci
STAMP=$OUT/.e2e-fixtures-$FIXTURES_VERSION
BIG_BYTES=${E2E_BIG_BYTES:-209715200}   # 200 MiB

if [[ -f $STAMP ]]; then
    echo "fixtures: cached in $OUT"
    exit 0
fi

for tool in umoci openssl jq sha256sum; do
    command -v "$tool" >/dev/null || { echo "fixtures: missing $tool" >&2; exit 1; }
done
BUSYBOX=${E2E_BUSYBOX:-/bin/busybox}
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
    { echo "fixtures: $BUSYBOX is not a static busybox (install busybox-static)" >&2; exit 1; }

mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
L=$WORK/oci
export SOURCE_DATE_EPOCH=0

umoci init --layout "$L"

# --- (a) single-arch linux/amd64 busybox --------------------------------------
umoci new --image "$L:single"
umoci unpack --image "$L:single" "$WORK/b" >/dev/null
R=$WORK/b/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/root"
cp "$BUSYBOX" "$R/bin/busybox"
for applet in sh ls cat echo true false sha256sum; do
    ln -s busybox "$R/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
umoci repack --refresh-bundle --image "$L:single" "$WORK/b"
# second, tiny layer so that images have more than one layer
printf 'dermaga e2e fixture %s\n' "$FIXTURES_VERSION" >"$R/etc/e2e-release"
umoci repack --refresh-bundle --image "$L:single" "$WORK/b"
umoci config --image "$L:single" --os linux --architecture amd64 \
    --config.cmd /bin/sh --config.env PATH=/bin \
    --config.label org.dermaga.e2e=single \
    --created 2024-01-01T00:00:00Z --history.created 2024-01-01T00:00:00Z

# --- (b) arm64 variant (same layers, different config) + index -------------------
umoci config --image "$L:single" --tag arm64 --os linux --architecture arm64 \
    --config.label org.dermaga.e2e=arm64 \
    --created 2024-01-01T00:00:00Z --history.created 2024-01-01T00:00:00Z

ref_desc() { jq -c --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]==$t)' "$1/index.json"; }
amd=$(ref_desc "$L" single)
arm=$(ref_desc "$L" arm64)
[[ -n $amd && -n $arm ]] || { echo "fixtures: umoci did not tag single/arm64" >&2; exit 1; }

jq -cn --argjson amd "$amd" --argjson arm "$arm" '{
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      ($amd | del(.annotations) | .mediaType = "application/vnd.oci.image.manifest.v1+json"
            | .platform = {architecture: "amd64", os: "linux"}),
      ($arm | del(.annotations) | .mediaType = "application/vnd.oci.image.manifest.v1+json"
            | .platform = {architecture: "arm64", os: "linux"})
    ],
    annotations: {"org.dermaga.e2e": "multi"}
  }' >"$WORK/index.blob"
idx_digest=sha256:$(sha256sum "$WORK/index.blob" | cut -d' ' -f1)
idx_size=$(stat -c %s "$WORK/index.blob")
cp "$WORK/index.blob" "$L/blobs/sha256/${idx_digest#sha256:}"
jq -c --arg d "$idx_digest" --argjson s "$idx_size" \
    '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
                     annotations: {"org.opencontainers.image.ref.name": "multi"}}]' \
    "$L/index.json" >"$WORK/index.json"
mv "$WORK/index.json" "$L/index.json"

# --- (c) ~200 MiB image of incompressible data --------------------------------------
umoci new --image "$L:big"
umoci unpack --image "$L:big" "$WORK/big" >/dev/null
# AES-128-CTR keystream over zeros: deterministic, incompressible, ~1 GB/s.
head -c "$BIG_BYTES" /dev/zero |
    openssl enc -aes-128-ctr -nosalt -K 00112233445566778899aabbccddeeff \
        -iv 000102030405060708090a0b0c0d0e0f -out "$WORK/big/rootfs/random.bin"
umoci repack --image "$L:big" "$WORK/big"
umoci config --image "$L:big" --os linux --architecture amd64 \
    --config.label org.dermaga.e2e=big \
    --created 2024-01-01T00:00:00Z --history.created 2024-01-01T00:00:00Z
rm -rf "$WORK/big" "$WORK/b"

# Drop blobs no longer referenced (intermediate manifests/configs of umoci edits).
umoci gc --layout "$L"
chmod -R a+rX "$L"

# Sanity: every blob's name is its sha256.
for f in "$L"/blobs/sha256/*; do
    [[ $(sha256sum "$f" | cut -d' ' -f1) == "$(basename "$f")" ]] ||
        { echo "fixtures: corrupt blob $f" >&2; exit 1; }
done
for t in single arm64 multi big; do
    [[ -n $(ref_desc "$L" "$t") ]] || { echo "fixtures: missing tag $t" >&2; exit 1; }
done

touch "$L/.e2e-fixtures-$FIXTURES_VERSION"
rm -rf "$OUT"
mv "$L" "$OUT"
echo "fixtures: built in $OUT"
jq -r '.manifests[] | "  \(.annotations["org.opencontainers.image.ref.name"])\t\(.digest)\t\(.mediaType)"' "$OUT/index.json"
