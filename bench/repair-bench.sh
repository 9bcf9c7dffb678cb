#!/usr/bin/env bash
# Time to full redundancy after an OSD dies, and client throughput during
# repair against without. Brings up its own dev cluster (seven OSDs on four
# failure domains, so a dead OSD's shards have somewhere to go), fills it,
# measures PUT/GET, kills the OSD holding the most shards, and measures
# again while repair rebuilds its shards.
#
#   bench/repair-bench.sh [--gib N] [--down-out SECS] [--max-mibs N]
#
# Defaults: 2 GiB of 64 MiB objects, down-out-interval 20 s, repair
# throttle 100 MiB/s (the meta's default). Uses ports 12379.. and
# $OBJECTIO_BENCH_DIR (default /tmp/objectio-repair-bench), wiped first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gib=2 down_out=20 max_mibs=100
while [ $# -gt 0 ]; do
    case $1 in
        --gib) gib=$2; shift 2 ;;
        --down-out) down_out=$2; shift 2 ;;
        --max-mibs) max_mibs=$2; shift 2 ;;
        *) echo "usage: $0 [--gib N] [--down-out SECS] [--max-mibs N]" >&2; exit 2 ;;
    esac
done
export OBJECTIO_DEV_DIR=${OBJECTIO_BENCH_DIR:-/tmp/objectio-repair-bench}
export OBJECTIO_DEV_OSDS=7 OBJECTIO_DEV_DISK_SIZE=$(( gib + 2 ))GiB
export OBJECTIO_DEV_META_ARGS="--down-out-interval-secs $down_out --repair-max-mibs $max_mibs"
export ETCD_PORT=12379 META_PORT=12100 GATEWAY_PORT=12000 OSD_BASE_PORT=12201
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
echo "== baseline (no repair): 100 x 4 MiB, concurrency 4"
"$bench" --bucket base --size 4MiB --count 100 --concurrency 4 | grep -E "^(PUT|GET)"

victim=$("$cli" osd list --format json | json "max(d['osds'], key=lambda o: sum(x['shards'] for x in o['disks']))['id']")
held=$("$cli" osd list --format json | json "sum(x['used_bytes'] for o in d['osds'] if o['id']=='$victim' for x in o['disks'])")
before=$(curl -fsS -H "Authorization: Bearer $OBJECTIO_TOKEN" "$OBJECTIO_ENDPOINT/api/v1/repair" | json "d['total_bytes_rebuilt']")
echo "== killing $victim ($(( held / 1048576 )) MiB of shards)"
kill -9 "$(cat "$OBJECTIO_DEV_DIR/pids/$victim")"
t_kill=$(now)
until "$cli" osd list --format json | json "any(x['state']=='out' for o in d['osds'] if o['id']=='$victim' for x in o['disks'])" | grep -q True; do
    sleep 0.2
done
t_out=$(now)
echo "   marked out after $(python3 -c "print(round($t_out-$t_kill,1))") s"
echo "== during repair: 100 x 4 MiB, concurrency 4"
"$bench" --bucket during --size 4MiB --count 100 --concurrency 4 | grep -E "^(PUT|GET)"
# Full redundancy: a whole pass that began after the out counts nothing
# degraded, and no object is left on the dead OSD's disk.
until curl -fsS -H "Authorization: Bearer $OBJECTIO_TOKEN" "$OBJECTIO_ENDPOINT/api/v1/cluster/status" |
    json "d['objects']['degraded']==0 and d['objects']['at_risk']==0 and d['objects'].get('counted_at','') >= '$(date -u -d @"${t_out%.*}" +%Y-%m-%dT%H:%M:%SZ)'" | grep -q True; do
    sleep 0.5
done
t_full=$(now)
after=$(curl -fsS -H "Authorization: Bearer $OBJECTIO_TOKEN" "$OBJECTIO_ENDPOINT/api/v1/repair" | json "d['total_bytes_rebuilt']")
rebuilt=$(( after - before ))
python3 - "$t_kill" "$t_out" "$t_full" "$rebuilt" <<'PY'
import sys
k, o, f, b = map(float, sys.argv[1:])
print(f"== full redundancy {f-k:.1f} s after the kill ({f-o:.1f} s of repair after the out); "
      f"rebuilt {b/2**20:.0f} MiB at {b/2**20/max(f-o,1e-9):.1f} MiB/s")
PY
