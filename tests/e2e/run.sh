#!/usr/bin/env bash
# Run the Dermaga end-to-end client tests.
#
#   DERMAGA=/path/to/dermaga bash tests/e2e/run.sh            # against Dermaga (default)
#   REGISTRY_KIND=distribution bash tests/e2e/run.sh           # against CNCF Distribution
#   bash tests/e2e/run.sh test_skopeo test_ctr                 # a subset
#   bash tests/e2e/run.sh --meta postgres [test_x …]           # metadata in a private PostgreSQL
#                                                               # (same as E2E_META=postgres)
#
# Prints one PASS/FAIL line per test step and ends with exactly "N passed, M failed".
if [[ ${1:-} == --meta ]]; then
    export E2E_META=${2:-}
    shift 2 || { echo "run.sh: --meta needs sqlite or postgres" >&2; exit 2; }
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_enter_ns "$@"

START=$SECONDS
RESULTS=$E2E_NS_ROOT/results.tsv
: >"$RESULTS"
export E2E_RESULTS=$RESULTS

on_exit() {
    local rc=$?
    e2e_cleanup_ns_root
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

log "registry kind: ${REGISTRY_KIND:-dermaga}${DERMAGA:+ (DERMAGA=$DERMAGA)}, metadata: ${E2E_META:-sqlite}"
if [[ ${REGISTRY_KIND:-dermaga} == dermaga ]] && [[ -z ${DERMAGA:-} || ! -x ${DERMAGA:-} ]]; then
    echo "FAIL  setup: DERMAGA='${DERMAGA:-}' is not an executable (or set REGISTRY_KIND=distribution)"
    echo "0 passed, 1 failed"
    exit 1
fi

CACHE=${E2E_CACHE:-${TMPDIR:-/tmp}/dermaga-e2e-cache}
t0=$SECONDS
if bash "$E2E_DIR/fixtures.sh" "$CACHE" >&2; then
    export E2E_FIXTURES=$CACHE/oci
    log "fixtures ready ($((SECONDS - t0))s)"
else
    echo "FAIL  fixtures: could not build test images"
    echo "0 passed, 1 failed"
    exit 1
fi

if (($# > 0)); then
    tests=()
    for t in "$@"; do tests+=("$E2E_DIR/${t%.sh}.sh"); done
else
    tests=("$E2E_DIR"/test_*.sh)
fi

for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    before=$(grep -c . "$RESULTS" || true)
    t0=$SECONDS
    rc=0
    timeout --signal=TERM --kill-after=30 "${E2E_TEST_TIMEOUT:-600}" bash "$t" || rc=$?
    after_fail=$(tail -n +"$((before + 1))" "$RESULTS" | grep -c '^FAIL' || true)
    if ((rc != 0 && after_fail == 0)); then
        # setup error, timeout (124) or crash outside a step: still a failure
        echo "FAIL  $name: script exited with status $rc outside a test step"
        printf 'FAIL\t%s: exit %s\n' "$name" "$rc" >>"$RESULTS"
    fi
    log "$name finished in $((SECONDS - t0))s (exit $rc)"
done

passed=$(grep -c '^PASS' "$RESULTS" || true)
failed=$(grep -c '^FAIL' "$RESULTS" || true)
log "total time $((SECONDS - START))s"
if ((failed > 0)); then
    echo "failed steps:"
    grep '^FAIL' "$RESULTS" | cut -f2- | sed 's/^/  /'
fi
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
