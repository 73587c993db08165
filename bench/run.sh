#!/usr/bin/env bash
# Times redkit beside redis-check-rdb on the benchmark RDB files and records the figures.
#
# For each file (bench/data/strings.rdb, bench/data/mixed.rdb, built first by bench/make_data.py
# when missing or stale), each command below runs RUNS times (default 3); before every run the
# file is read once (cat > /dev/null) so that it is served from the page cache. Wall time is
# measured around the command, CPU time and peak RSS by GNU time. The table gives the median run.
# A copy of the redkit binary taken at the start is timed (a rebuild meanwhile does not matter).
# The raw runs are left in $BENCH_DATA/last-results.tsv, one a line:
#   file  command  run  wall_s  peak_rss_kib  cpu_user_sys_s  exit_status
#
#   cat FILE > /dev/null                      the page-cache read ceiling
#   redis-check-rdb FILE
#   redkit check-rdb -q FILE
#   redkit dump-json -q FILE > /dev/null
#   dd if=FILE of=OUT bs=1M conv=fsync        the copy-and-sync ceiling for writing a file
#   bench/resave.sh FILE                      redis-server loads FILE and SAVEs it again
#   redkit convert -q FILE -o OUT --rdb-version 11
#   redkit rewrite - --format resp -o - --lossy stream-meta < FILE > /dev/null
#
# The table, the machine, the versions and the commands are printed and written into
# docs/benchmarks.md between the markers <!-- bench:begin --> and <!-- bench:end --> (the text
# outside the markers is kept).
#
# Usage: bench/run.sh [--small] [--no-doc]
#   --small    50 MiB files in $BENCH_DATA/small, to try the scripts; implies --no-doc
#   --no-doc   print the table only
#
# Environment:
#   REDKIT            redkit binary (default target/release/redkit)
#   REDIS_CHECK_RDB   redis-check-rdb binary (default: from PATH)
#   REDIS_SERVER      redis-server binary for bench/resave.sh (default: from PATH)
#   BENCH_DATA        data directory (default bench/data)
#   BENCH_SIZE_MB     size of each file in MiB (default 1024)
#   BENCH_DOC         the document to update (default docs/benchmarks.md)
#   RUNS              runs of each command (default 3)
#   BENCH_IDLE_WAIT   before each run, wait up to this many seconds for the other processes of
#                     the machine to leave the CPUs idle (default 60; 0 to not wait)
#   PYTHON            python3 for make_data.py and the report (default python3)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDKIT=${REDKIT:-$ROOT/target/release/redkit}
REDIS_CHECK_RDB=${REDIS_CHECK_RDB:-$(command -v redis-check-rdb || echo /usr/bin/redis-check-rdb)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
RUNS=${RUNS:-3}
BENCH_IDLE_WAIT=${BENCH_IDLE_WAIT:-60}
PYTHON=${PYTHON:-python3}
TIME=/usr/bin/time
FILES=(strings mixed)

die() { echo "bench: $*" >&2; exit 2; }

small=0
write_doc=1
for arg in "$@"; do
    case $arg in
        --small) small=1; write_doc=0 ;;
        --no-doc) write_doc=0 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $arg (try --help)" ;;
    esac
done

[ -x "$REDKIT" ] || die "$REDKIT not found; build it with 'make build' or set REDKIT"
[ -x "$REDIS_CHECK_RDB" ] || die "redis-check-rdb not found; run scripts/install-servers.sh or set REDIS_CHECK_RDB"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ "$BENCH_IDLE_WAIT" =~ ^[0-9]+$ ]] || die "BENCH_IDLE_WAIT must be a number of seconds"

# GNU time, for the peak RSS.
if ! "$TIME" -f %M -o /dev/null true 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "GNU time (/usr/bin/time) is missing and installing it needs root"
    echo "bench: installing GNU time" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq time >/dev/null; }
fi

# The data: make_data.py keeps the files that are up to date and builds the others.
if [ "$small" = 1 ]; then
    DATA=$BENCH_DATA/small
    "$PYTHON" "$ROOT/bench/make_data.py" --small --out "$DATA"
else
    DATA=$BENCH_DATA
    "$PYTHON" "$ROOT/bench/make_data.py" --size-mb "$BENCH_SIZE_MB" --out "$DATA"
fi
for f in "${FILES[@]}"; do
    [ -f "$DATA/$f.rdb" ] || die "$DATA/$f.rdb is missing"
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.tsv
: >"$RESULTS"
failed=0

# busy_cpus: how many CPUs the whole machine kept busy over the last second, e.g. 0.03.
busy_cpus() {
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " ");
        t = y[2] - x[2]; printf "%.2f", (t > 0 ? (y[1] - x[1]) / t * n : 0) }'
}

