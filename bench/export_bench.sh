#!/usr/bin/env bash
# bench/export_bench.sh: does `imgpack export` run at disk speed, and is its memory flat in blob
# bytes? Run by `./dev bench export`; docs/performance.md ("Exporting") explains the method and
# the figures.
#
# Source: a pack converted once (and kept under BUILD/bench-data/) from the convert benchmark's
# synthetic train tar (22,000 ImageNet-sized JPEGs, ~2.4 GB; made with `imgpack synth` the first
# time, or --train TAR), with label-balanced subsets 10pct and 50pct drawn at conversion.
# Two exports, each timed side by side with its baselines in one run, rounds alternating:
#   10% subset:  (e) imgpack export SRC --split train=10pct -o OUT
#                (c) cp of a file of OUT's size + sync --data
#                (x) imgpack extract SRC --split train --subset 10pct -o DIR + fsync of its files
#   50% shard:   (e) imgpack export SRC --split train --shard 0/2 -o OUT
#                (c) cp of a file of OUT's size + sync --data
#                (x) imgpack extract SRC --split train --subset 50pct (the same fraction; extract
#                    has no --shard) + fsync of its files
# each warm (the source in the page cache) and cold (the source's and the copied file's pages
# dropped first, per file: posix_fadvise DONTNEED through dd iflag=nocache; nothing else's cache
# is touched). Reported as median [min..max] and the per-round ratios e/c (target <= 1.2) and e/x.
# Then peak RSS (/usr/bin/time -v) of exports of that source with 1x, 5x and 10x the blob bytes,
# and at ImageNet's record count: the scale benchmark's pack
# (1,281,167 + 50,000 + 100,000 records; --scale-pack PACK, or converted here from the scale
# benchmark's tars with --scale-data DIR), exporting 10pct + validation (178,116 records) and
# train + validation (1,331,167): there RSS follows the record count, not the blob bytes.
#
#   bench/export_bench.sh [--build DIR] [--reps N] [--train TAR] [--work DIR] [--no-cold]
#                         [--scale-pack PACK | --scale-data DIR] [--no-scale] [--cases "10pct shard"]
set -euo pipefail

BUILD=build
REPS=3
TRAIN=""
WORK=""
COLD=1
SCALE=1
SCALE_PACK=""
SCALE_DATA=""
CASES="10pct shard"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --train) TRAIN=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --no-cold) COLD=0; shift ;;
        --scale-pack) SCALE_PACK=$2; shift 2 ;;
        --scale-data) SCALE_DATA=$2; shift 2 ;;
        --no-scale) SCALE=0; shift ;;
        --cases) CASES=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "export_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

IMGPACK=$BUILD/imgpack
[ -x "$IMGPACK" ] || { echo "export_bench.sh: $IMGPACK is missing: build first (./dev build)" >&2; exit 1; }
for tool in /usr/bin/time sync cp dd; do
    command -v "$tool" >/dev/null || { echo "export_bench.sh: needs $tool (./dev bench installs it)" >&2; exit 1; }
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
now() { echo "$EPOCHREALTIME"; }
# median, min and max of the numbers on stdin: "MEDIAN MIN MAX"
stats() { sort -g | awk '{v[NR]=$1} END {m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR]}'; }
spread() { tr ' ' '\n' <<<"$1" | grep . | stats; }
# Drop one file's pages from the page cache (written back first): a cold read of that file only.
evict() { for f in "$@"; do sync "$f"; dd if="$f" iflag=nocache count=0 status=none; done; }
warm() { for f in "$@"; do cat "$f" >/dev/null; done; }
cached() { command -v fincore >/dev/null && fincore --noheadings --bytes --output RES "$1" | awk '{print $1}' || echo "?"; }

