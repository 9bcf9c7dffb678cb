#!/usr/bin/env bash
# Runs objectio-bench against the dev cluster (scripts/dev-cluster.sh up) and
# reports the gateway's peak RSS. Usage: bench/dev-cluster-bench.sh --size 1GiB --count 1 --concurrency 1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${OBJECTIO_DEV_DIR:-$root/.dev-cluster}
profile=${PROFILE:-release}
(cd "$root" && cargo build -q --profile "$profile" -p objectio-bench 2>/dev/null || cargo build -q --release -p objectio-bench)
eval "$("$root/scripts/dev-cluster.sh" env)"
pid=$(cat "$dir/pids/gateway")
rss() { awk '/VmHWM|VmRSS/ {printf "%s %s kB  ", $1, $2}' "/proc/$pid/status"; echo; }
echo "gateway before: $(rss)"
"$root/target/$profile/objectio-bench" "$@"
echo "gateway after:  $(rss)"
