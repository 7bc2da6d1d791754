#!/usr/bin/env bash
# Monitoring: the /metrics page of the real binary passes `promtool check metrics`; a real
# Prometheus (started here on 127.0.0.1, stopped by PID) scrapes the metrics listener and its
# HTTP API returns the series the traffic made; every expression of the shipped Grafana
# dashboard evaluates; the shipped alert rules load, pass `promtool check rules` and their
# unit tests, and Prometheus sees the instance go down when it is killed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init_own_dermaga "checks the dermaga binary itself" "$@"

PIDS=$E2E_WORK/pids    # every process a step starts, killed (by PID) at exit if still alive
: >"$PIDS"
DEPLOY=$(cd "$E2E_DIR/../../deploy" && pwd)

e2e_test_cleanup() {
    local p
    while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$PIDS"
}

command -v promtool >/dev/null || die "promtool not installed (Debian package prometheus)"
command -v prometheus >/dev/null || die "prometheus not installed (Debian package prometheus)"

# prom_start DIR TARGET: a private Prometheus scraping TARGET every second as job "dermaga",
# with the shipped alert rules; sets PROM (host:port) and PROM_PID.
prom_start() {
    local d=$1 target=$2 i attempt
    mkdir -p "$d"
    cp "$DEPLOY/prometheus/alerts.yml" "$d/alerts.yml"
    cat >"$d/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: dermaga
    static_configs: [{targets: ["$target"]}]
YML
    for ((attempt = 0; attempt < 3; attempt++)); do
        PROM=127.0.0.1:$(pick_port)
        prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/tsdb" \
            --web.listen-address="$PROM" >"$d/prometheus.log" 2>&1 &
        PROM_PID=$!
        echo "$PROM_PID" >>"$PIDS"
        for ((i = 0; i < 300; i++)); do
            [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$PROM/-/ready") == 200 ]] && return 0
            kill -0 "$PROM_PID" 2>/dev/null || break
            sleep 0.1
        done
        grep -q "address already in use" "$d/prometheus.log" || break
    done
    tail -n 20 "$d/prometheus.log" >&2
    fail "prometheus did not become ready"
}

prom_stop() {
    kill -TERM "$PROM_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$PROM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PROM_PID" 2>/dev/null || true
    wait "$PROM_PID" 2>/dev/null || true
}

# prom_query EXPR -> the whole JSON answer of an instant query
prom_query() { curl -fsS --get --data-urlencode "query=$1" "http://$PROM/api/v1/query"; }
# prom_value EXPR -> the first result's value (empty when there is none)
prom_value() { prom_query "$1" | jq -r '.data.result[0].value[1] // empty'; }
# prom_wait EXPR WANT: until the first value of EXPR is WANT (30 s at most)
prom_wait() {
    local v i
    for ((i = 0; i < 300; i++)); do
        v=$(prom_value "$1")
        [[ $v == "$2" ]] && { echo "ok: $1 = $v"; return 0; }
        sleep 0.1
    done
    fail "$1: got '${v}', want '$2' (Prometheus at $PROM)"
}

ADMIN_PW=e2e-Metrics-pw-1
AS_ADMIN=(-u "admin:$ADMIN_PW")

# push_small URL REPO TAG: a config, one layer and an OCI manifest, by monolithic uploads
push_small() {
    local url=$1 repo=$2 tag=$3 w=$E2E_WORK/push cfg_d layer_d
    mkdir -p "$w"
    printf '{}' >"$w/config"
    head -c 40000 /dev/urandom >"$w/layer"
    cfg_d=$(sha256_of "$w/config")
    layer_d=$(sha256_of "$w/layer")
    for f in config layer; do
        assert_eq "$(curl -sS "${AS_ADMIN[@]}" -o /dev/null -w '%{http_code}' -X POST --data-binary "@$w/$f" \
            -H 'Content-Type: application/octet-stream' \
            "$url/v2/$repo/blobs/uploads/?digest=$(sha256_of "$w/$f")")" 201 "monolithic push of the $f"
    done
    cat >"$w/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$cfg_d","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$layer_d","size":40000}]}
JSON
    assert_eq "$(curl -sS "${AS_ADMIN[@]}" -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$w/manifest" \
        -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$url/v2/$repo/manifests/$tag")" 201 "PUT manifest"
}

# ------------------------------------------------------------------------------------------

rules_and_dashboard() {
    promtool check rules "$DEPLOY/prometheus/alerts.yml"
    # the unit tests feed series and assert which alerts fire (and that quiet ones do not)
    promtool test rules "$DEPLOY/prometheus/alerts_test.yml"
    promtool check config "$DEPLOY/prometheus/prometheus.yml"
    local dash=$DEPLOY/grafana/dermaga-dashboard.json n
    jq -e . "$dash" >/dev/null || fail "dashboard is not JSON"
    n=$(jq '[.panels[] | select(.type != "row")] | length' "$dash")
    ((n >= 20)) || fail "dashboard has $n panels"
    jq -e '[.panels[] | select(.type != "row") | .targets | length > 0] | all' "$dash" >/dev/null ||
        fail "a dashboard panel has no query"
    jq -e '.templating.list | map(.name) | index("datasource") != null and index("instance") != null' "$dash" >/dev/null ||
        fail "dashboard lacks its datasource and instance variables"
    echo "ok: $n panels"
}

