#!/usr/bin/env bash
# Drain throughput, and client throughput while an OSD drains against idle.
# Brings up its own dev cluster (seven OSDs on four failure domains, so a
# drained OSD's shards have somewhere to go), fills it, measures PUT/GET,
# starts draining the OSD holding the most shards, measures again while it
# drains, and times the drain to its end (osd wait-drained).
#
#   bench/drain-bench.sh [--gib N] [--max-mibs N]
#
# Defaults: 2 GiB of 64 MiB objects, throttle 100 MiB/s (the meta's
# default --repair-max-mibs, which drains share). Uses ports 13379.. and
# $OBJECTIO_BENCH_DIR (default /tmp/objectio-drain-bench), wiped first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gib=2 max_mibs=100
while [ $# -gt 0 ]; do
    case $1 in
        --gib) gib=$2; shift 2 ;;
        --max-mibs) max_mibs=$2; shift 2 ;;
        *) echo "usage: $0 [--gib N] [--max-mibs N]" >&2; exit 2 ;;
    esac
done
export OBJECTIO_DEV_DIR=${OBJECTIO_BENCH_DIR:-/tmp/objectio-drain-bench}
export OBJECTIO_DEV_OSDS=7 OBJECTIO_DEV_DISK_SIZE=$(( gib + 2 ))GiB
export OBJECTIO_DEV_META_ARGS="--repair-max-mibs $max_mibs"
export ETCD_PORT=13379 META_PORT=13100 GATEWAY_PORT=13000 OSD_BASE_PORT=13201
dev="$root/scripts/dev-cluster.sh"
"$dev" wipe >/dev/null 2>&1 || true
"$dev" up >/dev/null
trap '"$dev" wipe >/dev/null 2>&1 || true' EXIT
eval "$("$dev" env)"
cargo build -q --release -p objectio-bench --manifest-path "$root/Cargo.toml"
bench="$root/target/release/objectio-bench"
cli="$root/target/release/objectio-cli"
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

count=$(( gib * 16 ))
echo "== filling: $count x 64 MiB"
"$bench" --bucket fill --size 64MiB --count "$count" --concurrency 4 | grep -E "^PUT"
echo "== idle: 100 x 4 MiB, concurrency 4"
"$bench" --bucket base --size 4MiB --count 100 --concurrency 4 | grep -E "^(PUT|GET)"

moved_total() { curl -fsS -H "Authorization: Bearer $OBJECTIO_TOKEN" "$OBJECTIO_ENDPOINT/api/v1/cluster/rebalance" | json "d['total_moved_bytes']"; }
before=$(moved_total)
# The OSD with the most shards that drain allows (one of a host with spares).
victim=""
for id in $("$cli" osd list --format json | json "' '.join(o['id'] for o in sorted(d['osds'], key=lambda o: -sum(x['shards'] for x in o['disks'])))"); do
    if "$cli" osd drain "$id" >/dev/null 2>&1; then victim=$id; break; fi
done
[ -n "$victim" ] || { echo "no OSD can be drained" >&2; exit 1; }
t0=$(now)
echo "== draining $victim"
echo "== while draining: 100 x 4 MiB, concurrency 4"
"$bench" --bucket during --size 4MiB --count 100 --concurrency 4 | grep -E "^(PUT|GET)"
"$cli" osd wait-drained "$victim" >/dev/null
t1=$(now)
moved=$(( $(moved_total) - before ))
python3 - "$t0" "$t1" "$moved" <<'PY'
import sys
a, b, m = map(float, sys.argv[1:])
print(f"== drained in {b-a:.1f} s: {m/2**20:.0f} MiB of shards moved at {m/2**20/max(b-a,1e-9):.1f} MiB/s")
PY
