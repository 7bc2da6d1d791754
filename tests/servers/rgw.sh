#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with a RADOS Gateway (a real S3), for tests and benches.
#
#   bash tests/servers/rgw.sh start DIR    # starts mon + one memstore OSD + radosgw under DIR,
#                                          # writes DIR/env (DERMAGA_TEST_S3_ENDPOINT, ..._ACCESS_KEY, ...)
#   bash tests/servers/rgw.sh stop DIR     # stops them by PID and removes DIR
#
# Everything binds 127.0.0.1 on free ports. `start` stops whatever it started if a step fails,
# and prints one line "rgw: <reason>" on stderr. Needs the Debian packages ceph-mon ceph-osd
# radosgw ceph-common (Makefile TEST_DEPS). Cephx is off: RGW still checks the S3 user's
# SigV4 signatures, which is what the tests need.
#
# Environment: RGW_MEMSTORE_BYTES (default 2 GiB: memstore holds objects in RAM, so this is
# also the cluster's capacity), RGW_START_TIMEOUT (seconds, default 90).
set -euo pipefail

ACCESS_KEY=dermagatestaccess
SECRET_KEY=dermagatestsecretkey0123456789abcdefghij
BUCKET=dermaga-test

die() { echo "rgw: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Stops every daemon whose pid file is under DIR: TERM, then KILL after 2 s (a memstore OSD
# would otherwise spend seconds saving objects that are about to be deleted).
stop_all() {
    local dir=$1 f pid i
    for f in "$dir"/run/*.pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null || true
    done
    for f in "$dir"/run/*.pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [[ -n $pid ]] || continue
        for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}

write_conf() {
    local dir=$1 mon_port=$2 rgw_port=$3 fsid=$4
    cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
mon max pg per osd = 1000
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-2147483648}
osd data = $dir/osd.\$id
mon data = $dir/mon.\$id
debug ms = 0
[mon]
mon data avail warn = 1
mon data avail crit = 0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 64
CONF
}

# Polls `cmd` every 0.2 s until it succeeds or the deadline passes.
wait_for() {
    local what=$1 deadline=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not come up (see logs under $DIR/log)"
        sleep 0.2
    done
}

start() {
    DIR=$1
    stop "$DIR"  # what an interrupted earlier run left there
    mkdir -p "$DIR"/{run,log}
    DIR=$(cd "$DIR" && pwd)
    trap 'echo "rgw: failed at line $LINENO" >&2; stop_all "$DIR"' ERR
    trap 'stop_all "$DIR"; exit 1' INT TERM
    local t0=$SECONDS deadline=$((SECONDS + ${RGW_START_TIMEOUT:-90}))
    local mon_port rgw_port fsid uuid
    mon_port=$(free_port); rgw_port=$(free_port); fsid=$(uuidgen)
    write_conf "$DIR" "$mon_port" "$rgw_port" "$fsid"
    export CEPH_CONF=$DIR/ceph.conf
    local ceph=(ceph --conf "$DIR/ceph.conf" --connect-timeout 20)

    monmaptool --create --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" "$DIR/monmap" >/dev/null
    ceph-mon --conf "$DIR/ceph.conf" --mkfs -i a --monmap "$DIR/monmap" >"$DIR/log/mkfs-mon.out" 2>&1 \
        || die "ceph-mon --mkfs failed: $(tail -1 "$DIR/log/mkfs-mon.out")"
    ceph-mon --conf "$DIR/ceph.conf" -i a >"$DIR/log/mon.out" 2>&1
    wait_for "ceph-mon" "$deadline" "${ceph[@]}" mon stat

    uuid=$(uuidgen)
    local id
    id=$("${ceph[@]}" osd create "$uuid" 2>"$DIR/log/osd-create.out") \
        || die "ceph osd create failed: $(tail -1 "$DIR/log/osd-create.out")"
    mkdir -p "$DIR/osd.$id"
    ceph-osd --conf "$DIR/ceph.conf" -i "$id" --mkfs --osd-uuid "$uuid" >"$DIR/log/mkfs-osd.out" 2>&1 \
        || die "ceph-osd --mkfs failed: $(tail -1 "$DIR/log/mkfs-osd.out")"
    # The OSD is placed here, not by itself at boot ("osd crush update on start = false"):
    # that boot-time crush update was refused by the monitor with "wrong fsid" in about one
    # start in four on Ceph 16, and ceph-osd then exits.
    "${ceph[@]}" osd crush add "osd.$id" 1.0 host=localhost root=default >"$DIR/log/crush.out" 2>&1 \
        || die "ceph osd crush add failed: $(tail -1 "$DIR/log/crush.out")"
    ceph-osd --conf "$DIR/ceph.conf" -i "$id" >"$DIR/log/osd.out" 2>&1 \
        || die "ceph-osd did not start: $(grep -m1 -i fail "$DIR/log/osd.out")"
    wait_for "ceph-osd" "$deadline" bash -c "\"\$@\" osd dump | grep -q '^osd.$id up'" _ "${ceph[@]}"

    radosgw --conf "$DIR/ceph.conf" -n client.rgw.a >"$DIR/log/rgw.out" 2>&1
    # The user is created once RGW has made its pools; radosgw-admin would make them itself
    # and race the gateway.
    wait_for "radosgw" "$deadline" curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/"
    radosgw-admin --conf "$DIR/ceph.conf" user create --uid dermaga --display-name dermaga \
        --access-key "$ACCESS_KEY" --secret "$SECRET_KEY" >"$DIR/log/user.out" 2>&1 \
        || die "radosgw-admin user create failed: $(tail -1 "$DIR/log/user.out")"
    cat >"$DIR/env" <<ENV
DERMAGA_TEST_S3_ENDPOINT=http://127.0.0.1:$rgw_port
DERMAGA_TEST_S3_REGION=default
DERMAGA_TEST_S3_ACCESS_KEY=$ACCESS_KEY
DERMAGA_TEST_S3_SECRET_KEY=$SECRET_KEY
DERMAGA_TEST_S3_BUCKET=$BUCKET
RGW_DIR=$DIR
ENV
    trap - ERR INT TERM
    echo "rgw: up at http://127.0.0.1:$rgw_port in $((SECONDS - t0))s (dir $DIR)" >&2
}

stop() {
    local dir=$1
    [[ -d $dir ]] || return 0
    stop_all "$dir"
    rm -rf "$dir"
}

case ${1:-} in
    start) [[ -n ${2:-} ]] || die "usage: rgw.sh start DIR"; start "$2" ;;
    stop) [[ -n ${2:-} ]] || die "usage: rgw.sh stop DIR"; stop "$2" ;;
    *) die "usage: rgw.sh start|stop DIR" ;;
esac
