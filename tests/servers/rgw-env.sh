#!/usr/bin/env bash
# rgw-env.sh DIR CMD [ARGS...]: runs CMD with the DERMAGA_TEST_S3_* variables of the RGW that
# `rgw.sh start DIR` started (the ctest fixture "rgw" does, once per ctest run). With them set,
# the storage contract suite, the API suite and the e2e scripts run on S3.
set -euo pipefail
dir=$1
shift
[[ -f $dir/env ]] || { echo "rgw-env: no RGW running under $dir (start it with tests/servers/rgw.sh start $dir)" >&2; exit 1; }
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
exec "$@"
