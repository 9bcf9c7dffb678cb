#!/usr/bin/env bash
# CPU profiles of the gateway, one OSD and etcd during a PUT load on a fresh
# dev cluster (six OSDs): perf record (call graphs) for SECS seconds in the
# middle of the load, then the top symbols per process and, when inferno is
# installed (cargo install inferno), a flame graph per process.
#
#   bench/profile-put.sh 4KiB 32
#   bench/profile-put.sh 1MiB 16
# Output: $OUT (default /tmp/objectio-profile-<size>/): perf.data, top.txt,
# <process>.svg.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-4KiB}
conc=${2:-32}
secs=${SECS:-10}
out=${OUT:-/tmp/objectio-profile-$size}
export OBJECTIO_DEV_DIR=${WORK:-/tmp/objectio-profile} OBJECTIO_DEV_OSDS=6 OBJECTIO_DEV_DISK_SIZE=6GiB
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
(cd "$root" && cargo build -q --release -p objectio-bench)
mkdir -p "$out"
"$root/scripts/dev-cluster.sh" wipe >/dev/null 2>&1 || true
"$root/scripts/dev-cluster.sh" up >/dev/null 2>&1
eval "$("$root/scripts/dev-cluster.sh" env)"
pids=$OBJECTIO_DEV_DIR/pids
"$root/target/release/objectio-bench" --size "$size" --concurrency "$conc" --duration "$((secs + 6))s" \
    --cpu-pids "$(cat "$pids"/* | paste -sd, -)" >"$out/bench.txt" &
load=$!
sleep 3 # the load's ramp-up, not a readiness wait: the profile skips it
perf record -F 499 -g -o "$out/perf.data" \
    -p "$(cat "$pids/gateway"),$(cat "$pids/osd1"),$(cat "$pids/etcd")" -- sleep "$secs" 2>"$out/perf.log"
wait "$load"
{
    cat "$out/bench.txt"
    echo "== samples by binary (the gateway and OSD threads are all tokio-rt-worker)"
    perf report -i "$out/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
    for dso in objectio-gateway objectio-osd etcd '[kernel.kallsyms]'; do
        echo "== $dso: top symbols (self, % of all samples)"
        perf report -i "$out/perf.data" --no-children --dsos "$dso" --sort sym --stdio -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -15
    done
} | tee "$out/top.txt"
if command -v inferno-collapse-perf >/dev/null; then
    perf script -i "$out/perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph >"$out/put.svg"
    echo "flame graphs: $out/*.svg"
fi
"$root/scripts/dev-cluster.sh" wipe >/dev/null 2>&1
