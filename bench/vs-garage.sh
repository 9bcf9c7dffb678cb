#!/usr/bin/env bash
# ObjectIO beside Garage 2.5.0 on this machine, in one run: the same closed-loop
# client (objectio-bench) against a fresh dev cluster (six OSDs, 4+2, fsync on)
# and against a fresh single-node Garage at its defaults (no fsync, zstd level 1)
# and with fsync, in turn, for every case, two runs or more interleaved; then
# the table of medians with ratios and each side's CPU.
#
#   bench/vs-garage.sh                   # 2 runs, 20 s per phase
#   RUNS=3 SECS=30 bench/vs-garage.sh
#   SYSTEMS="objectio garage" bench/vs-garage.sh   # leave Garage-with-fsync out
#   CASES="4KiB:32" bench/vs-garage.sh             # one case (size:concurrency)
#   BASE=/tmp/base SYSTEMS="objectio-base objectio garage" bench/vs-garage.sh  # before and after
#
# Garage is installed from crates.io (cargo install garage --version 2.5.0
# --locked) into $OBJECTIO_BENCH_CACHE (default ~/.cache/objectio-bench), outside
# the repository. Every case PUTs unique incompressible bodies for SECS, drops the
# page cache (root), then GETs them for SECS. Results (one JSON line per phase)
# go to $OUT (default /tmp/objectio-vs-garage/results.jsonl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${OBJECTIO_BENCH_CACHE:-$HOME/.cache/objectio-bench}
work=${WORK:-/tmp/objectio-vs-garage}
out=${OUT:-$work/results.jsonl}
runs=${RUNS:-2}
secs=${SECS:-20}
systems=${SYSTEMS:-objectio garage garage-fsync}
cases=${CASES:-64MiB:4 1MiB:16 4KiB:32}
garage=$cache/garage-2.5.0/bin/garage

log() { printf '==> %s\n' "$*" >&2; }

if [ ! -x "$garage" ]; then
    log "installing Garage 2.5.0 into $cache (once)"
    cargo install garage --version 2.5.0 --locked --root "$cache/garage-2.5.0"
fi
# System `objectio` is this tree; `objectio-base` is another checkout
# (BASE=/path, say an earlier commit's worktree, for before and after in one
# run; its binaries are built there). The client is always this tree's.
build_tree() { (cd "$1" && cargo build -q --release -p objectio-meta -p objectio-osd -p objectio-gateway -p objectio-cli); }
(cd "$root" && cargo build -q --release -p objectio-bench)
build_tree "$root"
case " $systems " in *" objectio-base "*) build_tree "${BASE:?objectio-base needs BASE=/path/to/checkout}" ;; esac
bench=$root/target/release/objectio-bench
mkdir -p "$work"
: >"$out"

