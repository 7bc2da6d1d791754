#!/usr/bin/env bash
# HTTPS: `dermaga serve` with http.tls.* and a CA made here with the openssl CLI. curl and
# openssl s_client verify against that CA: GET over https, TLS 1.1 refused, the ECDHE+AEAD-only
# TLS 1.2 policy with an RSA certificate (against an openssl s_server control), certificate reload
# on SIGHUP (a bad file keeps the old certificate), start-up errors naming the file, client
# certificates (mTLS), and a skopeo push with verification on.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "checks the dermaga binary's TLS listener" "$@"

PIDS=$E2E_WORK/pids    # every process a step starts, killed (by PID) at exit if still alive
: >"$PIDS"
PKI=$E2E_WORK/pki
LIVE=$E2E_WORK/live    # the files the server is configured with
mkdir -p "$PKI" "$LIVE"

e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
}

# ------------------------------------------------------------------------------------------
# a throwaway PKI (EC P-256)

# mk_ca NAME CN: $PKI/NAME.crt + NAME.key, self-signed
mk_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>/dev/null
}

# mk_leaf CA NAME CN SERIAL server|client [rsa]: $PKI/NAME.crt + NAME.key signed by CA; an EC
# P-256 key, or with `rsa` an RSA 2048 key that may also do RSA key exchange (keyEncipherment)
mk_leaf() {
    local ca=$1 name=$2 cn=$3 serial=$4 role=$5 ext=$PKI/$2.ext
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) usage=digitalSignature
    if [[ ${6:-} == rsa ]]; then newkey=(-newkey rsa:2048) usage=digitalSignature,keyEncipherment; fi
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\n' "$usage" >"$ext"
    if [[ $role == server ]]; then
        printf 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n' >>"$ext"
    else
        printf 'extendedKeyUsage=clientAuth\n' >>"$ext"
    fi
    openssl req "${newkey[@]}" -nodes -subj "/CN=$cn" \
        -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "$serial" \
        -days 2 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

mk_ca ca "Dermaga e2e CA"
mk_ca other "Some other CA"
mk_leaf ca server1 "registry one" 4097 server
mk_leaf ca server2 "registry two" 4098 server
mk_leaf ca server_rsa "registry rsa" 4099 server rsa
mk_leaf ca alice alice 8193 client
mk_leaf other mallory mallory 8194 client
CA=$PKI/ca.crt

# install NAME: make $PKI/NAME the live certificate and key (renamed into place, as a
# certificate manager would)
install_cert() {
    cp "$PKI/$1.crt" "$LIVE/tls.crt.new" && mv "$LIVE/tls.crt.new" "$LIVE/tls.crt"
    cp "$PKI/$1.key" "$LIVE/tls.key.new" && mv "$LIVE/tls.key.new" "$LIVE/tls.key"
}

# ------------------------------------------------------------------------------------------
# the server

# srv_start NAME [VAR=VALUE…]: dermaga serve with TLS from $LIVE on a free port, healthy over
# https (verified). Sets SRV_PID, SRV, SRV_URL, SRV_ERR.
srv_start() {
    local name=$1
    shift
    SRV_SCHEME=https
    SRV_CURL=(--cacert "$CA" "${SRV_CLIENT_CERT[@]}")
    serve_dermaga "$name" "$E2E_WORK/$name.data" DERMAGA_HTTP_TLS_CERT="$LIVE/tls.crt" \
        DERMAGA_HTTP_TLS_KEY="$LIVE/tls.key" "$@" || fail "dermaga ($name) did not become healthy"
}
SRV_CLIENT_CERT=()

srv_stop() {
    kill -TERM "$SRV_PID"
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$SRV_PID" 2>/dev/null && fail "pid $SRV_PID still running 10 s after SIGTERM"
    local rc=0
    wait "$SRV_PID" || rc=$?
    assert_eq "$rc" 0 "exit status after SIGTERM"
}