# wait_idle: waits (up to BENCH_IDLE_WAIT seconds) until other processes use under a quarter of a
# CPU, so that runs do not share the machine with a compiler; counts the runs that had to start
# on a busy machine.
busy_starts=0
wait_idle() {
    [ "$BENCH_IDLE_WAIT" = 0 ] && return 0
    local waited=0 busy
    while :; do
        busy=$(busy_cpus)
        awk -v b="$busy" 'BEGIN { exit !(b < 0.25) }' && return 0
        if [ "$waited" -ge "$BENCH_IDLE_WAIT" ]; then
            echo "bench: the machine is still busy ($busy CPUs in use); running anyway" >&2
            busy_starts=$((busy_starts + 1))
            return 0
        fi
        [ "$waited" = 0 ] && echo "bench: waiting for the machine to be idle ($busy CPUs in use)" >&2
        waited=$((waited + 1))
    done
}

# timed <file> <tool> <run> <stdout> <command...>: warms the page cache with the file, runs the
# command with its stdout sent to <stdout>, appends "file tool run wall_s rss_kib cpu_s status".
timed() {
    local file=$1 tool=$2 run=$3 out=$4
    shift 4
    wait_idle
    cat "$file" >/dev/null
    local start end status=0
    start=$(date +%s%N)
    "$TIME" -f '%M %U %S' -o "$WORK/time" "$@" >"$out" 2>"$WORK/stderr" || status=$?
    end=$(date +%s%N)
    local wall rss cpu
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    read -r rss cpu < <(tail -n 1 "$WORK/time" | awk '{ printf "%d %.2f\n", $1, $2 + $3 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$file")" "$tool" "$run" "$wall" "$rss" "$cpu" "$status" >>"$RESULTS"
    printf 'bench: %-12s %-18s run %d: %7.2f s  %7d KiB' "$(basename "$file")" "$tool" "$run" "$wall" "$rss" >&2
    if [ "$status" != 0 ]; then
        failed=1
        printf '  FAILED (exit %s): %s\n' "$status" "$*" >&2
        sed 's/^/bench:     /' "$WORK/stderr" | tail -n 20 >&2
    else
        printf '\n' >&2
    fi
}

# Time a copy of redkit, so that a rebuild during the runs cannot mix two binaries.
REDKIT_SOURCE=$REDKIT
REDKIT=$WORK/redkit
cp "$REDKIT_SOURCE" "$REDKIT"
REDKIT_SUM=$(sha256sum "$REDKIT" | cut -c1-12)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

for f in "${FILES[@]}"; do
    file=$DATA/$f.rdb
    # Runs are interleaved (every command once, then again), so that slow drift hits all alike.
    for run in $(seq 1 "$RUNS"); do
        timed "$file" "cat" "$run" /dev/null cat "$file"
        timed "$file" "redis-check-rdb" "$run" "$WORK/check.out" "$REDIS_CHECK_RDB" "$file"
        timed "$file" "redkit check-rdb" "$run" "$WORK/check.out" "$REDKIT" check-rdb -q "$file"
        timed "$file" "redkit dump-json" "$run" /dev/null "$REDKIT" dump-json -q "$file"
        timed "$file" "dd conv=fsync" "$run" /dev/null dd if="$file" of="$WORK/copy.rdb" bs=1M conv=fsync status=none
        rm -f "$WORK/copy.rdb"
        timed "$file" "redis-server load+SAVE" "$run" /dev/null bash "$ROOT/bench/resave.sh" "$file" "$REDIS_SERVER"
        timed "$file" "redkit convert" "$run" /dev/null "$REDKIT" convert -q "$file" -o "$WORK/convert.rdb" --rdb-version 11
        rm -f "$WORK/convert.rdb"
        timed "$file" "redkit rewrite resp" "$run" /dev/null bash -c '"$0" rewrite - --format resp -o - -q --lossy stream-meta < "$1" 2>/dev/null' "$REDKIT" "$file"
    done
    # Untimed: how much JSON dump-json writes for this file.
    json_bytes=$("$REDKIT" dump-json -q "$file" | wc -c) || json_bytes=
    printf '%s\t%s\n' "$f.rdb" "$json_bytes" >>"$WORK/json.tsv"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
cp "$RESULTS" "$DATA/last-results.tsv"
export ROOT REDKIT_SOURCE REDIS_CHECK_RDB DATA RESULTS BENCH_DOC RUNS WORK
export REDKIT_SUM LOAD_START LOAD_END BENCH_IDLE_WAIT
export BUSY_STARTS=$busy_starts
export WRITE_DOC=$write_doc
export REDIS_CHECK_RDB_VERSION REDKIT_VERSION
REDIS_CHECK_RDB_VERSION=$("$REDIS_CHECK_RDB" --version 2>&1 | head -n 1)
REDKIT_VERSION=$("$REDKIT" --version 2>&1 | head -n 1)
"$PYTHON" - <<'EOF'
import datetime, json, os, platform, re, statistics, subprocess

env = os.environ
root = env["ROOT"]


def rel(path):
    path = os.path.abspath(path)
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else path


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


rows = {}
for line in open(env["RESULTS"]):
    file, tool, run, wall, rss, cpu, status = line.rstrip("\n").split("\t")
    rows.setdefault((file, tool), []).append((float(wall), int(rss or 0), int(status), float(cpu or 0)))

files, tools = [], []
for file, tool in rows:
    if file not in files:
        files.append(file)
    if tool not in tools:
        tools.append(tool)

data = env["DATA"]
markers = {}
for file in files:
    try:
        with open(os.path.join(data, file + ".json")) as f:
            markers[file] = json.load(f)
    except (OSError, ValueError):
        markers[file] = {}


def median(values):
    return statistics.median(values)


def secs(v):
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


json_bytes = {}
try:
    for line in open(os.path.join(env["WORK"], "json.tsv")):
        file, n = line.rstrip("\n").split("\t")
        json_bytes[file] = int(n) if n.strip().isdigit() else None
except OSError:
    pass


out = []
out.append("| file | size | command | median wall (s) | MB/s | fastest (s) | CPU user+sys (s) | peak RSS (MiB) | runs (s) |")
out.append("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
medians, fastest = {}, {}
for file in files:
    size = os.path.getsize(os.path.join(data, file))
    for tool in tools:
        runs = rows.get((file, tool), [])
        if not runs:
            continue
        walls = [w for w, _, _, _ in runs]
        bad = [s for _, _, s, _ in runs if s != 0]
        runs_text = " / ".join(secs(w) for w in walls)
        if bad:
            out.append(f"| {file} | {size / 2**20:,.0f} MiB | {tool} | failed (exit {bad[0]}) | | | | | {runs_text} |")
            continue
        wall = median(walls)
        rss = max(r for _, r, _, _ in runs) / 1024
        cpu = median([c for _, _, _, c in runs])
        medians[(file, tool)] = wall
        fastest[(file, tool)] = min(walls)
        out.append(f"| {file} | {size / 2**20:,.0f} MiB | {tool} | {secs(wall)} | {size / 1e6 / wall:,.0f} "
                   f"| {secs(min(walls))} | {cpu:.2f} | {rss:,.1f} | {runs_text} |")
table = "\n".join(out)

out = ["| file | redis-check-rdb (s) | redkit check-rdb (s) | speedup (medians) | speedup (fastest runs) |",
       "| --- | ---: | ---: | ---: | ---: |"]
for file in files:
    ref = medians.get((file, "redis-check-rdb"))
    chk = medians.get((file, "redkit check-rdb"))
    speedup = "-" if ref is None or chk is None else f"{ref / chk:.1f}x"
    fr, fc = fastest.get((file, "redis-check-rdb")), fastest.get((file, "redkit check-rdb"))
    best = "-" if fr is None or fc is None else f"{fr / fc:.1f}x"
    out.append(f"| {file} | {secs(ref) if ref else '-'} | {secs(chk) if chk else '-'} | {speedup} | {best} |")
out.append("")
out.append("| file | redis-server load+SAVE (s) | redkit convert (s) | speedup (medians) | convert MB/s | dd conv=fsync MB/s |")
out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
for file in files:
    size = os.path.getsize(os.path.join(data, file))
    ref = medians.get((file, "redis-server load+SAVE"))
    conv = medians.get((file, "redkit convert"))
    dd = medians.get((file, "dd conv=fsync"))
    speedup = "-" if ref is None or conv is None else f"{ref / conv:.1f}x"
    out.append(f"| {file} | {secs(ref) if ref else '-'} | {secs(conv) if conv else '-'} | {speedup} "
               f"| {size / 1e6 / conv:,.0f} | {size / 1e6 / dd:,.0f} |" if conv and dd else
               f"| {file} | - | - | - | - | - |")
ratios = "\n".join(out)

out = ["| file | bytes | keys | written by | rdbcompression | generation (s) | dump-json output |",
       "| --- | ---: | ---: | --- | --- | ---: | ---: |"]
for file in files:
    m = markers[file]
    size = os.path.getsize(os.path.join(data, file))
    keys = f"{m['keys']:,}" if isinstance(m.get("keys"), int) else "?"
    comp = {True: "yes", False: "no"}.get(m.get("rdbcompression"), "?")
    jb = json_bytes.get(file)
    jtext = "?" if jb is None else f"{jb:,} bytes ({jb / size:.1f}x)"
    out.append(f"| {file} | {size:,} | {keys} | {m.get('server', '?')} | {comp} | {m.get('seconds', '?')} | {jtext} |")
datatable = "\n".join(out)

meminfo = sh("awk '/^MemTotal/ {printf \"%.1f GiB\", $2 / 1048576}' /proc/meminfo")
model = sh("lscpu | sed -n 's/^Model name: *//p' | head -n 1") or platform.processor()
osname = sh(". /etc/os-release 2>/dev/null && echo \"$PRETTY_NAME\"")
commit = sh(f"git -C '{root}' describe --always --dirty 2>/dev/null")
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
redkit, check = rel(env["REDKIT_SOURCE"]), rel(env["REDIS_CHECK_RDB"])
total_runs = sum(len(v) for v in rows.values())
if env["BENCH_IDLE_WAIT"] == "0":
    quiet = "not checked (`BENCH_IDLE_WAIT=0`)"
else:
    quiet = (f"{int(env['BUSY_STARTS'])} of {total_runs} runs started while other processes used "
             f"a quarter of a CPU or more (after waiting up to {env['BENCH_IDLE_WAIT']} s)")
d = rel(data)

section = f"""<!-- bench:begin -->
<!-- Generated by bench/run.sh; edits between these markers are overwritten. -->

Run on {date}.

### Machine

| | |
| --- | --- |
| CPU | {model}, {sh('nproc')} CPUs (`nproc`) |
| memory | {meminfo} |
| kernel | {sh('uname -srm')} |
| OS | {osname or '?'} |
| redis-check-rdb | {env['REDIS_CHECK_RDB_VERSION']} (`{check}`) |
| redkit | {env['REDKIT_VERSION']} (`{redkit}`, source `{commit or '?'}`, binary sha256 `{env['REDKIT_SUM']}…`) |
| load average | {env['LOAD_START']} at the start, {env['LOAD_END']} at the end |
| other load | {quiet} |

### Files

{datatable}

### Results

Median of {env['RUNS']} runs, each after `cat FILE > /dev/null`; MB/s is the file size in 10^6 bytes
over the median wall time; "fastest" is the quickest run (the least disturbed by other work on
the machine); CPU is the median user + system time and peak RSS the largest of the runs (GNU
time `%U`, `%S`, `%M`). The raw runs are kept in `{d}/last-results.tsv`.

{table}

### redkit against the servers' tools

`redkit check-rdb` against `redis-check-rdb`; `redkit convert` (to RDB 11, for Redis 7.2 and
Valkey 7.2-8.1) against the server's own way to rewrite a file, loading it and running SAVE
(`bench/resave.sh`), with `dd ... conv=fsync` as the ceiling for writing and syncing a file of
that size on this disk.

{ratios}

### Commands

```sh
cat {d}/FILE.rdb > /dev/null   # before every run, and timed alone as the ceiling
/usr/bin/time -f '%M %U %S' {check} {d}/FILE.rdb
/usr/bin/time -f '%M %U %S' {redkit} check-rdb -q {d}/FILE.rdb
/usr/bin/time -f '%M %U %S' {redkit} dump-json -q {d}/FILE.rdb > /dev/null
/usr/bin/time -f '%M %U %S' dd if={d}/FILE.rdb of=OUT bs=1M conv=fsync status=none
/usr/bin/time -f '%M %U %S' bash bench/resave.sh {d}/FILE.rdb
/usr/bin/time -f '%M %U %S' {redkit} convert -q {d}/FILE.rdb -o OUT --rdb-version 11
/usr/bin/time -f '%M %U %S' bash -c '{redkit} rewrite - --format resp -o - -q --lossy stream-meta < {d}/FILE.rdb > /dev/null'
```
<!-- bench:end -->"""

print()
print(table)
print()
print(ratios)
print()

if env.get("WRITE_DOC") == "1":
    doc = env["BENCH_DOC"]
    try:
        text = open(doc).read()
    except FileNotFoundError:
        text = "# Benchmarks\n\n"
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    if begin in text and end in text and text.index(begin) < text.index(end):
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, doc)
    print(f"bench: wrote {rel(doc)}")
EOF

if [ "$failed" = 1 ]; then
    echo "bench: some commands failed; see the messages above" >&2
    exit 1
fi