# --- ObjectIO: a fresh dev cluster of six OSDs ---------------------------
dev_dir=$work/objectio
objectio_up() { # $1: the tree
    tree=$1
    OBJECTIO_DEV_DIR=$dev_dir "$tree/scripts/dev-cluster.sh" wipe >/dev/null 2>&1 || true
    OBJECTIO_DEV_DIR=$dev_dir OBJECTIO_DEV_OSDS=6 OBJECTIO_DEV_DISK_SIZE=${DISK_SIZE:-6GiB} \
        "$tree/scripts/dev-cluster.sh" up >"$work/objectio-up.log" 2>&1
    eval "$(OBJECTIO_DEV_DIR=$dev_dir "$tree/scripts/dev-cluster.sh" env)"
    endpoint=$AWS_ENDPOINT_URL
    access=$AWS_ACCESS_KEY_ID
    secret=$AWS_SECRET_ACCESS_KEY
    pids=$(cat "$dev_dir"/pids/* | paste -sd, -)
}
objectio_down() { OBJECTIO_DEV_DIR=$dev_dir "$root/scripts/dev-cluster.sh" wipe >/dev/null 2>&1; }

# --- Garage: a fresh single node -----------------------------------------
gdir=$work/garage
garage_up() { # $1: fsync true|false
    garage_down
    mkdir -p "$gdir/meta" "$gdir/data"
    cat >"$gdir/garage.toml" <<TOML
metadata_dir = "$gdir/meta"
data_dir = "$gdir/data"
metadata_fsync = $1
data_fsync = $1
replication_factor = 1
rpc_bind_addr = "127.0.0.1:3901"
rpc_public_addr = "127.0.0.1:3901"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:3900"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:3903"
TOML
    local g=("$garage" -c "$gdir/garage.toml")
    "${g[@]}" server >"$gdir/server.log" 2>&1 &
    echo $! >"$gdir/pid"
    for _ in $(seq 1 100); do "${g[@]}" status >/dev/null 2>&1 && break; sleep 0.1; done
    local node
    node=$("${g[@]}" node id -q | cut -d@ -f1)
    "${g[@]}" layout assign -z dc1 -c 100GB "$node" >/dev/null
    "${g[@]}" layout apply --version 1 >/dev/null
    local key
    key=$("${g[@]}" key create bench)
    access=$(awk '/Key ID:/ {print $3}' <<<"$key")
    secret=$(awk '/Secret key:/ {print $3}' <<<"$key")
    "${g[@]}" bucket create objectio-bench >/dev/null
    "${g[@]}" bucket allow --read --write --owner objectio-bench --key bench >/dev/null
    endpoint=http://127.0.0.1:3900
    pids=$(cat "$gdir/pid")
}
garage_down() {
    if [ -f "$gdir/pid" ]; then
        kill "$(cat "$gdir/pid")" 2>/dev/null || true
        while kill -0 "$(cat "$gdir/pid")" 2>/dev/null; do sleep 0.1; done
    fi
    rm -rf "$gdir"
}

for run in $(seq 1 "$runs"); do
    for sys in $systems; do
        log "run $run: $sys"
        case $sys in
        objectio) objectio_up "$root" ;;
        objectio-base) objectio_up "$BASE" ;;
        garage) garage_up false ;;
        garage-fsync) garage_up true ;;
        *) echo "unknown system $sys" >&2; exit 2 ;;
        esac
        for c in $cases; do
            size=${c%%:*} conc=${c##*:}
            "$bench" --endpoint "$endpoint" --access-key "$access" --secret-key "$secret" \
                --size "$size" --concurrency "$conc" --duration "${secs}s" --drop-caches \
                --cpu-pids "$pids" --prefix "run$run" --output json |
                sed "s/^{/{\"system\":\"$sys\",\"run\":$run,\"case\":\"$size\",/" | tee -a "$out" >&2
        done
        case $sys in objectio*) objectio_down ;; *) garage_down ;; esac
    done
done

python3 - "$out" "$systems" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
systems = sys.argv[2].split()
def med(sys_, case, op, f):
    v = [r[f] for r in rows if r["system"] == sys_ and r["case"] == case and r["op"] == op and r.get(f) is not None]
    return statistics.median(v) if v else None
cases = list(dict.fromkeys(r["case"] for r in rows))
conc = {r["case"]: r["concurrency"] for r in rows}
ours = [s for s in systems if s.startswith("objectio")]
ratios = ours if "garage" in systems else []
head = "| case | " + " | ".join(systems) + "".join(f" | {s} ÷ garage" for s in ratios) + " | server CPU, cores (" + " / ".join(systems) + ") |"
print(head)
print("|" + "---|" * (len(systems) + len(ratios) + 2))
for case in cases:
    for op in ("PUT", "GET"):
        small = case.endswith("KiB")
        f, unit = ("ops_per_s", "ops/s") if small else ("mib_per_s", "MiB/s")
        vals = [med(s, case, op, f) for s in systems]
        cpu = [med(s, case, op, "server_cores") for s in systems]
        g = vals[systems.index("garage")] if "garage" in systems else None
        rs = "".join(" | " + (f"{vals[systems.index(s)] / g:.2f}" if g and vals[systems.index(s)] else "-") for s in ratios)
        cells = " | ".join("-" if v is None else f"{v:.0f}" for v in vals)
        cpus = " / ".join("-" if c is None else f"{c:.2f}" for c in cpu)
        print(f"| {op} {case}, {conc[case]} clients ({unit}) | {cells}{rs} | {cpus} |")
for c in cases:
    t = [(s, med(s, c, "GET", "ttfb_p50_ms")) for s in systems]
    print(f"GET {c} time to first byte, p50: " + ", ".join(f"{s} {v:.1f} ms" for s, v in t if v is not None))
PY