# served_cert: "serial=… subject=…" of the certificate a new connection gets (verified)
served_cert() {
    openssl s_client -connect "$SRV" -CAfile "$CA" -verify_return_error -verify_ip 127.0.0.1 </dev/null 2>/dev/null |
        openssl x509 -noout -serial -subject -nameopt oneline | tr '\n' ' '
}

# wait_log EVENT COUNT: until $SRV_ERR holds COUNT lines with "event":"EVENT" (5 s at most)
wait_log() {
    local i
    for ((i = 0; i < 100; i++)); do
        (($(grep -c "\"event\":\"$1\"" "$SRV_ERR" || true) >= $2)) && return 0
        sleep 0.05
    done
    fail "no $2 × $1 in the server log"
}

code() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$@" 2>"$E2E_WORK/curl.err" || true; }

# ------------------------------------------------------------------------------------------

https_and_protocols() {
    install_cert server1
    srv_start main
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 200 "GET /v2/ over https, verified"
    assert_eq "$(code --cacert "$CA" --tlsv1.2 --tls-max 1.2 "$SRV_URL/v2/")" 200 "TLS 1.2"
    assert_eq "$(code --cacert "$CA" --tlsv1.3 "$SRV_URL/v2/")" 200 "TLS 1.3"
    # TLS 1.1: let curl really offer it (OpenSSL 3 allows it at security level 0 only)
    assert_eq "$(code --cacert "$CA" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' "$SRV_URL/v2/")" 000 \
        "TLS 1.1 refused"
    cat "$E2E_WORK/curl.err"
    grep -q "protocol version" "$E2E_WORK/curl.err" || fail "TLS 1.1 not refused by the server's alert"
    # a TLS 1.2 ECDHE cipher without AEAD (suites without ECDHE: see ecdhe_only_with_rsa)
    tls12_refused ECDHE-ECDSA-AES128-SHA
    # plain HTTP to the HTTPS port: refused, and the server goes on
    assert_eq "$(code "http://$SRV/v2/")" 000 "plain http to the https port"
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 200 "still serving after the plain request"
    # the CA really is checked
    assert_eq "$(code --cacert "$PKI/other.crt" "$SRV_URL/v2/")" 000 "verification against another CA fails"
    srv_stop
}

# tls12_refused CIPHER: a TLS 1.2 handshake offering only CIPHER fails with the server's
# handshake_failure alert
tls12_refused() {
    local out rc=0
    out=$(openssl s_client -connect "$SRV" -tls1_2 -cipher "$1" -CAfile "$CA" </dev/null 2>&1) || rc=$?
    ((rc != 0)) || fail "$1 was negotiated"
    grep -q "alert handshake failure" <<<"$out" || fail "$1: no handshake_failure alert from the server: $(tail -n 3 <<<"$out")"
}

# The ECDHE-only policy needs an RSA certificate to be seen: with an EC key, suites with RSA key
# exchange fail whatever the policy. A plain `openssl s_server` with the same certificate is the
# control: it negotiates each suite Dermaga must refuse.
ecdhe_only_with_rsa() {
    local port spid c
    port=$(pick_port)
    openssl s_server -accept "127.0.0.1:$port" -cert "$PKI/server_rsa.crt" -key "$PKI/server_rsa.key" -www -quiet \
        >/dev/null 2>&1 &
    spid=$!
    echo "$spid" >>"$PIDS"
    for ((c = 0; c < 100; c++)); do port_in_use "$port" && break; sleep 0.05; done
    for c in AES128-SHA AES128-GCM-SHA256 AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA; do
        openssl s_client -connect "127.0.0.1:$port" -tls1_2 -cipher "$c" -CAfile "$CA" </dev/null >/dev/null 2>&1 ||
            fail "control: openssl s_server did not negotiate $c with the RSA certificate"
    done
    kill "$spid"
    install_cert server_rsa
    srv_start rsa
    assert_contains "$(served_cert)" "registry rsa" "the RSA certificate is served"
    for c in AES128-SHA AES128-GCM-SHA256 AES256-GCM-SHA384 ECDHE-RSA-AES128-SHA; do
        tls12_refused "$c"
        echo "refused: $c"
    done
    assert_eq "$(code --cacert "$CA" --tlsv1.2 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 "$SRV_URL/v2/")" 200 \
        "ECDHE-RSA-AES128-GCM-SHA256 with the RSA certificate"
    srv_stop
}

