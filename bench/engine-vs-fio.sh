#!/usr/bin/env bash
# Engine vs fio on the same file, in the same run: 1 MiB shards written and
# read sequentially, and 4 KiB shards written then read at random, at queue
# depths 1 and 16, for the uring and sync backends. Prints a markdown table
# with the ratio engine/fio.
#
# Usage: bench/engine-vs-fio.sh [DIR]   (DIR must not be tmpfs for O_DIRECT; default target/bench)
# fio runs with direct I/O (io_uring for uring, psync with QD jobs for sync).
# Engine writes are durable when acknowledged (group-committed flushes);
# fio's are not flushed, so the write ratios understate the engine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/target/bench}
mkdir -p "$dir"
file=$dir/engine-vs-fio.img
command -v fio >/dev/null || { apt-get install -y -qq fio >/dev/null; }
(cd "$root" && cargo build -q --release -p objectio-bench)
eb=$root/target/release/objectio-engine-bench

fio_run() { # rw bs size qd backend [extra fio args] -> "MiB/s IOPS"
    local rw=$1 bs=$2 size=$3 qd=$4 backend=$5 engine jobs depth
    shift 5
    if [ "$backend" = uring ]; then engine=io_uring; jobs=1; depth=$qd; else engine=psync; jobs=$qd; depth=1; fi
    fio --name=b --filename="$file" --rw="$rw" --bs="$bs" --size="$size" --direct=1 \
        --ioengine=$engine --iodepth=$depth --numjobs=$jobs --group_reporting \
        --randrepeat=0 --output-format=json "$@" 2>/dev/null |
        python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
side = j["write"] if j["write"]["io_bytes"] > 0 else j["read"]
print("%.1f %.0f" % (side["bw"] / 1024.0, side["iops"]))'
}

engine_run() { # workload shard count qd backend -> "wMiB wIOPS rMiB rIOPS"
    "$eb" --path "$file" --size 4GiB --backend "$5" --workload "$1" --shard-size "$2" --count "$3" --qd "$4" 2>/dev/null |
        awk '/^write/ {w=$4; wi=$6} /^read/ {r=$4; ri=$6} END {print w, wi, r, ri}'
}

echo "| backend | workload | QD | engine | fio | engine/fio | fio, fdatasync per write | engine/that |"
echo "|---|---|---|---|---|---|---|---|"
for backend in uring sync; do
    for qd in 1 16; do
        rm -f "$file"
        read -r ew ewi er eri <<<"$(engine_run seq 1MiB 1024 "$qd" "$backend")"
        rm -f "$file"
        read -r fs fsi <<<"$(fio_run write 1M 512M "$qd" "$backend" --fdatasync=1)"
        read -r fw fwi <<<"$(fio_run write 1M 1G "$qd" "$backend")"
        read -r fr fri <<<"$(fio_run read 1M 1G "$qd" "$backend")"
        printf '| %s | 1 MiB shards, seq write | %s | %s MiB/s | %s MiB/s | %.2f | %s MiB/s | %.2f |\n' "$backend" "$qd" "$ew" "$fw" "$(echo "$ew / $fw" | bc -l)" "$fs" "$(echo "$ew / $fs" | bc -l)"
        printf '| %s | 1 MiB shards, seq read | %s | %s MiB/s | %s MiB/s | %.2f | | |\n' "$backend" "$qd" "$er" "$fr" "$(echo "$er / $fr" | bc -l)"
        rm -f "$file"
        read -r ew ewi er eri <<<"$(engine_run rand 4KiB 20000 "$qd" "$backend")"
        rm -f "$file"
        fio_run write 1M 256M 16 "$backend" >/dev/null # lay the file out for random reads
        read -r fs fsi <<<"$(fio_run randwrite 4k 8M "$qd" "$backend" --fdatasync=1)"
        read -r fw fwi <<<"$(fio_run randwrite 4k 80M "$qd" "$backend")"
        read -r fr fri <<<"$(fio_run randread 4k 80M "$qd" "$backend")"
        printf '| %s | 4 KiB shards, random write | %s | %s IOPS | %s IOPS | %.2f | %s IOPS | %.2f |\n' "$backend" "$qd" "$ewi" "$fwi" "$(echo "$ewi / $fwi" | bc -l)" "$fsi" "$(echo "$ewi / $fsi" | bc -l)"
        printf '| %s | 4 KiB shards, random read | %s | %s IOPS | %s IOPS | %.2f | | |\n' "$backend" "$qd" "$eri" "$fri" "$(echo "$eri / $fri" | bc -l)"
    done
done
rm -f "$file"
