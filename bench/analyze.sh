#!/usr/bin/env bash
# Times `redkit analyze` beside `redkit check-rdb` and redis-rdb-tools' memory report
# (and `redkit digest` and `redkit diff` of a file with itself)
# (`rdb -c memory`, PyPI rdbtools, which reads RDB 9 at most), and compares the memory totals of
# both tools with what the servers count after loading the same file (the sum of MEMORY USAGE
# key SAMPLES 0 over every key, bench/memory_total.py).
#
# Inputs: bench/data/strings.rdb and mixed.rdb (made by bench/run.sh); mixed-v9.rdb, the
# mixed file converted to RDB 9 by redkit (made here when missing) for rdbtools and Redis 6.0;
# prefixes.rdb, 10M keys of deep, mostly unique prefixes (bench/make_prefixes.py), where the
# prefix tree must stay bounded.
# Each redkit command runs RUNS times (default 3) after the file is read once (page cache);
# rdbtools runs once. The table goes to docs/benchmarks.md between <!-- analyze:begin --> and
# <!-- analyze:end --> (--no-doc: printed only).
#
# Environment: REDKIT (default target/release/redkit), BENCH_DATA (default bench/data), RUNS,
# PYTHON (default python3), BENCH_DOC (default docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDKIT=${REDKIT:-$ROOT/target/release/redkit}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
BENCH_DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
RUNS=${RUNS:-3}
PYTHON=${PYTHON:-python3}
TIME=/usr/bin/time
write_doc=1
[ "${1:-}" = "--no-doc" ] && write_doc=0

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$REDKIT" ] || die "$REDKIT is missing (make build)"
for f in strings mixed; do
    [ -f "$BENCH_DATA/$f.rdb" ] || die "$BENCH_DATA/$f.rdb is missing (bash bench/run.sh makes it)"
done
if ! command -v rdb >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --disable-pip-version-check rdbtools python-lzf 2>/dev/null ||
        "$PYTHON" -m pip install -q --disable-pip-version-check --break-system-packages rdbtools python-lzf
fi
V9=$BENCH_DATA/mixed-v9.rdb
if [ ! -f "$V9" ] || [ "$V9" -ot "$BENCH_DATA/mixed.rdb" ]; then
    "$REDKIT" convert -q "$BENCH_DATA/mixed.rdb" -o "$V9" --force --rdb-version 9 \
        --lossy stream-meta 2>/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv

# run NAME FILE OUT CMD...: times CMD (its stdout into OUT) after reading FILE once.
run() {
    local name=$1 file=$2 out=$3
    shift 3
    cat "$file" >/dev/null
    local start end
    start=$(date +%s.%N)
    $TIME -f '%M' -o "$work/time" "$@" >"$out" 2>"$work/err" || {
        cat "$work/err" >&2
        die "$name failed"
    }
    end=$(date +%s.%N)
    printf '%s\t%s\t%s\t%s\n' "$(basename "$file")" "$name" \
        "$(echo "$end - $start" | bc)" "$(tail -1 "$work/time")" >>"$results"
}

PREFIXES=$BENCH_DATA/prefixes.rdb
[ -f "$PREFIXES" ] || "$PYTHON" "$ROOT/bench/make_prefixes.py" "$PREFIXES" 10000000
for f in "$BENCH_DATA/strings.rdb" "$BENCH_DATA/mixed.rdb" "$V9" "$PREFIXES"; do
    for _ in $(seq "$RUNS"); do
        run "redkit check-rdb" "$f" /dev/null "$REDKIT" check-rdb -q "$f"
        run "redkit analyze" "$f" /dev/null "$REDKIT" analyze -q --now 0 "$f"
    done
done
run "rdbtools rdb -c memory" "$V9" "$work/rdbtools.csv" rdb -c memory "$V9"
# The digest DEBUG DIGEST gives, and a file compared with itself (read twice, one core each).
for f in "$BENCH_DATA/strings.rdb" "$BENCH_DATA/mixed.rdb"; do
    for _ in $(seq "$RUNS"); do
        run "redkit digest" "$f" /dev/null "$REDKIT" digest "$f"
        run "redkit diff (the file with itself)" "$f" /dev/null "$REDKIT" diff -q "$f" "$f"
    done
done

# Per key, on the dataset that stresses the model (every encoding at its thresholds), written
# and loaded by Redis 6.0 (RDB 9, which rdbtools reads): the share of keys each tool puts
# within max(5%, 16 bytes) of MEMORY USAGE.
"$PYTHON" "$ROOT/testdata/gen/make_memory.py" --out "$work/stress" --server redis-6.0 >/dev/null
"$PYTHON" "$ROOT/testdata/gen/memory_usage.py" redis-6.0 "$work/stress/redis-6.0.rdb" >"$work/stress-truth.json"
rdb -c memory "$work/stress/redis-6.0.rdb" >"$work/stress-rdbtools.csv"
"$REDKIT" analyze -q --now 0 --server redis-6.0 --allocator jemalloc --keys "$work/stress-redkit.jsonl" \
    --format jsonl "$work/stress/redis-6.0.rdb" >/dev/null

