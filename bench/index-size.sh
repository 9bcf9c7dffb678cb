#!/usr/bin/env bash
# Bytes of etcd per object: a fresh dev cluster (six OSDs), N small PUTs
# (default 5000 of 4 KiB), then etcd compacted to its current revision and
# defragmented; prints the database size before and after and the bytes per
# object against an empty cluster's database, and one object record's size.
#
#   bench/index-size.sh            # N=5000
#   N=20000 bench/index-size.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-5000}
dir=${WORK:-/tmp/objectio-index-size}
export OBJECTIO_DEV_DIR=$dir OBJECTIO_DEV_OSDS=6
# Bytes in etcd do not depend on the build: PROFILE=debug measures the same.
profile=${PROFILE:-release}
(cd "$root" && if [ "$profile" = release ]; then cargo build -q --release -p objectio-bench; else cargo build -q -p objectio-bench; fi)
"$root/scripts/dev-cluster.sh" wipe >/dev/null 2>&1 || true
"$root/scripts/dev-cluster.sh" up >/dev/null 2>&1
eval "$("$root/scripts/dev-cluster.sh" env)"
ep=http://127.0.0.1:${ETCD_PORT:-2379}
status() { etcdctl --endpoints "$ep" endpoint status -w json | python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; print(s["dbSize"], s["header"]["revision"])'; }
squeeze() {
    read -r _ rev < <(status)
    etcdctl --endpoints "$ep" compaction --physical "$rev" >/dev/null
    etcdctl --endpoints "$ep" defrag >/dev/null
    status | cut -d' ' -f1
}
empty=$(squeeze)
"$root/target/$profile/objectio-bench" --size 4KiB --count "$n" --concurrency 32 --prefix idx
read -r before _ < <(status)
aws=$root/.venv/bin/aws
if [ -x "$aws" ]; then
    t0=$(date +%s.%N)
    listed=$("$aws" s3 ls s3://objectio-bench/ | wc -l)
    t1=$(date +%s.%N)
    echo "LIST: $listed keys (ListObjectsV2 pages of 1000, aws s3 ls) in $(python3 -c "print(f'{$t1-$t0:.2f}')") s with the aws cli"
fi
after=$(squeeze)
one=$(etcdctl --endpoints "$ep" get --prefix /objectio/dev/v1/objects/objectio-bench/idx-4096-1 --limit 1 -w json |
    python3 -c 'import json,sys,base64; kv=json.load(sys.stdin)["kvs"][0]; print(len(base64.b64decode(kv["key"])), len(base64.b64decode(kv["value"])))')
echo "objects: $n"
echo "etcd db: empty cluster $empty B; after the PUTs $before B; compacted and defragmented $after B"
echo "per object: $(( (after - empty) / n )) B after compaction and defragmentation ($(( (before - empty) / n )) B before)"
echo "one record: key and value bytes: $one"
"$root/scripts/dev-cluster.sh" wipe >/dev/null 2>&1
