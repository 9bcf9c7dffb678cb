#!/usr/bin/env bash
# Brings up (or down) a local ObjectIO cluster: etcd, one objectio-meta, seven
# OSDs on four failure domains with file-backed disks (so that one OSD can be
# drained, as the operations guide's rolling upgrade does), and the S3 gateway.
#
#   scripts/dev-cluster.sh up      # install what is missing, build, start, print how to use it
#   scripts/dev-cluster.sh down    # stop everything (data is kept under $OBJECTIO_DEV_DIR)
#   scripts/dev-cluster.sh status  # what runs
#   scripts/dev-cluster.sh env     # print the environment to use the cluster
#   scripts/dev-cluster.sh wipe    # stop and delete the data
#
# Environment: OBJECTIO_DEV_DIR (default ./.dev-cluster), PROFILE (release|debug,
# default release), OBJECTIO_DEV_DISK_SIZE (default 2GiB), OBJECTIO_DEV_OSDS
# (default 7: two per failure domain, osd7 alone on host4), OBJECTIO_DEV_META_ARGS (more meta
# flags, e.g. "--down-out-interval-secs 30"), ports
# ETCD_PORT (2379) META_PORT (9100) GATEWAY_PORT (9000) OSD_BASE_PORT (9201).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
dir=${OBJECTIO_DEV_DIR:-$root/.dev-cluster}
profile=${PROFILE:-release}
etcd_port=${ETCD_PORT:-2379}
meta_port=${META_PORT:-9100}
gw_port=${GATEWAY_PORT:-9000}
osd_base=${OSD_BASE_PORT:-9201}
disk_size=${OBJECTIO_DEV_DISK_SIZE:-2GiB}
osds=${OBJECTIO_DEV_OSDS:-7}
read -r -a meta_args <<<"${OBJECTIO_DEV_META_ARGS:-}"
bin=$root/target/$profile

log() { printf '==> %s\n' "$*" >&2; }

install_deps() {
    ensure_cargo
    ensure_system_tools
    ensure_python_tools
}

build() {
    log "building ($profile)"
    local flag=""
    [ "$profile" = release ] && flag=--release
    (cd "$root" && cargo build $flag -q -p objectio-meta -p objectio-osd -p objectio-gateway -p objectio-cli)
}

running() { [ -f "$dir/pids/$1" ] && kill -0 "$(cat "$dir/pids/$1")" 2>/dev/null; }

start() { # name, command...
    local name=$1; shift
    if running "$name"; then return; fi
    "$@" >>"$dir/logs/$name.log" 2>&1 &
    echo $! >"$dir/pids/$name"
}

wait_http() { # url, what
    for _ in $(seq 1 150); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "$2 did not come up; see $dir/logs/"; exit 1
}

secret() { # file
    [ -s "$1" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

print_env() {
    local ak sk
    ak=$(sed -n 's/.*"access_key_id": *"\([^"]*\)".*/\1/p' "$dir/credentials.json")
    sk=$(sed -n 's/.*"secret_access_key": *"\([^"]*\)".*/\1/p' "$dir/credentials.json")
    cat <<TXT
export AWS_ACCESS_KEY_ID=$ak
export AWS_SECRET_ACCESS_KEY=$sk
export AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$gw_port
export OBJECTIO_ENDPOINT=http://127.0.0.1:$meta_port
export OBJECTIO_TOKEN=$(cat "$dir/admin.token")
export PATH=$bin:$OBJECTIO_VENV/bin:\$PATH
TXT
}

up() {
    install_deps
    build
    mkdir -p "$dir"/{pids,logs,disks,etcd}
    secret "$dir/cluster.secret"
    secret "$dir/admin.token"
    local common=(--etcd "http://127.0.0.1:$etcd_port" --cluster dev)

    log "starting etcd on 127.0.0.1:$etcd_port"
    start etcd etcd --name dev --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
        --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
        --initial-cluster "dev=http://127.0.0.1:$((etcd_port + 1))"
    wait_http "http://127.0.0.1:$etcd_port/health" etcd

    log "starting objectio-meta on :$meta_port"
    OBJECTIO_ADMIN_TOKEN_FILE="$dir/admin.token" OBJECTIO_CLUSTER_SECRET_FILE="$dir/cluster.secret" start meta "$bin/objectio-meta" "${common[@]}" \
        --id meta1 --listen "127.0.0.1:$meta_port" --snapshot-dir "$dir/snapshots" "${meta_args[@]}"
    wait_http "http://127.0.0.1:$meta_port/health" objectio-meta

    for i in $(seq 1 "$osds"); do
        local host=$(( (i + 1) / 2 ))
        log "starting osd$i (failure domain host$host) on :$((osd_base + i - 1))"
        OBJECTIO_CLUSTER_SECRET_FILE="$dir/cluster.secret" start "osd$i" "$bin/objectio-osd" "${common[@]}" \
            --id "osd$i" --listen "127.0.0.1:$((osd_base + i - 1))" --failure-domain "host$host" \
            --disk "$dir/disks/osd$i.img" --disk-size "$disk_size"
    done

    log "starting objectio-gateway on :$gw_port"
    OBJECTIO_CLUSTER_SECRET_FILE="$dir/cluster.secret" start gateway "$bin/objectio-gateway" "${common[@]}" \
        --id gw1 --listen "127.0.0.1:$gw_port"
    wait_http "http://127.0.0.1:$gw_port/health" objectio-gateway

    export OBJECTIO_ENDPOINT="http://127.0.0.1:$meta_port"
    OBJECTIO_TOKEN=$(cat "$dir/admin.token"); export OBJECTIO_TOKEN
    for _ in $(seq 1 50); do
        [ "$("$bin/objectio-cli" osd list --format json | grep -c '"state": "up"')" = "$osds" ] && break
        sleep 0.2
    done
    if [ ! -s "$dir/credentials.json" ]; then
        "$bin/objectio-cli" user info dev >/dev/null 2>&1 || "$bin/objectio-cli" user create dev >/dev/null
        (umask 077; "$bin/objectio-cli" key create --user dev --format json >"$dir/credentials.json")
    fi
    "$bin/objectio-cli" cluster status
    cat <<TXT

ObjectIO is up.
  S3 endpoint:   http://127.0.0.1:$gw_port
  Admin API:     http://127.0.0.1:$meta_port  (OpenAPI: /api/v1/openapi.json, UI: /api/docs)
  Data and logs: $dir

Use it (paste into a shell):
$(print_env)
aws s3 mb s3://demo
aws s3 cp README.md s3://demo/
aws s3 ls s3://demo/
objectio-cli osd list

Stop it with: scripts/dev-cluster.sh down
TXT
}

# Every daemon with a pid file, the gateway first and etcd last.
daemons() {
    local p
    echo gateway
    for p in "$dir"/pids/osd*; do [ -e "$p" ] && basename "$p"; done
    echo meta etcd
}

down() {
    for p in $(daemons); do
        if running "$p"; then
            kill "$(cat "$dir/pids/$p")" 2>/dev/null || true
        fi
        rm -f "$dir/pids/$p"
    done
    log "stopped (data kept in $dir)"
}

status() {
    for p in $(daemons); do
        if running "$p"; then echo "$p: running (pid $(cat "$dir/pids/$p"))"; else echo "$p: stopped"; fi
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    env) print_env ;;
    wipe) down; rm -rf "$dir" ;;
    *) echo "usage: $0 up|down|status|env|wipe" >&2; exit 2 ;;
esac