# ---- the source pack ------------------------------------------------------------------------------
DATA=$BUILD/bench-data/export
SRC=$DATA/source.imgpack
mkdir -p "$DATA"
if [ ! -f "$SRC" ]; then
    if [ -z "$TRAIN" ]; then
        TRAIN=$BUILD/bench-data/convert_c40_p550_side450-550_q96_seed1/ILSVRC2012_img_train.tar
        if [ ! -f "$TRAIN" ]; then
            say "making the convert benchmark's input once (a few minutes)"
            rm -rf "$(dirname "$TRAIN").tmp"
            "$IMGPACK" synth "$(dirname "$TRAIN").tmp" --classes 40 --per-class 550 --val 0 --test 0 \
                --min-side 450 --max-side 550 --quality 96 --seed 1 >/dev/null
            mv "$(dirname "$TRAIN").tmp" "$(dirname "$TRAIN")"
        fi
    fi
    say "converting $TRAIN into $SRC once (with subsets 10pct and 50pct)"
    "$IMGPACK" convert -q --train "$TRAIN" --subset 10pct=0.1 --subset 50pct=0.5 --seed 1 -o "$SRC.tmp"
    mv "$SRC.tmp" "$SRC"
fi
SRC_BYTES=$(stat -c %s "$SRC")

WORK=${WORK:-$BUILD/bench-work}
mkdir -p "$WORK"
OUT=$WORK/export.imgpack DIR=$WORK/extract BLOCK=$WORK/block.bin COPY=$WORK/copy.bin
cleanup() { rm -rf "$OUT" "$DIR" "$BLOCK" "$COPY" "$WORK/time.txt" "$WORK/rss.txt" "$WORK/scale-export.imgpack"; }
trap cleanup EXIT

avail_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM ($((avail_kib / 1048576)) GiB available), Linux $(uname -r)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages; other work on the machine adds noise)"
echo "disk:    $WORK on $(df --output=source,fstype -h "$WORK" | tail -1 | tr -s ' ')"
echo "source:  $SRC: $(awk -v b="$SRC_BYTES" 'BEGIN {printf "%.2f GB (%.2f GiB)", b/1e9, b/2^30}')"

TIMEFORMAT='%R'
# One timed run of a command, its wall seconds on stdout; its own output is discarded.
timed() { { time "$@" >/dev/null 2>&3; } 3>&2 2>"$WORK/time.txt"; cat "$WORK/time.txt"; }

run_export() { "$IMGPACK" export -q -f "$SRC" "${SELECT[@]}" -o "$OUT"; }
run_copy() { cp "$BLOCK" "$COPY" && sync --data "$COPY"; }
# extract's files and folders made durable as export's and cp's output is (fsync of each, by
# sync FILE...; not sync -f, which would also flush whatever else the machine has written).
run_extract() {
    rm -rf "$DIR"
    "$IMGPACK" extract -q "$SRC" --split train --subset "$EXTRACT_SUBSET" -o "$DIR" &&
        find "$DIR" -print0 | xargs -0 sync --data
}

