#!/usr/bin/env bash
# Time and memory of `meta export` and `meta import` for N objects (default
# 100000): a fresh dev cluster (six OSDs), N PUTs of 1 KiB, an export
# (wall time, the CLI's peak RSS, the meta's peak RSS while it runs), then
# etcd lost whole and the import into the meta started on the empty one,
# the OSDs and gateway started again, and a sample of objects read back.
#
#   bench/meta-export.sh            # N=100000
#   N=20000 bench/meta-export.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-100000}
dir=${WORK:-/tmp/objectio-meta-export}
export OBJECTIO_DEV_DIR=$dir OBJECTIO_DEV_OSDS=6
dev=$root/scripts/dev-cluster.sh
(cd "$root" && cargo build -q --release -p objectio-bench)
"$dev" wipe >/dev/null 2>&1 || true
"$dev" up >/dev/null 2>&1
eval "$("$dev" env)"
cli=$root/target/release/objectio-cli

"$root/target/release/objectio-bench" --size 1KiB --count "$n" --concurrency 32 --prefix exp | grep -E '^PUT' || true

# Samples a process's resident memory every 50 ms until told to stop;
# prints the peak in MiB.
peak_rss() { # pid, stop-file
    local max=0 kb
    while [ ! -e "$2" ]; do
        kb=$(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
        [ "${kb:-0}" -gt "$max" ] && max=$kb
        sleep 0.05
    done
    echo $((max / 1024))
}
measure() { # label, command... ; prints wall s, CLI peak MiB, meta peak MiB
    local label=$1; shift
    local meta_pid stop out
    meta_pid=$(cat "$dir/pids/meta")
    stop=$(mktemp -u)
    out=$(mktemp)
    peak_rss "$meta_pid" "$stop" >"$out.meta" &
    local before after
    before=$(awk '/^VmRSS/ {print int($2/1024)}' "/proc/$meta_pid/status")
    /usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out"
    touch "$stop"; wait
    after=$(cat "$out.meta")
    read -r secs kb <"$out.time"
    echo "$label: $(tail -1 "$out")"
    echo "$label: ${secs} s wall; objectio-cli peak RSS $((kb / 1024)) MiB; objectio-meta RSS ${before} MiB before, peak ${after} MiB during"
    rm -f "$out" "$out.time" "$out.meta" "$stop"
}

file=$dir/meta-export.json
measure export "$cli" meta export --output "$file"
echo "export file: $(du -h "$file" | cut -f1) ($(stat -c %s "$file") bytes)"

# etcd lost whole: stop everything, delete etcd's data, start again (the
# OSDs refuse the new cluster id until the import restores the old one).
"$dev" down >/dev/null 2>&1
rm -rf "$dir/etcd"
"$dev" up >/dev/null 2>&1 || true
measure import "$cli" meta import --input "$file"
"$dev" up >/dev/null 2>&1
aws=$root/.venv/bin/aws
listed=$("$aws" s3 ls s3://objectio-bench/ | awk '{print $4}')
count=$(echo "$listed" | grep -c . || true)
read_back=0
for key in $(echo "$listed" | shuf -n 20 --random-source=<(yes)); do
    bytes=$("$aws" s3 cp "s3://objectio-bench/$key" - 2>/dev/null | wc -c)
    [ "$bytes" = 1024 ] && read_back=$((read_back + 1))
done
echo "after the import: $count objects listed; $read_back of 20 sampled objects read back whole"
"$dev" wipe >/dev/null 2>&1
