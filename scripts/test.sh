#!/usr/bin/env bash
# Runs every test: unit tests, the end-to-end suite (real etcd, OSD, meta and
# gateway processes on 127.0.0.1), the smoke run of aws cli and boto3 and
# the client matrix (aws cli, boto3, s3cmd, rclone) against a dev cluster.
# Installs what a fresh machine lacks first (etcd, protoc and rclone with
# apt; the aws cli, boto3, s3cmd and schemathesis in .venv/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_system_tools
ensure_python_tools

cargo build --workspace --bins
cargo test --workspace -- --test-threads "${TEST_THREADS:-4}"
# Crash-relevant failpoints of the storage engine (a feature build of its own).
cargo test -p objectio-engine --features failpoints --test failpoints

# Smoke: a dev cluster of its own on other ports, driven by real clients.
export OBJECTIO_DEV_DIR
OBJECTIO_DEV_DIR=$(mktemp -d)
export PROFILE=debug ETCD_PORT=23790 META_PORT=29100 GATEWAY_PORT=29000 OSD_BASE_PORT=29201 OBJECTIO_DEV_DISK_SIZE=512MiB
trap 'scripts/dev-cluster.sh down >/dev/null 2>&1 || true; rm -rf "$OBJECTIO_DEV_DIR"' EXIT
scripts/dev-cluster.sh up >/dev/null
eval "$(scripts/dev-cluster.sh env)"
scripts/smoke.sh
# Every client people use, at its defaults, one line per client and operation.
scripts/client-matrix.sh
# The admin API against its OpenAPI description (schemathesis, all checks);
# last, because it changes the cluster.
scripts/api-fuzz.sh
