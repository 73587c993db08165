#!/usr/bin/env bash
# The server's own way to rewrite an RDB file: redis-server loads FILE at startup, SAVEs it
# again and shuts down (the reference for `redkit convert`). The input is never touched: the
# server works in a temporary directory on a symbolic link to it (SAVE renames its new file
# over the link, not over the input).
#
# Usage: bench/resave.sh FILE [REDIS_SERVER]
set -euo pipefail
file=$(realpath "$1")
server=${2:-$(command -v redis-server || echo /usr/bin/redis-server)}
cli=$(command -v redis-cli || echo /usr/bin/redis-cli)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
ln -s "$file" "$work/dump.rdb"
"$server" --port 0 --unixsocket "$work/s.sock" --dir "$work" --dbfilename dump.rdb \
    --save '' --appendonly no --logfile "$work/log" --daemonize no &
pid=$!
# Wait for the load to finish (PING answers LOADING until then).
until [ "$("$cli" -s "$work/s.sock" ping 2>/dev/null)" = PONG ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.05
done
[ "$("$cli" -s "$work/s.sock" save)" = OK ] || { cat "$work/log" >&2; exit 1; }
"$cli" -s "$work/s.sock" shutdown nosave >/dev/null 2>&1 || true
wait "$pid" || true
[ ! -L "$work/dump.rdb" ] || { echo "resave: no new file was written" >&2; exit 1; }