scraped_by_prometheus() {
    local w=$E2E_WORK/scrape mport page names missing=0 name expr status i
    mkdir -p "$w"
    mport=$(pick_port)
    # access control on: the metrics listener needs no credentials, the API does
    serve_dermaga metrics "$w/data" DERMAGA_AUTH_ENABLED=true DERMAGA_BOOTSTRAP_ADMIN_PASSWORD="$ADMIN_PW" \
        DERMAGA_METRICS_ADDR="127.0.0.1:$mport" DERMAGA_METRICS_STORE_INTERVAL=1s || fail "dermaga did not start"
    assert_eq "$(curl -sS "${AS_ADMIN[@]}" -o /dev/null -w '%{http_code}' "$SRV_URL/metrics")" 404 \
        "/metrics is not on the main listener"
    assert_eq "$(curl -sS "http://127.0.0.1:$mport/readyz")" "ready" "/readyz on the metrics listener"

    push_small "$SRV_URL" admin/app v1
    for ((i = 0; i < 5; i++)); do
        curl -fsS "${AS_ADMIN[@]}" -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
            "$SRV_URL/v2/admin/app/manifests/v1"
    done
    assert_eq "$(curl -sS "${AS_ADMIN[@]}" -o /dev/null -w '%{http_code}' "$SRV_URL/v2/admin/app/manifests/nope")" 404 "unknown tag"
    assert_eq "$(curl -sS -u admin:wrong -o /dev/null -w '%{http_code}' "$SRV_URL/v2/")" 401 "a wrong password"

    # Prometheus's own parser and linter on the real page
    curl -fsS -o "$w/page.txt" "http://127.0.0.1:$mport/metrics"
    out=$(promtool check metrics <"$w/page.txt" 2>&1) || fail "promtool check metrics: $out"
    [[ -z $out ]] || fail "promtool check metrics complains: $out"
    echo "ok: promtool check metrics ($(grep -c '^# TYPE' "$w/page.txt") families)"

    # every metric the dashboard and the alerts name is on the page
    names=$(grep -ohE '\b(dermaga|process)_[a-z_]+' "$DEPLOY/grafana/dermaga-dashboard.json" "$DEPLOY/prometheus/alerts.yml" | sort -u)
    for name in $names; do
        grep -qE "^(# TYPE )?${name}( |\{)" "$w/page.txt" || { echo "missing on the page: $name"; missing=1; }
    done
    ((missing == 0)) || fail "the dashboard or alerts name metrics Dermaga does not export"

    prom_start "$w/prom" "127.0.0.1:$mport"
    prom_wait 'up{job="dermaga"}' 1
    prom_wait 'dermaga_http_requests_total{route="manifest",method="GET",code="200"}' 5
    prom_wait 'dermaga_http_requests_total{route="manifest",method="PUT",code="201"}' 1
    prom_wait 'dermaga_http_requests_total{route="manifest",method="GET",code="404"}' 1
    prom_wait 'dermaga_http_requests_total{route="upload",method="POST",code="201"}' 2
    prom_wait 'dermaga_http_received_bytes_total{route="upload"}' 40002
    prom_wait 'dermaga_store_objects{kind="manifests"}' 1
    prom_wait 'dermaga_store_objects{kind="blobs"}' 2
    prom_wait 'dermaga_ready' 1
    prom_wait 'count(dermaga_build_info{version!=""})' 1
    prom_wait 'dermaga_manifest_cache_lookups_total{result="hit"}' 4
    prom_wait 'dermaga_auth_attempts_total{method="password",outcome="failure"}' 1
    prom_wait 'dermaga_auth_attempts_total{method="password",outcome="success"}' 9
    # pulls while Prometheus watches: the latency histogram gives a p99 from rate()
    for ((i = 0; i < 20; i++)); do
        curl -fsS "${AS_ADMIN[@]}" -o /dev/null "$SRV_URL/v2/admin/app/manifests/v1"
        sleep 0.1
    done
    prom_wait 'dermaga_http_requests_total{route="manifest",method="GET",code="200"}' 25
    v=$(prom_value 'histogram_quantile(0.99, sum by (le) (rate(dermaga_http_request_duration_seconds_bucket{route="manifest"}[1m])))')
    awk -v v="$v" 'BEGIN { exit !(v > 0 && v <= 60) }' || fail "p99 manifest latency from the histogram: '$v'"
    echo "ok: p99 manifest latency $v s"

    # every dashboard query is valid PromQL against these series
    jq -r '.panels[] | select(.type != "row") | .targets[].expr' "$DEPLOY/grafana/dermaga-dashboard.json" >"$w/exprs"
    while IFS= read -r expr; do
        expr=${expr//\$__rate_interval/1m}
        expr=${expr//\$instance/.*}
        status=$(prom_query "$expr" | jq -r .status) || status=error
        [[ $status == success ]] || fail "dashboard query fails: $expr"
    done <"$w/exprs"
    echo "ok: $(wc -l <"$w/exprs") dashboard queries evaluate"

    # the rules are loaded, and nothing fires for a healthy registry
    assert_eq "$(curl -fsS "http://$PROM/api/v1/rules" | jq '[.data.groups[].rules[]] | length')" \
        "$(grep -c -- '- alert:' "$DEPLOY/prometheus/alerts.yml")" "alert rules loaded"
    assert_eq "$(prom_value 'count(ALERTS{alertstate="firing"})')" "" "no alert firing"

    # instance down: Prometheus notices within a few scrapes
    kill -KILL "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null || true
    prom_wait 'up{job="dermaga"}' 0
    prom_stop
}

t_run "alert rules pass promtool check/test rules; dashboard JSON is well-formed" rules_and_dashboard
t_run "traffic, then promtool check metrics and a real Prometheus scraping the metrics listener" scraped_by_prometheus
e2e_finish
