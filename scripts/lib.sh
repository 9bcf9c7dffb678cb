# Shared by scripts/dev-cluster.sh, scripts/test.sh and .ci/run (source it):
# what a fresh Debian or Ubuntu machine lacks, installed once, the same way.

objectio_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The Python tools (aws cli, boto3) live in a virtual environment of the
# project's own: stock Debian and Ubuntu refuse `pip install` into the
# system Python (externally-managed-environment).
OBJECTIO_VENV=${OBJECTIO_VENV:-$objectio_root/.venv}

lib_log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    lib_log "installing $* (apt)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Stops at once, with the command that fixes it, when cargo is missing or
# older than the workspace's rust-version.
ensure_cargo() {
    local want have
    want=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$objectio_root/Cargo.toml")
    if ! command -v cargo >/dev/null; then
        echo "error: cargo is not installed; ObjectIO needs Rust $want. Install it with:" >&2
        echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain $want && . \"\$HOME/.cargo/env\"" >&2
        exit 1
    fi
    have=$(cargo --version | sed -n 's/^cargo \([0-9]*\.[0-9]*\).*/\1/p')
    if [ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]; then
        echo "error: cargo $have is older than the Rust $want ObjectIO needs. Update it with:" >&2
        echo "  rustup toolchain install $want && rustup default $want" >&2
        exit 1
    fi
}

# etcd, protoc (etcd-client's build), curl, systemd-analyze, rclone, zsh, fish.
ensure_system_tools() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
    command -v protoc >/dev/null || missing+=(protobuf-compiler)
    command -v curl >/dev/null || missing+=(curl)
    # systemd-analyze verifies the shipped units (no systemd need run).
    command -v systemd-analyze >/dev/null || missing+=(systemd)
    # The client matrix (scripts/client-matrix.sh) drives rclone.
    command -v rclone >/dev/null || missing+=(rclone)
    # The CLI's completion tests have each shell parse its script.
    command -v zsh >/dev/null || missing+=(zsh)
    command -v fish >/dev/null || missing+=(fish)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# schemathesis, pinned: its checks change between releases.
SCHEMATHESIS_VERSION=4.32.5

# The aws cli, boto3, s3cmd and schemathesis in $OBJECTIO_VENV; puts its
# bin/ first on PATH.
ensure_python_tools() {
    if [ ! -x "$OBJECTIO_VENV/bin/python3" ]; then
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        lib_log "creating the Python environment $OBJECTIO_VENV"
        python3 -m venv "$OBJECTIO_VENV"
    fi
    if ! "$OBJECTIO_VENV/bin/python3" -c 'import boto3, awscli' >/dev/null 2>&1 \
        || [ ! -x "$OBJECTIO_VENV/bin/s3cmd" ] \
        || ! "$OBJECTIO_VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        lib_log "installing the aws cli, boto3, s3cmd and schemathesis into $OBJECTIO_VENV (pip)"
        "$OBJECTIO_VENV/bin/python3" -m pip install -q --upgrade pip >/dev/null
        "$OBJECTIO_VENV/bin/python3" -m pip install -q awscli boto3 s3cmd "schemathesis==$SCHEMATHESIS_VERSION"
    fi
    export PATH="$OBJECTIO_VENV/bin:$PATH"
}
