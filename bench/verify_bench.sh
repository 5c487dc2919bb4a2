#!/usr/bin/env bash
# bench/verify_bench.sh: `imgpack verify` against a baseline verify, side by side on one pack.
# Run by `./dev bench verify`; docs/performance.md ("Verifying") has the figures.
#
# The pack is convert_bench.sh's input converted once (about 2.4 GB; the input is made by the
# first run of `./dev bench convert` and kept under BUILD/bench-data/). Each round runs both verifies, in
# alternating order, in two page-cache states: warm (the pack in the page cache, as right after
# a first read) and cold (the pack's pages dropped first with POSIX_FADV_DONTNEED, which touches
# no other file: the pass then reads from the disk). Reported as median [min..max] of the wall
# time and of the CPU time, and the per-round ratio of the wall times new/baseline.
#
#   bench/verify_bench.sh --baseline BIN [--build DIR] [--reps N] [--jobs J]
set -euo pipefail

BUILD=build
BASELINE=""
REPS=7
JOBS=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --baseline) BASELINE=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "verify_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$BASELINE" ] && [ -x "$BASELINE" ] || { echo "verify_bench.sh: --baseline BIN (an imgpack to compare with) is required" >&2; exit 2; }
IMGPACK=$BUILD/imgpack
[ -x "$IMGPACK" ] || { echo "verify_bench.sh: $IMGPACK is missing: build first (./dev build)" >&2; exit 1; }

DATA=$BUILD/bench-data/convert_c40_p550_side450-550_q96_seed1
TRAIN=$DATA/ILSVRC2012_img_train.tar
[ -f "$TRAIN" ] || { echo "verify_bench.sh: $TRAIN is missing: ./dev bench convert makes it" >&2; exit 1; }
PACK=$BUILD/bench-work/verify.imgpack
mkdir -p "$BUILD/bench-work"
[ -f "$PACK" ] || "$IMGPACK" convert --train "$TRAIN" -o "$PACK" -q
jobs_flag=()
[ -n "$JOBS" ] && jobs_flag=(-j "$JOBS")

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages; other work adds noise)"
echo "pack:    $PACK, $(stat -c %s "$PACK" | awk '{printf "%.2f GB", $1/1e9}'); verify ${jobs_flag[*]:-(default jobs)}"
stats() { sort -g | awk '{v[NR]=$1} END {m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.3f [%.3f..%.3f]", m, v[1], v[NR]}'; }
drop() { dd if="$PACK" iflag=nocache count=0 status=none; }
warm() { cat "$PACK" >/dev/null; }
timed() {  # timed BIN: "WALL CPU" seconds (CPU: user + system) of BIN verify, which must pass
    /usr/bin/time -f "%e %U %S" -o "$TIMES" "$1" verify "${jobs_flag[@]}" "$PACK" >/dev/null
    awk '{print $1, $2 + $3}' "$TIMES"
}
TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
for state in warm cold; do
    new=() old=() ratio=() new_cpu=() old_cpu=()
    for ((r = 0; r < REPS; r++)); do
        order=("$IMGPACK" "$BASELINE")
        ((r % 2)) && order=("$BASELINE" "$IMGPACK")
        declare -A t=()
        for bin in "${order[@]}"; do
            if [ "$state" = cold ]; then drop; else warm; fi
            t[$bin]=$(timed "$bin")
        done
        read -r nw nc <<<"${t[$IMGPACK]}"
        read -r ow oc <<<"${t[$BASELINE]}"
        new+=("$nw") old+=("$ow") new_cpu+=("$nc") old_cpu+=("$oc")
        ratio+=("$(awk -v a="$nw" -v b="$ow" 'BEGIN {print a/b}')")
        unset t
    done
    echo "$state page cache, $REPS rounds, seconds, median [min..max] (CPU: user + system, less sensitive to load):"
    echo "  new      wall $(printf '%s\n' "${new[@]}" | stats)  CPU $(printf '%s\n' "${new_cpu[@]}" | stats)"
    echo "  baseline wall $(printf '%s\n' "${old[@]}" | stats)  CPU $(printf '%s\n' "${old_cpu[@]}" | stats)"
    echo "  ratio new/baseline per round $(printf '%s\n' "${ratio[@]}" | stats)"
done
