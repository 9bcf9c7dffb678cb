#!/usr/bin/env bash
# schemathesis against the live meta of a running dev cluster (the
# environment of `scripts/dev-cluster.sh env`): every check, every phase
# (the spec's examples, coverage of each schema's edges, fuzzing, stateful
# sequences), for API_FUZZ_SECS (default 120) seconds. It creates, changes
# and deletes users, keys, buckets, tokens and OSD records, so run it last
# on a cluster kept for it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${OBJECTIO_ENDPOINT:?run scripts/dev-cluster.sh env first}" "${OBJECTIO_TOKEN:?}"
# The spec's own examples first: each must fit its schema.
python3 "$root/testing/api/check-examples.py" "$root/openapi/objectio-admin-v1.json"
exec schemathesis --config-file "$root/testing/api/schemathesis.toml" run \
    "$root/openapi/objectio-admin-v1.json" --max-time "${API_FUZZ_SECS:-120}"