# Totals: each tool's sum against the servers' sum of MEMORY USAGE.
"$PYTHON" "$ROOT/bench/memory_total.py" redis-7.0 "$V9" >"$work/server-7.0.json"
"$PYTHON" "$ROOT/bench/memory_total.py" redis-6.0 "$V9" >"$work/server-6.0.json"
"$REDKIT" analyze -q --now 0 --json --server redis-7.0 --allocator jemalloc-q16 "$V9" >"$work/redkit-7.0.json"
"$REDKIT" analyze -q --now 0 --json --server redis-6.0 --allocator jemalloc "$V9" >"$work/redkit-6.0.json"

"$PYTHON" - "$work" "$results" "$BENCH_DOC" "$write_doc" <<'PY'
import csv, json, os, statistics, sys
work, results, doc, write_doc = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
runs = {}
for line in open(results):
    f, name, wall, rss = line.rstrip("\n").split("\t")
    runs.setdefault((f, name), []).append((float(wall), int(rss)))
sizes = {}
out = ["| file | command | median wall | MB/s of input | peak RSS |", "|---|---|---|---|---|"]
for (f, name), rs in runs.items():
    wall = statistics.median(w for w, _ in rs)
    rss = max(r for _, r in rs)
    size = os.path.getsize(os.path.join(os.environ.get("BENCH_DATA", "bench/data"), f))
    out.append(f"| {f} | `{name}` | {wall:.2f} s | {size / wall / 1e6:.0f} | {rss / 1024:.0f} MiB |")
ratio = []
for f in sorted({f for f, _ in runs}):
    a = statistics.median(w for w, _ in runs.get((f, "redkit analyze"), [(0, 0)]))
    c = statistics.median(w for w, _ in runs.get((f, "redkit check-rdb"), [(0, 0)]))
    if a and c:
        ratio.append(f"{f}: analyze runs at {c / a * 100:.0f}% of check-rdb's throughput")
rdbtools = sum(int(r["size_in_bytes"]) for r in csv.DictReader(open(os.path.join(work, "rdbtools.csv"))))
tot = ["| server (allocator) | MEMORY USAGE summed | redkit analyze | redis-rdb-tools |", "|---|---|---|---|"]
for v in ("7.0", "6.0"):
    s = json.load(open(os.path.join(work, f"server-{v}.json")))
    r = json.load(open(os.path.join(work, f"redkit-{v}.json")))
    srv, red = s["memory_usage_sum"], r["total"]["memory"]
    tot.append(
        f"| redis-{v} ({s['allocator']}) | {srv:,} | {red:,} ({(red - srv) / srv * 100:+.3f}%) "
        f"| {rdbtools:,} ({(rdbtools - srv) / srv * 100:+.1f}%) |"
    )
truth = json.load(open(os.path.join(work, "stress-truth.json")))
truth = next(iter(truth.values()))["keys"]
want = {(k["db"], bytes.fromhex(k["key"])): k["memory"] for k in truth}
def share(got):
    n = ok = 0
    for key, m in want.items():
        if key in got:
            n += 1
            ok += abs(got[key] - m) <= max(16, 0.05 * m)
    return ok, n
rt = {(int(r["database"]), r["key"].encode()): int(r["size_in_bytes"])
      for r in csv.DictReader(open(os.path.join(work, "stress-rdbtools.csv")))}
rk = {}
for line in open(os.path.join(work, "stress-redkit.jsonl")):
    r = json.loads(line)
    k = r["key"]
    rk[(r["db"], k.encode() if isinstance(k, str) else __import__("base64").b64decode(k["base64"]))] = r["memory"]
per_key = ["| tool | keys within max(5%, 16 B) of Redis 6.0's MEMORY USAGE |", "|---|---|"]
for name, got in (("redkit analyze", rk), ("redis-rdb-tools", rt)):
    ok, n = share(got)
    per_key.append(f"| {name} | {ok} of {n} ({ok / max(1, n) * 100:.1f}%) |")
text = ("\n".join(out) + "\n\n" + "; ".join(ratio) + ".\n\n" + "\n".join(tot) + "\n\n"
        + "\n".join(per_key) + "\n")
print(text)
if write_doc:
    body = open(doc).read()
    begin, end = "<!-- analyze:begin -->", "<!-- analyze:end -->"
    if begin in body:
        pre, rest = body.split(begin, 1)
        post = rest.split(end, 1)[1]
        body = pre + begin + "\n" + text + end + post
    else:
        body += "\n" + begin + "\n" + text + end + "\n"
    open(doc, "w").write(body)
PY
