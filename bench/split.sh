#!/usr/bin/env bash
# Times `redkit split` into 3 shards beside `redkit convert` of the same file (the same records
# written once), and `redkit merge` of the 3 shards back: on bench/data/strings.rdb and
# mixed.rdb (made by bench/run.sh); and check-rdb, analyze and digest on each file alone and
# on both at once (a row "both"). Each command runs RUNS times (default 3) after its input is
# read once (page cache). The table goes to docs/benchmarks.md between <!-- split:begin --> and
# <!-- split:end --> (--no-doc: printed only).
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

work=$(mktemp -d "$BENCH_DATA/split.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv

# run NAME FILE CMD...: times CMD after reading FILE once.
run() {
    local name=$1 file=$2
    shift 2
    cat "$file" >/dev/null
    local start end
    start=$(date +%s.%N)
    $TIME -f '%M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
        cat "$work/err" >&2
        die "$name failed"
    }
    end=$(date +%s.%N)
    printf '%s\t%s\t%s\t%s\n' "$(basename "$file")" "$name" \
        "$(echo "$end - $start" | bc)" "$(tail -1 "$work/time")" >>"$results"
}

for f in strings mixed; do
    src=$BENCH_DATA/$f.rdb
    [ -f "$src" ] || die "$src is missing (bash bench/run.sh makes it)"
    for _ in $(seq "$RUNS"); do
        run "redkit convert" "$src" "$REDKIT" convert -q "$src" -o "$work/c.rdb" --force
        run "redkit split (3 shards)" "$src" "$REDKIT" split -q "$src" -o "$work/s" \
            --slots 0-5460,5461-10922,10923-16383 --force
        cat "$work"/s/*.rdb >/dev/null
        run "redkit merge (the 3 shards)" "$src" "$REDKIT" merge -q "$work"/s/shard-0.rdb \
            "$work"/s/shard-1.rdb "$work"/s/shard-2.rdb -o "$work/m.rdb" --force
    done
done

# Several files at once: each command alone on each file, then on both files together.
both=both
for _ in $(seq "$RUNS"); do
    for cmd in check-rdb analyze digest; do
        for f in strings mixed; do
            run "redkit $cmd" "$BENCH_DATA/$f.rdb" "$REDKIT" $cmd -q "$BENCH_DATA/$f.rdb"
        done
        cat "$BENCH_DATA/strings.rdb" >/dev/null
        run "redkit $cmd" "$BENCH_DATA/mixed.rdb" "$REDKIT" $cmd -q "$BENCH_DATA/strings.rdb" \
            "$BENCH_DATA/mixed.rdb"
        sed -i '$ s/^mixed.rdb\t/'"$both"'\t/' "$results"
    done
done

"$PYTHON" - "$results" "$BENCH_DOC" "$write_doc" "$BENCH_DATA" <<'PY'
import os, statistics, sys
results, doc, write_doc, data = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
runs = {}
for line in open(results):
    f, name, wall, rss = line.rstrip("\n").split("\t")
    runs.setdefault((f, name), []).append((float(wall), int(rss)))
out = ["| file | command | median wall | MB/s of input | peak RSS |", "|---|---|---|---|---|"]
for (f, name), rs in runs.items():
    wall = statistics.median(w for w, _ in rs)
    size = (os.path.getsize(os.path.join(data, "strings.rdb"))
            + os.path.getsize(os.path.join(data, "mixed.rdb"))) if f == "both" \
        else os.path.getsize(os.path.join(data, f))
    out.append(f"| {f} | `{name}` | {wall:.2f} s | {size / wall / 1e6:.0f} | "
               f"{max(r for _, r in rs) / 1024:.0f} MiB |")
notes = []
for f in sorted({f for f, _ in runs} - {"both"}):
    c = statistics.median(w for w, _ in runs[(f, "redkit convert")])
    s = statistics.median(w for w, _ in runs[(f, "redkit split (3 shards)")])
    m = statistics.median(w for w, _ in runs[(f, "redkit merge (the 3 shards)")])
    notes.append(f"{f}: split at {c / s * 100:.0f}% of convert's throughput, merge (two passes) "
                 f"at {c / m * 100:.0f}%")
many = []
for cmd in ["check-rdb", "analyze", "digest"]:
    name = f"redkit {cmd}"
    if ("both", name) not in runs:
        continue
    alone = max(statistics.median(w for w, _ in runs[(f, name)]) for f in ["strings.rdb", "mixed.rdb"])
    together = statistics.median(w for w, _ in runs[("both", name)])
    many.append(f"`{cmd} strings.rdb mixed.rdb` in {together / alone:.2f}x the time of the "
                f"longer file alone")
text = ("\n".join(out) + "\n\n" + "; ".join(notes) + ".\n\n"
        + "Both files at once, on " + str(os.cpu_count()) + " cores: " + "; ".join(many) + ".\n")
print(text)
if write_doc:
    body = open(doc).read()
    begin, end = "<!-- split:begin -->", "<!-- split:end -->"
    if begin in body:
        pre, rest = body.split(begin, 1)
        body = pre + begin + "\n" + text + end + rest.split(end, 1)[1]
    else:
        body += "\n" + begin + "\n" + text + end + "\n"
    open(doc, "w").write(body)
PY
