#!/usr/bin/env bash
# benches/vs-scheme.sh — runs the same Scheme programs on xln, Guile 3 and Steel, whole
# process each time, and prints the median of RUNS runs per program and implementation
# with xln's ratio to each (below 1.0: xln is faster). Programs are in benches/scheme/.
#
#   benches/vs-scheme.sh            # 5 runs each
#   RUNS=9 benches/vs-scheme.sh     # more runs
#
# Installs what is missing: Debian's guile-3.0 (apt-get), and steel-interpreter from
# crates.io into target/scratch-steel (cargo install; a one-time build of a few minutes).
# Guile runs compiled code: one untimed warm-up run per program fills its compile cache.
# The persistent-map workload uses each implementation's own persistent map: xln's ordered
# map (hash-set), Guile's vhash (ice-9 vlist), Steel's immutable hash map (hash-insert).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
programs="$here/scheme"
runs="${RUNS:-5}"

if ! command -v guile-3.0 > /dev/null && ! command -v guile > /dev/null; then
    echo "installing guile-3.0 (apt-get)..." >&2
    apt-get install -y guile-3.0 > /dev/null || { apt-get update > /dev/null && apt-get install -y guile-3.0 > /dev/null; }
fi
guile="$(command -v guile-3.0 || command -v guile)"

steel_root="$root/target/scratch-steel"
steel="$steel_root/bin/steel"
if [ ! -x "$steel" ]; then
    echo "installing steel-interpreter into $steel_root (cargo install)..." >&2
    CARGO_TARGET_DIR="$steel_root/build" cargo install steel-interpreter --locked --root "$steel_root" > "$steel_root.log" 2>&1 \
        || { echo "steel install failed; see $steel_root.log" >&2; exit 1; }
    rm -rf "$steel_root/build"
fi

echo "building xln (release)..." >&2
(cd "$root" && cargo build --release --quiet)
xln="$root/target/release/xln"

# Seconds (with nanosecond precision) one run of a command takes; its output must equal
# the expected answer, so a broken program cannot look fast.
time_run() {
    local expected="$1"; shift
    local start end out
    start=$(date +%s%N)
    out="$("$@" 2> /dev/null | tail -n 1)"
    end=$(date +%s%N)
    if [ "$out" != "$expected" ]; then
        echo "wrong answer from $*: got '$out', expected '$expected'" >&2
        exit 1
    fi
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}

median() {
    sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.4f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# name  expected  xln-file  guile-file  steel-file
benchmarks=(
    "fib-30|832040|fib.scm|fib.scm|fib.scm"
    "tak-18-12-6-x20|7|tak.scm|tak.scm|tak.scm"
    "tail-loop-10M|10000000|loop.scm|loop.scm|loop.scm"
    "lists-map-filter-fold|1333313333400000|lists.scm|lists.scm|lists.scm"
    "string-building|488890|strings.scm|strings.scm|strings.scm"
    "persistent-map|333328333350000|maps.xln|maps.guile.scm|maps.steel.scm"
)

printf "%-24s %9s %9s %9s %12s %12s\n" "benchmark" "xln" "guile" "steel" "xln/guile" "xln/steel"
for b in "${benchmarks[@]}"; do
    IFS='|' read -r name expected xf gf sf <<< "$b"
    "$guile" "$programs/$gf" > /dev/null 2>&1 || true
    x=(); g=(); s=()
    for _ in $(seq "$runs"); do
        x+=("$(time_run "$expected" "$xln" run "$programs/$xf")")
        g+=("$(time_run "$expected" "$guile" "$programs/$gf")")
        s+=("$(time_run "$expected" "$steel" "$programs/$sf")")
    done
    mx=$(printf "%s\n" "${x[@]}" | median)
    mg=$(printf "%s\n" "${g[@]}" | median)
    ms=$(printf "%s\n" "${s[@]}" | median)
    printf "%-24s %8.3fs %8.3fs %8.3fs %12.2f %12.2f\n" "$name" "$mx" "$mg" "$ms" \
        "$(awk -v a="$mx" -v b="$mg" 'BEGIN { print a / b }')" "$(awk -v a="$mx" -v b="$ms" 'BEGIN { print a / b }')"
done
echo "medians of $runs runs per program, whole process; machine load: $(cut -d' ' -f1-3 /proc/loadavg)"
