#!/usr/bin/env bash
# The e2e client tests with blobs on S3. Run it through tests/servers/rgw-env.sh (the ctest
# entry e2e_clients_s3 does, on the RGW that the fixture "rgw" starts): it maps the
# DERMAGA_TEST_S3_* variables onto dermaga's storage.s3.* settings, then runs run.sh with
# the given tests (default: the container clients).
#
#   bash tests/servers/rgw.sh start /tmp/rgw
#   DERMAGA=$PWD/build/src/cli/dermaga bash tests/servers/rgw-env.sh /tmp/rgw bash tests/e2e/run-s3.sh
#   bash tests/servers/rgw.sh stop /tmp/rgw
set -euo pipefail
if [[ -z ${DERMAGA_TEST_S3_ENDPOINT:-} ]]; then
    echo "FAIL  setup: DERMAGA_TEST_S3_ENDPOINT is not set (run through tests/servers/rgw-env.sh)"
    echo "0 passed, 1 failed"
    exit 1
fi
export DERMAGA_STORAGE_DRIVER=s3
export DERMAGA_STORAGE_S3_ENDPOINT=$DERMAGA_TEST_S3_ENDPOINT
export DERMAGA_STORAGE_S3_REGION=$DERMAGA_TEST_S3_REGION
export DERMAGA_STORAGE_S3_BUCKET=$DERMAGA_TEST_S3_BUCKET
export DERMAGA_STORAGE_S3_ACCESS_KEY=$DERMAGA_TEST_S3_ACCESS_KEY
export DERMAGA_STORAGE_S3_SECRET_KEY=$DERMAGA_TEST_S3_SECRET_KEY
export DERMAGA_STORAGE_S3_PREFIX=e2e-$$-$RANDOM/
export DERMAGA_STORAGE_S3_PART_SIZE=5MiB
export DERMAGA_STORAGE_S3_CREATE_BUCKET=true
# dermaga refuses DERMAGA_* variables it does not know.
unset DERMAGA_TEST_S3_ENDPOINT DERMAGA_TEST_S3_REGION DERMAGA_TEST_S3_BUCKET DERMAGA_TEST_S3_ACCESS_KEY \
    DERMAGA_TEST_S3_SECRET_KEY
if (($# == 0)); then
    set -- test_skopeo test_podman test_buildah test_ctr test_docker
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" "$@"
