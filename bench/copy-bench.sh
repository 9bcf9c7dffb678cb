#!/usr/bin/env bash
# CopyObject of a large object: its speed, and that the gateway's memory
# stays bounded while it copies (the copy streams stripe by stripe from the
# one read path into the one write path). Brings up its own dev cluster,
# uploads one object, records the gateway's peak RSS (VmHWM), copies it
# server-side three times and reports each copy's time and the peak RSS
# after it.
#
#   bench/copy-bench.sh [--mib N]
#
# Default 1024 MiB. PROFILE=debug uses a debug build (memory is what it
# shows; speed wants the release default). Uses ports 13379.. and
# $OBJECTIO_BENCH_DIR (default /tmp/objectio-copy-bench), wiped first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mib=1024
while [ $# -gt 0 ]; do
    case $1 in
        --mib) mib=$2; shift 2 ;;
        *) echo "usage: $0 [--mib N]" >&2; exit 2 ;;
    esac
done
export OBJECTIO_DEV_DIR=${OBJECTIO_BENCH_DIR:-/tmp/objectio-copy-bench}
export OBJECTIO_DEV_DISK_SIZE=$(( (mib * 5 / 4 + 512) ))MiB
export ETCD_PORT=13379 META_PORT=13100 GATEWAY_PORT=13000 OSD_BASE_PORT=13201
dev="$root/scripts/dev-cluster.sh"
"$dev" wipe >/dev/null 2>&1 || true
trap '"$dev" down >/dev/null 2>&1 || true' EXIT
"$dev" up >/dev/null
eval "$("$dev" env)"
pid=$(cat "$OBJECTIO_DEV_DIR/pids/gateway")
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
aws() { command aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"; "$dev" down >/dev/null 2>&1 || true' EXIT
head -c $((mib << 20)) /dev/urandom >"$work/src"
aws s3 mb s3://copybench >/dev/null
aws s3 cp --only-show-errors "$work/src" s3://copybench/src
echo "object: $mib MiB; gateway VmHWM after the upload: $(hwm) kB"
for i in 1 2 3; do
    t0=$(date +%s.%N)
    aws s3api copy-object --bucket copybench --key "copy$i" --copy-source copybench/src >/dev/null
    t1=$(date +%s.%N)
    awk -v t0="$t0" -v t1="$t1" -v m="$mib" -v i="$i" -v h="$(hwm)" \
        'BEGIN { printf "copy %d: %.2f s, %.1f MiB/s; gateway VmHWM %d kB\n", i, t1 - t0, m / (t1 - t0), h }'
done