# bench_case NAME: SELECT and EXTRACT_SUBSET set; REPS rounds of (e), (c), (x), the order rotating.
bench_case() {
    local name=$1 mode m r k t
    # The output's size: one export first, untimed; the cp baseline copies a file of that size
    # (the source's first bytes).
    run_export
    local out_bytes
    out_bytes=$(stat -c %s "$OUT")
    head -c "$out_bytes" "$SRC" >"$BLOCK"
    sync "$BLOCK"
    local modes=(warm)
    [ "$COLD" = 1 ] && modes+=(cold)
    for mode in "${modes[@]}"; do
        declare -A WALL=()
        local methods=(export copy extract)
        say "$name, $mode page cache: $REPS rounds of (e) export, (c) cp + sync of $(awk -v b="$out_bytes" 'BEGIN {printf "%.0f MB", b/1e6}'), (x) extract $EXTRACT_SUBSET + fsync of its files"
        for ((r = 0; r < REPS; r++)); do
            local line="round $((r + 1)):"
            for ((k = 0; k < ${#methods[@]}; k++)); do
                m=${methods[(r + k) % ${#methods[@]}]}
                rm -rf "$OUT" "$COPY" "$DIR"
                sync
                if [ "$mode" = cold ]; then evict "$SRC" "$BLOCK"; else warm "$SRC" "$BLOCK"; fi
                t=$(timed "run_$m")
                WALL[$m]="${WALL[$m]:-} $t"
                line+=" $m $t s"
            done
            echo "$line"
        done
        local med lo hi
        for m in "${methods[@]}"; do
            read -r med lo hi < <(spread "${WALL[$m]}")
            awk -v l="$m" -v m="$med" -v lo="$lo" -v hi="$hi" -v b="$out_bytes" \
                'BEGIN {printf "  %-8s %6.2f s [%.2f..%.2f]  %5.0f MB/s (of the output size)\n", l, m, lo, hi, b/m/1e6}'
        done
        for pair in "export copy" "export extract"; do
            read -r a b <<<"$pair"
            local -a num=(${WALL[$a]}) den=(${WALL[$b]})
            for ((i = 0; i < ${#num[@]}; i++)); do awk -v x="${num[i]}" -v y="${den[i]}" 'BEGIN {print x/y}'; done |
                stats | awk -v n="$name" -v mo="$mode" -v a="$a" -v b="$b" \
                    '{printf "  RESULT %s %s %s/%s = %.2f [%.2f..%.2f] per round\n", n, mo, a, b, $1, $2, $3}'
        done
    done
    rm -f "$BLOCK"
}

for c in $CASES; do
    case $c in
        10pct) SELECT=(--split train=10pct) EXTRACT_SUBSET=10pct; bench_case "10pct" ;;
        shard) SELECT=(--split train --shard 0/2) EXTRACT_SUBSET=50pct; bench_case "shard0/2" ;;
        *) echo "export_bench.sh: unknown case '$c' (10pct, shard)" >&2; exit 2 ;;
    esac
done

# ---- peak RSS: flat in blob bytes, and at ImageNet's record count -----------------------------------
rss() {  # rss PACK ARGS...: one export under /usr/bin/time -v: peak RSS, output size, wall time
    local pack=$1
    shift
    /usr/bin/time -v "$IMGPACK" export -q -f "$pack" "$@" -o "$WORK/scale-export.imgpack" 2>"$WORK/rss.txt" >/dev/null
    local kib wall out
    kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/rss.txt")
    wall=$(awk -F'): ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/rss.txt")
    out=$(stat -c %s "$WORK/scale-export.imgpack")
    awk -v k="$kib" -v w="$wall" -v o="$out" -v a="$(basename "$pack") $*" \
        'BEGIN {printf "  RESULT rss %-60s peak RSS %6.1f MiB  output %8.1f MB  wall %s\n", a, k/1024, o/1e6, w}'
}
echo
say "peak RSS on $SRC: the same records' metadata, 5x the blob bytes"
rss "$SRC" --split train=10pct
rss "$SRC" --split train --shard 0/2
rss "$SRC" --split train

[ "$SCALE" = 1 ] || exit 0
if [ -z "$SCALE_PACK" ]; then
    SCALE_PACK=$DATA/scale.imgpack
    if [ ! -f "$SCALE_PACK" ]; then
        SCALE_DATA=${SCALE_DATA:-$BUILD/bench-data/scale_real_side16_q95}
        [ -f "$SCALE_DATA/ILSVRC2012_img_train.tar" ] ||
            { echo "export_bench.sh: no scale pack: run ./dev bench scale once (it makes $SCALE_DATA), or give --scale-pack" >&2; exit 1; }
        say "converting the scale benchmark's tars ($SCALE_DATA) once into $SCALE_PACK"
        # As bench/scale_bench.sh converts them.
        args=(--train "$SCALE_DATA/ILSVRC2012_img_train.tar" --val "$SCALE_DATA/ILSVRC2012_img_val.tar"
              --val-labels "$SCALE_DATA/imagenet2012_validation_labels.txt" --test "$SCALE_DATA/ILSVRC2012_img_test.tar"
              --classes "$SCALE_DATA/imagenet2012_labels.txt")
        if [ -f "$SCALE_DATA/1percent.txt" ]; then
            args+=(--subset "1pct=$SCALE_DATA/1percent.txt" --subset "10pct=$SCALE_DATA/10percent.txt")
        else
            args+=(--subset 1pct=0.01 --subset 10pct=0.1)
        fi
        "$IMGPACK" convert -q "${args[@]}" -o "$SCALE_PACK.tmp"
        mv "$SCALE_PACK.tmp" "$SCALE_PACK"
    fi
fi
echo
say "peak RSS at ImageNet's record count: $SCALE_PACK ($(awk -v b="$(stat -c %s "$SCALE_PACK")" 'BEGIN {printf "%.2f GB", b/1e9}'))"
"$IMGPACK" info "$SCALE_PACK" | sed -n '1,12p'
rss "$SCALE_PACK" --split train=10pct --split validation
rss "$SCALE_PACK" --split train --split validation
