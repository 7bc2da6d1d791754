#!/usr/bin/env bash
# Starts CNCF Distribution (docker-registry) with Dermaga's command line:
#   distribution-serve.sh serve --addr 127.0.0.1:PORT --data DIR
# run.sh uses it for the Distribution side; it can also stand in for the
# Dermaga binary (bench/run.sh LOADGEN bench/distribution-serve.sh) to check
# the harness: both sides are then Distribution and every ratio should be ~1.
# The config is written next to DIR; the script execs the registry, so its
# PID is the registry's PID. DISTRIBUTION overrides the binary. With BENCH_TLS_CERT and
# BENCH_TLS_KEY set, it serves HTTPS with them (http.tls.certificate/key).
set -eu
[[ ${1:-} == serve ]] || { echo "usage: $0 serve --addr HOST:PORT --data DIR" >&2; exit 2; }
shift
addr="" data=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --addr) addr=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    *) echo "$0: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $addr && -n $data ]] || { echo "$0: --addr and --data are required" >&2; exit 2; }
mkdir -p "$data"
data=$(cd "$data" && pwd)
cfg="${data%/}.distribution.yml"
# BENCH_S3_*: blobs in S3 (run.sh sets them from BENCH_S3), with the s3 driver as its docs
# describe for a non-AWS endpoint, and bytes served through the registry as Dermaga does
# by default (redirect disabled). AWS_CA_BUNDLE would make its SDK fail over plain HTTP.
if [[ -n ${BENCH_S3_ENDPOINT:-} ]]; then
  unset AWS_CA_BUNDLE
  storage="  s3:
    accesskey: $BENCH_S3_ACCESS_KEY
    secretkey: $BENCH_S3_SECRET_KEY
    region: us-east-1
    regionendpoint: $BENCH_S3_ENDPOINT
    bucket: $BENCH_S3_BUCKET
    rootdirectory: $BENCH_S3_ROOT
    secure: false
    v4auth: true
  redirect:
    disable: true"
else
  storage="  filesystem:
    rootdirectory: $data"
fi
cat >"$cfg" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
$storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr
  secret: dermaga-bench-not-a-secret
$(if [[ -n ${BENCH_TLS_CERT:-} ]]; then printf '  tls:\n    certificate: %s\n    key: %s\n' "$BENCH_TLS_CERT" "$BENCH_TLS_KEY"; fi)
health:
  storagedriver:
    enabled: false
EOF
exec "${DISTRIBUTION:-docker-registry}" serve "$cfg"