# (Steps run in subshells, so each starts and stops its own server.)
sighup_reload() {
    local before after
    install_cert server1
    srv_start reload
    before=$(served_cert)
    echo "before: $before"
    assert_contains "$before" "serial=1001" "serial of server1 (4097)"
    install_cert server2
    kill -HUP "$SRV_PID"
    wait_log tls_reloaded 1
    after=$(served_cert)
    echo "after:  $after"
    assert_contains "$after" "serial=1002" "serial of server2 (4098) after SIGHUP"
    assert_contains "$after" "registry two" "subject after SIGHUP"
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 200 "GET /v2/ after reload"

    # a bad certificate on disk: the reload fails, the old certificate stays
    echo "garbage" >"$LIVE/tls.crt"
    kill -HUP "$SRV_PID"
    wait_log tls_reload_failed 1
    grep '"event":"tls_reload_failed"' "$SRV_ERR"
    grep '"event":"tls_reload_failed"' "$SRV_ERR" | grep -q "$LIVE/tls.crt" || fail "reason does not name the file"
    kill -0 "$SRV_PID" || fail "server died"
    assert_contains "$(served_cert)" "serial=1002" "still the old certificate"
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 200 "GET /v2/ after the failed reload"
    # a key that does not match the certificate
    cp "$PKI/server1.crt" "$LIVE/tls.crt"
    kill -HUP "$SRV_PID"
    wait_log tls_reload_failed 2
    assert_contains "$(served_cert)" "serial=1002" "still the old certificate (mismatched key)"
    # fixed files: the next SIGHUP takes them
    install_cert server1
    kill -HUP "$SRV_PID"
    wait_log tls_reloaded 2
    assert_contains "$(served_cert)" "serial=1001" "new certificate after the files are fixed"
    srv_stop
}

startup_errors() {
    local port rc plain
    for bad in "DERMAGA_HTTP_TLS_CERT=$LIVE/missing.crt:$LIVE/missing.crt" \
        "DERMAGA_HTTP_TLS_KEY=$PKI/server2.key:$PKI/server2.key" \
        "DERMAGA_HTTP_TLS_CLIENT_AUTH=require:http.tls.client_ca"; do
        port=$(pick_port)
        rc=0
        env DERMAGA_HTTP_TLS_CERT="$PKI/server1.crt" DERMAGA_HTTP_TLS_KEY="$PKI/server1.key" "${bad%%:*}" \
            timeout 10 "$DERMAGA" serve --addr "127.0.0.1:$port" --data "$E2E_WORK/bad.data" \
            >/dev/null 2>"$E2E_WORK/bad.err" || rc=$?
        echo "${bad%%:*}: exit $rc"
        sed 's/^/  | /' "$E2E_WORK/bad.err"
        ((rc != 0 && rc != 124)) || fail "serve with ${bad%%:*}: exit $rc"
        plain=$(grep -v '^{' "$E2E_WORK/bad.err" || true)
        assert_eq "$(grep -c . <<<"$plain" || true)" 1 "plain-text reason lines"
        assert_contains "$plain" "${bad#*:}" "reason names the culprit"
        if port_in_use "$port"; then fail "port $port is bound"; fi
    done
}

