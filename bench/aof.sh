#!/usr/bin/env bash
# AOF benchmark: a ~1 GiB multi-part AOF written by redis-server 7.0 (SETs sent by
# redis-benchmark over a unix socket, timestamps on, no rewrite), then redis-check-aof and
# redkit check-aof timed side by side, the server loading it (then SAVE or BGREWRITEAOF) beside
# redkit aof-to-rdb and rewrite; a log of HSETs into a million small hashes, and a log like
# production's (bench/make_prod_aof.py: an RDB preamble, then mixed commands of every type),
# each loaded by the server and replayed by aof-to-rdb. 3 runs each, the page cache warmed
# before every run.
# Writes its section of docs/benchmarks.md between the aof-bench markers.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${BENCH_DATA:-$ROOT/bench/data}/aof
REDKIT=${REDKIT:-$ROOT/target/release/redkit}
CHECKER=${REDIS_CHECK_AOF:-redis-check-aof}
COMMANDS=${AOF_COMMANDS:-8000000}
HASH_COMMANDS=${AOF_HASH_COMMANDS:-3000000}
DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
RUNS=${RUNS:-3}

command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
# make_log DIR MARK BENCHMARK-ARGS...: DIR/appendonlydir written by redis-server 7.0 while
# redis-benchmark sends the commands (once: MARK records the seconds it took).
make_log() {
    local dir=$1 mark=$2
    shift 2
    mkdir -p "$dir"
    [ -f "$mark" ] && return 0
    rm -rf "$dir/appendonlydir" "$dir"/made-*
    local start
    start=$(date +%s)
    redis-server --port 0 --unixsocket "$dir/s.sock" --dir "$dir" --save "" \
        --appendonly yes --aof-timestamp-enabled yes --auto-aof-rewrite-percentage 0 \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    for _ in $(seq 50); do [ -S "$dir/s.sock" ] && break; sleep 0.1; done
    redis-benchmark -s "$dir/s.sock" -r 1000000 -P 64 -q "$@" >/dev/null 2>&1
    redis-cli -s "$dir/s.sock" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 100); do [ -f "$dir/redis.pid" ] || break; sleep 0.1; done
    echo "$(( $(date +%s) - start ))" > "$mark"
}
MARK="$DATA/made-$COMMANDS"
make_log "$DATA" "$MARK" -t set -n "$COMMANDS" -d 100
HDATA="$DATA-hash"
HMARK="$HDATA/made-$HASH_COMMANDS"
make_log "$HDATA" "$HMARK" -n "$HASH_COMMANDS" hset 'h:__rand_int__' 'f:__rand_int__' value-value-value
DIR="$DATA/appendonlydir"
PDATA="$DATA-prod"
PROD_COMMANDS=${AOF_PROD_COMMANDS:-4000000}
python3 "$ROOT/bench/make_prod_aof.py" "$PDATA" --commands "$PROD_COMMANDS"
PMARK="$PDATA/made-$PROD_COMMANDS"
PDIR="$PDATA/appendonlydir"
PBYTES=$(cat "$PDIR"/* | wc -c)
PBASE=$(cat "$PDIR"/*.base.rdb | wc -c)
HDIR="$HDATA/appendonlydir"
HBYTES=$(cat "$HDIR"/* | wc -c)
BYTES=$(cat "$DIR"/* | wc -c)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A WALL RSS
WORK=$(mktemp -d "$DATA/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# load_and_save DIR: redis-server loads the AOF directory DIR/appendonlydir at startup, then SAVEs
# an RDB (the server's way to turn a log into a snapshot), then stops.
load_and_save() {
    redis-server --port 0 --unixsocket "$1/s.sock" --dir "$1" --save "" --appendonly yes \
        --appenddirname appendonlydir --dbfilename dump.rdb --logfile "$1/log" --daemonize no &
    local pid=$!
    until [ "$(redis-cli -s "$1/s.sock" ping 2>/dev/null)" = PONG ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    [ "$(redis-cli -s "$1/s.sock" save)" = OK ] || return 1
    redis-cli -s "$1/s.sock" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
}
export -f load_and_save
# load_and_rewrite DIR: the same, then BGREWRITEAOF (the server's way to compact its log),
# waiting until the rewritten base is in place.
load_and_rewrite() {
    redis-server --port 0 --unixsocket "$1/s.sock" --dir "$1" --save "" --appendonly yes \
        --appenddirname appendonlydir --logfile "$1/log" --daemonize no &
    local pid=$!
    until [ "$(redis-cli -s "$1/s.sock" ping 2>/dev/null)" = PONG ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    redis-cli -s "$1/s.sock" bgrewriteaof >/dev/null || return 1
    sleep 0.05
    while redis-cli -s "$1/s.sock" info persistence | grep -q 'aof_rewrite_in_progress:1\|aof_rewrite_scheduled:1'; do
        sleep 0.02
    done
    redis-cli -s "$1/s.sock" info persistence | grep -q 'aof_last_bgrewrite_status:ok' || return 1
    redis-cli -s "$1/s.sock" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
}
export -f load_and_rewrite
for tool in checker redkit server aof2rdb server-rewrite rewrite server-hash aof2rdb-hash \
    server-prod aof2rdb-prod; do
    walls=(); rss=0
    for run in $(seq "$RUNS"); do
        rm -rf "$WORK/rewritten" "$WORK/replayed.rdb"
        src=$DIR
        case $tool in *-hash) src=$HDIR ;; *-prod) src=$PDIR ;; esac
        if [ "$tool" = server ] || [ "$tool" = server-rewrite ] || [ "$tool" = server-hash ] \
            || [ "$tool" = server-prod ]; then
            # The server may append to the log it loads: it gets a copy (made before timing).
            rm -rf "$WORK/srv"; mkdir -p "$WORK/srv"; cp -r "$src" "$WORK/srv/appendonlydir"
        fi
        cat "$src"/* > /dev/null
        case $tool in
            checker) cmd=("$CHECKER" "$DIR/appendonly.aof.manifest") ;;
            redkit) cmd=("$REDKIT" check-aof "$DIR") ;;
            server) cmd=(bash -c 'load_and_save "$0"' "$WORK/srv") ;;
            aof2rdb) cmd=("$REDKIT" aof-to-rdb -q "$DIR" -o "$WORK/replayed.rdb" --rdb-version 10) ;;
            server-rewrite) cmd=(bash -c 'load_and_rewrite "$0"' "$WORK/srv") ;;
            rewrite) cmd=("$REDKIT" rewrite -q "$DIR" -o "$WORK/rewritten") ;;
            server-hash) cmd=(bash -c 'load_and_save "$0"' "$WORK/srv") ;;
            aof2rdb-hash) cmd=("$REDKIT" aof-to-rdb -q "$HDIR" -o "$WORK/replayed.rdb" --rdb-version 10) ;;
            server-prod) cmd=(bash -c 'load_and_save "$0"' "$WORK/srv") ;;
            aof2rdb-prod) cmd=("$REDKIT" aof-to-rdb -q "$PDIR" -o "$WORK/replayed.rdb" --rdb-version 10) ;;
        esac
        /usr/bin/time -o "$WORK/time" -f '%e %M' "${cmd[@]}" >/dev/null 2>"$WORK/stderr" \
            || { echo "bench-aof: $tool failed:" >&2; tail -5 "$WORK/stderr" >&2; exit 1; }
        out=$(tail -1 "$WORK/time")
        w=${out% *}; m=${out#* }
        walls+=("$w"); [ "$m" -gt "$rss" ] && rss=$m
        echo "bench-aof: $tool run $run: ${w} s, ${m} KiB" >&2
    done
    WALL[$tool]=$(printf '%s\n' "${walls[@]}" | median)
    RSS[$tool]=$rss
done
mbps() { awk -v b="$BYTES" -v s="$1" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
speedup=$(awk -v a="${WALL[checker]}" -v b="${WALL[redkit]}" 'BEGIN {printf "%.1f", a / b}')
replay=$(awk -v a="${WALL[server]}" -v b="${WALL[aof2rdb]}" 'BEGIN {printf "%.1f", a / b}')
rewrite=$(awk -v a="${WALL[server-rewrite]}" -v b="${WALL[rewrite]}" 'BEGIN {printf "%.1f", a / b}')
hreplay=$(awk -v a="${WALL[server-hash]}" -v b="${WALL[aof2rdb-hash]}" 'BEGIN {printf "%.1f", a / b}')
hmbps() { awk -v b="$HBYTES" -v s="$1" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
preplay=$(awk -v a="${WALL[server-prod]}" -v b="${WALL[aof2rdb-prod]}" 'BEGIN {printf "%.1f", a / b}')
pmbps() { awk -v b="$PBYTES" -v s="$1" 'BEGIN {printf "%.0f", b / s / 1e6}'; }
section=$(cat <<TXT
<!-- aof-bench:begin -->
<!-- Generated by bench/aof.sh; edits between these markers are overwritten. -->

### AOF: redkit check-aof beside redis-check-aof, aof-to-rdb beside the server

Run on $(date -u '+%Y-%m-%d %H:%M UTC'). A multi-part AOF of $(printf "%'d" "$BYTES") bytes written by
redis-server 7.0 ($COMMANDS SETs of 100-byte values from redis-benchmark, \`aof-timestamp-enabled
yes\`, rewrites off; generation took $(cat "$MARK") s). Median of $RUNS runs, each after reading
the files once with \`cat\`.

| command | median wall (s) | MB/s | peak RSS (MiB) |
| --- | ---: | ---: | ---: |
| \`$CHECKER appendonly.aof.manifest\` | ${WALL[checker]} | $(mbps "${WALL[checker]}") | $(( RSS[checker] / 1024 )) |
| \`redkit check-aof appendonlydir\` | ${WALL[redkit]} | $(mbps "${WALL[redkit]}") | $(( RSS[redkit] / 1024 )) |
| redis-server loads the directory, then \`SAVE\` | ${WALL[server]} | $(mbps "${WALL[server]}") | $(( RSS[server] / 1024 )) |
| \`redkit aof-to-rdb appendonlydir -o OUT --rdb-version 10\` | ${WALL[aof2rdb]} | $(mbps "${WALL[aof2rdb]}") | $(( RSS[aof2rdb] / 1024 )) |
| redis-server loads the directory, then \`BGREWRITEAOF\` | ${WALL[server-rewrite]} | $(mbps "${WALL[server-rewrite]}") | $(( RSS[server-rewrite] / 1024 )) |
| \`redkit rewrite appendonlydir -o OUTDIR\` | ${WALL[rewrite]} | $(mbps "${WALL[rewrite]}") | $(( RSS[rewrite] / 1024 )) |

redkit check-aof is ${speedup}x redis-check-aof here; redkit aof-to-rdb is ${replay}x the server
loading the log and saving a snapshot, and redkit rewrite ${rewrite}x the server loading the log
and rewriting it (the server's RSS is the largest of \`bash\`, the server and its forked child).

A second log, of small collections: $(printf "%'d" "$HBYTES") bytes, $HASH_COMMANDS HSETs of
random fields into a million random hashes (\`redis-benchmark -r 1000000 hset h:__rand_int__
f:__rand_int__ value-value-value\`; generation took $(cat "$HMARK") s).

| command | median wall (s) | MB/s | peak RSS (MiB) |
| --- | ---: | ---: | ---: |
| redis-server loads the directory, then \`SAVE\` | ${WALL[server-hash]} | $(hmbps "${WALL[server-hash]}") | $(( RSS[server-hash] / 1024 )) |
| \`redkit aof-to-rdb appendonlydir -o OUT --rdb-version 10\` | ${WALL[aof2rdb-hash]} | $(hmbps "${WALL[aof2rdb-hash]}") | $(( RSS[aof2rdb-hash] / 1024 )) |

redkit aof-to-rdb is ${hreplay}x the server on this log.

A third log, like production's: $(printf "%'d" "$PBYTES") bytes, an RDB base of
$(printf "%'d" "$PBASE") bytes (BGREWRITEAOF of a dataset of every type in two databases) and
an incr file of $PROD_COMMANDS mixed commands (\`bench/make_prod_aof.py\`: SET with and without
EX, INCR, INCRBYFLOAT, APPEND, HSET, HINCRBY, HDEL, LPUSH, RPOP, LTRIM, SADD, SREM, ZADD,
ZINCRBY, ZREMRANGEBYRANK, XADD MAXLEN ~, EXPIRE, PERSIST, DEL, MSET, SELECT; 80% of them on
50,000 hot keys of each kind; generation took $(cat "$PMARK") s).

| command | median wall (s) | MB/s | peak RSS (MiB) |
| --- | ---: | ---: | ---: |
| redis-server loads the directory, then \`SAVE\` | ${WALL[server-prod]} | $(pmbps "${WALL[server-prod]}") | $(( RSS[server-prod] / 1024 )) |
| \`redkit aof-to-rdb appendonlydir -o OUT --rdb-version 10\` | ${WALL[aof2rdb-prod]} | $(pmbps "${WALL[aof2rdb-prod]}") | $(( RSS[aof2rdb-prod] / 1024 )) |

redkit aof-to-rdb is ${preplay}x the server on this log.
<!-- aof-bench:end -->
TXT
)
printf '%s\n' "$section" | python3 "$ROOT/bench/put_section.py" "$DOC" aof-bench
echo "$section"
