#!/usr/bin/env bash
# Times `redkit check-rdb --salvage` beside `redkit convert` (the same records written to a new
# file of the same version): on the intact ~1 GiB files, and on copies with DAMAGES (default
# 1000) bytes flipped at places chosen with a fixed seed. No other tool salvages an RDB:
# redis-check-rdb stops at the first fault (it is timed on the damaged file for reference).
#
# Inputs: bench/data/strings.rdb and mixed.rdb (made by bench/run.sh). Each command runs RUNS
# times (default 3) after its input is read once (page cache). The table goes to
# docs/benchmarks.md between <!-- salvage:begin --> and <!-- salvage:end --> (--no-doc: printed
# only).
#
# Environment: REDKIT (default target/release/redkit), BENCH_DATA (default bench/data), RUNS,
# DAMAGES, PYTHON (default python3), BENCH_DOC (default docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDKIT=${REDKIT:-$ROOT/target/release/redkit}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
BENCH_DOC=${BENCH_DOC:-$ROOT/docs/benchmarks.md}
RUNS=${RUNS:-3}
DAMAGES=${DAMAGES:-1000}
PYTHON=${PYTHON:-python3}
TIME=/usr/bin/time
write_doc=1
[ "${1:-}" = "--no-doc" ] && write_doc=0

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$REDKIT" ] || die "$REDKIT is missing (make build)"
for f in strings mixed; do
    [ -f "$BENCH_DATA/$f.rdb" ] || die "$BENCH_DATA/$f.rdb is missing (bash bench/run.sh makes it)"
done

# Outputs go beside the data (the same disk), in a directory removed at the end.
work=$(mktemp -d "$BENCH_DATA/salvage.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv

# run NAME FILE CMD...: times CMD after reading FILE once; exit status 0 or 1 is a success.
run() {
    local name=$1 file=$2
    shift 2
    cat "$file" >/dev/null
    local start end rc=0
    start=$(date +%s.%N)
    $TIME -f '%M' -o "$work/time" "$@" >"$work/out" 2>"$work/err" || rc=$?
    end=$(date +%s.%N)
    if [ "$rc" -gt 1 ]; then
        cat "$work/err" >&2
        die "$name failed"
    fi
    printf '%s\t%s\t%s\t%s\n' "$(basename "$file")" "$name" \
        "$(echo "$end - $start" | bc)" "$(tail -1 "$work/time")" >>"$results"
}

for f in strings mixed; do
    src=$BENCH_DATA/$f.rdb
    damaged=$work/$f-damaged.rdb
    "$PYTHON" - "$src" "$damaged" "$DAMAGES" <<'PY'
import os, random, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copyfile(src, dst)
size = os.path.getsize(dst)
rng = random.Random(20261205)
with open(dst, "r+b") as f:
    for at in sorted(rng.randrange(9, size - 9) for _ in range(n)):
        f.seek(at)
        b = f.read(1)[0]
        f.seek(at)
        f.write(bytes([b ^ (1 + rng.randrange(255))]))
PY
    for _ in $(seq "$RUNS"); do
        run "redkit convert" "$src" "$REDKIT" convert -q "$src" -o "$work/out.rdb" --force
        run "redkit check-rdb --salvage (intact)" "$src" \
            "$REDKIT" check-rdb -q "$src" --salvage "$work/out.rdb" --force
        run "redkit check-rdb --salvage ($DAMAGES damaged places)" "$damaged" \
            "$REDKIT" check-rdb -q "$damaged" --salvage "$work/out.rdb" --force --json
    done
    cp "$work/out" "$work/$f-report.json"
    "$REDKIT" check-rdb -q --json "$src" >"$work/$f-check.json" || true
    if command -v redis-check-rdb >/dev/null 2>&1; then
        run "redis-check-rdb (stops at the first fault)" "$damaged" redis-check-rdb "$damaged"
    fi
    rm -f "$damaged"
done

"$PYTHON" - "$work" "$results" "$BENCH_DOC" "$write_doc" "$BENCH_DATA" "$DAMAGES" <<'PY'
import json, os, statistics, sys
work, results, doc, write_doc, data, damages = sys.argv[1:7]
write_doc = write_doc == "1"
runs = {}
for line in open(results):
    f, name, wall, rss = line.rstrip("\n").split("\t")
    runs.setdefault((f.replace("-damaged", ""), name), []).append((float(wall), int(rss)))
out = ["| file | command | median wall | MB/s of input | peak RSS |", "|---|---|---|---|---|"]
for (f, name), rs in runs.items():
    wall = statistics.median(w for w, _ in rs)
    rss = max(r for _, r in rs)
    size = os.path.getsize(os.path.join(data, f))
    out.append(f"| {f} | `{name}` | {wall:.2f} s | {size / wall / 1e6:.0f} | {rss / 1024:.0f} MiB |")
notes = []
for f in ("strings.rdb", "mixed.rdb"):
    conv = statistics.median(w for w, _ in runs[(f, "redkit convert")])
    whole = statistics.median(w for w, _ in runs[(f, "redkit check-rdb --salvage (intact)")])
    dmg = statistics.median(
        w for w, _ in runs[(f, f"redkit check-rdb --salvage ({damages} damaged places)")])
    stem = f[:-4]
    rep = json.load(open(os.path.join(work, f"{stem}-report.json")))
    total = json.load(open(os.path.join(work, f"{stem}-check.json")))["keys"]
    notes.append(
        f"{f}: salvage of the intact file at {conv / whole * 100:.0f}% of convert's throughput, "
        f"of the damaged copy at {conv / dmg * 100:.0f}%; {rep['keys_written']:,} of "
        f"{total:,} keys back ({rep['keys_written'] / total * 100:.2f}%), "
        f"{len(rep['skipped'])} ranges skipped, {len(rep['left_out'])} records left out")
text = "\n".join(out) + "\n\n" + ".\n".join(notes) + ".\n"
print(text)
if write_doc:
    body = open(doc).read()
    begin, end = "<!-- salvage:begin -->", "<!-- salvage:end -->"
    if begin in body:
        pre, rest = body.split(begin, 1)
        post = rest.split(end, 1)[1]
        body = pre + begin + "\n" + text + end + post
    else:
        body += "\n" + begin + "\n" + text + end + "\n"
    open(doc, "w").write(body)
PY