mtls() {
    install_cert server1
    SRV_CLIENT_CERT=(--cert "$PKI/alice.crt" --key "$PKI/alice.key")
    srv_start mtls DERMAGA_HTTP_TLS_CLIENT_CA="$CA" DERMAGA_HTTP_TLS_CLIENT_AUTH=require
    assert_eq "$(code --cacert "$CA" "${SRV_CLIENT_CERT[@]}" "$SRV_URL/v2/")" 200 "with a client certificate"
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 000 "without a client certificate"
    assert_eq "$(code --cacert "$CA" --cert "$PKI/mallory.crt" --key "$PKI/mallory.key" "$SRV_URL/v2/")" 000 \
        "with a certificate from another CA"
    srv_stop
    SRV_CLIENT_CERT=()
    srv_start mtls-optional DERMAGA_HTTP_TLS_CLIENT_CA="$CA" DERMAGA_HTTP_TLS_CLIENT_AUTH=optional
    assert_eq "$(code --cacert "$CA" "$SRV_URL/v2/")" 200 "optional: without a client certificate"
    assert_eq "$(code --cacert "$CA" --cert "$PKI/alice.crt" --key "$PKI/alice.key" "$SRV_URL/v2/")" 200 \
        "optional: with a client certificate"
    srv_stop
}

skopeo_push() {
    local fix=${E2E_FIXTURES:-}
    if [[ -z $fix ]]; then
        bash "$E2E_DIR/fixtures.sh" "${E2E_CACHE:-/tmp/dermaga-e2e-cache}" >&2
        fix=${E2E_CACHE:-/tmp/dermaga-e2e-cache}/oci
    fi
    REG=$SRV_HOST_FOR_CLIENTS
    e2e_setup_clients
    # No registries.conf entry for this registry: nothing marks it insecure.
    printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$CONTAINERS_REGISTRIES_CONF"
    local certs=$E2E_WORK/certs.d want got
    mkdir -p "$certs"
    cp "$CA" "$certs/ca.crt"
    install_cert server1
    srv_start skopeo
    want=$(oci_digest "$fix" single)
    # without the CA, verification fails: it is on
    expect_fail "x509|certificate signed by unknown authority" sk copy --quiet --dest-tls-verify=true "oci:$fix:single" "docker://$SRV/e2e/tls:nocert"
    sk copy --quiet --preserve-digests --dest-tls-verify=true --dest-cert-dir "$certs" \
        "oci:$fix:single" "docker://$SRV/e2e/tls:1"
    got=$(sk inspect --raw --tls-verify=true --cert-dir "$certs" "docker://$SRV/e2e/tls:1" | sha256_stdin)
    assert_eq "$got" "$want" "manifest digest pushed over TLS"
    srv_stop

    # mTLS: skopeo presents alice's certificate from the cert dir
    SRV_CLIENT_CERT=(--cert "$PKI/alice.crt" --key "$PKI/alice.key")
    srv_start skopeo-mtls DERMAGA_HTTP_TLS_CLIENT_CA="$CA" DERMAGA_HTTP_TLS_CLIENT_AUTH=require
    expect_fail "certificate required|bad certificate|handshake failure|remote error" sk copy --quiet --dest-tls-verify=true --dest-cert-dir "$certs" \
        "oci:$fix:single" "docker://$SRV/e2e/tls:nocert"
    cp "$PKI/alice.crt" "$certs/alice.cert"
    cp "$PKI/alice.key" "$certs/alice.key"
    sk copy --quiet --preserve-digests --dest-tls-verify=true --dest-cert-dir "$certs" \
        "oci:$fix:single" "docker://$SRV/e2e/tls:2"
    got=$(sk inspect --raw --tls-verify=true --cert-dir "$certs" "docker://$SRV/e2e/tls:2" | sha256_stdin)
    assert_eq "$got" "$want" "manifest digest pushed over mTLS"
    srv_stop
    SRV_CLIENT_CERT=()
}
SRV_HOST_FOR_CLIENTS=127.0.0.1:1   # e2e_setup_clients wants a REG; none is marked insecure

t_run "https GET /v2/ verified; TLS 1.2/1.3 only; plain http refused" https_and_protocols
t_run "RSA certificate: suites without ECDHE or AEAD refused (openssl s_server negotiates them)" ecdhe_only_with_rsa
t_run "SIGHUP: new certificate for new connections; a bad one is refused, the old kept" sighup_reload
t_run "start-up with a missing or mismatched file: one-line reason naming it" startup_errors
t_run "mTLS: require refuses missing or foreign certificates; optional accepts none" mtls
t_run "skopeo copy over TLS with verification (and with a client certificate)" skopeo_push
e2e_finish
