#!/usr/bin/env bash
# bench/convert_bench.sh: is `imgpack convert` as fast as the disk lets it be?
# Run by `./dev bench convert`; docs/performance.md ("Converting") explains the method and the
# figures.
#
# On a synthetic ILSVRC2012_img_train.tar of ImageNet-sized JPEGs (made once with `imgpack synth`
# and cached under BUILD/bench-data/), three ways of turning the tar into about as many bytes on
# disk are timed in one run, round by round, each ending with its data on the disk:
#   (a) floor:   bsdtar -xOf TRAIN.tar > FILE && sync --data FILE   (libarchive reads, writes, fdatasync)
#   (b) convert: imgpack convert --train TRAIN.tar -o PACK -f -q     (it fsyncs the pack itself)
#   (c) copy:    cp TRAIN.tar COPY && sync --data COPY
#   (b') convert as (b), with IMGPACK_NO_DIRECT_IO=1: blobs through the page cache, not O_DIRECT
# and reported as median [min..max] with the ratios (b)/(a) and (b)/(c) (targets: <= 1.10 and
# <= 1.5). Then: one conversion printing its own summary and CPU split (-j 2), one with -j 1;
# then copies of the pack written with cp and with dd at write sizes from 4 KiB to 8 MiB (and
# O_DIRECT): their write time, and random ~105 KB record reads on a fresh mapping of each.
# Takes about 6 minutes (plus 2-4 the first time, to make the input).
# --baseline BIN adds (b0), BIN convert (e.g. /work/baseline/imgpack, the last landed version), to
# every round, and reports (b)/(b0): before/after in one run. --rounds-only stops after the rounds.
# --decode adds (d), convert --decode (every image decoded whole), to every round, and reports
# (d)/(b): what the check costs on this input. (The input's images are synthetic, gradients and
# noise; decode speed depends on content: docs/performance.md gives the cost on photographs.)
#
#   bench/convert_bench.sh [--build DIR] [--reps N] [--settle SECONDS] [--classes N] [--per-class M]
#                          [--min-side A] [--max-side B] [--quality Q] [--seed S] [--work DIR]
#                          [--baseline BIN] [--rounds-only] [--decode]
set -euo pipefail

BUILD=build
REPS=5
SETTLE=3  # seconds to wait before each timed run (see settle below)
CLASSES=40 PER_CLASS=550  # 22,000 JPEGs
MIN_SIDE=450 MAX_SIDE=550 QUALITY=96  # mean ~107 KB, ImageNet's train mean is ~110 KB
SEED=1
WORK=""
BASELINE=""
DECODE=""
ROUNDS_ONLY=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --settle) SETTLE=$2; shift 2 ;;
        --classes) CLASSES=$2; shift 2 ;;
        --per-class) PER_CLASS=$2; shift 2 ;;
        --min-side) MIN_SIDE=$2; shift 2 ;;
        --max-side) MAX_SIDE=$2; shift 2 ;;
        --quality) QUALITY=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --baseline) BASELINE=$2; shift 2 ;;
        --rounds-only) ROUNDS_ONLY=1; shift ;;
        --decode) DECODE=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "convert_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

IMGPACK=$BUILD/imgpack
PACK_BENCH=$BUILD/bench/imgpack_bench_pack
for tool in "$IMGPACK" "$PACK_BENCH"; do
    [ -x "$tool" ] || { echo "convert_bench.sh: $tool is missing: build first (./dev build)" >&2; exit 1; }
done
for tool in bsdtar /usr/bin/time sync cp dd; do
    command -v "$tool" >/dev/null || { echo "convert_bench.sh: needs $tool (./dev bench installs it)" >&2; exit 1; }
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
# Before every timed run: the previous outputs are deleted and synced (the delete's journal commit
# and discards, and any writeback left over, are paid here, untimed), then SETTLE seconds pass.
# The wait puts every run in the same memory state. On a VM whose balloon reports free memory to
# the host (virtio-balloon free page reporting, as on the machine docs/performance.md describes),
# memory freed by a delete is handed back within 1-3 s, and writing into memory the host took back
# costs far more system time when the page cache allocates it as 2 MiB folios (large write()s)
# than as small ones: without the wait, a run's speed would depend on what the run before it
# freed. The last section below shows the effect.
settle() {
    rm -f "$@"
    sync
    sleep "$SETTLE"
}
now() { echo "$EPOCHREALTIME"; }
# median, min and max of the numbers on stdin: "MEDIAN MIN MAX"
stats() { sort -g | awk '{v[NR]=$1} END {m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR]}'; }

# ---- the input: made once, kept under BUILD/bench-data/, keyed by its parameters ------------------
DATA=$BUILD/bench-data/convert_c${CLASSES}_p${PER_CLASS}_side${MIN_SIDE}-${MAX_SIDE}_q${QUALITY}_seed${SEED}
TRAIN=$DATA/ILSVRC2012_img_train.tar
IMAGES=$((CLASSES * PER_CLASS))
if [ ! -f "$TRAIN" ]; then
    say "making the input once: $IMAGES JPEGs, sides $MIN_SIDE..$MAX_SIDE, quality $QUALITY (a few minutes) into $DATA"
    rm -rf "$DATA.tmp"
    t0=$(now)
    "$IMGPACK" synth "$DATA.tmp" --classes "$CLASSES" --per-class "$PER_CLASS" --val 0 --test 0 \
        --min-side "$MIN_SIDE" --max-side "$MAX_SIDE" --quality "$QUALITY" --seed "$SEED" >/dev/null
    mv "$DATA.tmp" "$DATA"  # only a complete set gets the final name
    echo "made in $(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}') s"
else
    say "reusing the input in $DATA"
fi
TAR_BYTES=$(stat -c %s "$TRAIN")

# ---- where the outputs go: the same file system as real use would, by default beside the data ----
WORK=${WORK:-$BUILD/bench-work}
mkdir -p "$WORK"
FLOOR=$WORK/floor.bin PACK=$WORK/convert.imgpack COPY=$WORK/copy.tar
COPY_PACK=$WORK/copy.imgpack
cleanup() { rm -f "$FLOOR" "$PACK" "$COPY" "$COPY_PACK" "$WORK/time.txt" "$WORK/fresh.txt"; }
trap cleanup EXIT

avail_kib=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM ($((avail_kib / 1048576)) GiB available), Linux $(uname -r)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages; other work on the machine adds noise)"
echo "disk:    $WORK on $(df --output=source,fstype -h "$WORK" | tail -1 | tr -s ' ')"
echo "input:   $TRAIN: $(awk -v b="$TAR_BYTES" 'BEGIN {printf "%.2f GB (%.2f GiB)", b/1e9, b/2^30}'), $IMAGES JPEGs in $CLASSES class tars"
if [ $((TAR_BYTES / 1024 * 3)) -gt "$avail_kib" ]; then
    echo "convert_bench.sh: the input does not fit in the page cache with room to spare; the figures would include reading it" >&2
    exit 1
fi

# Warm the page cache for the input: every method then reads it from memory, never from disk.
cat "$TRAIN" >/dev/null
command -v fincore >/dev/null && echo "page cache: $(fincore --noheadings --output RES,FILE "$TRAIN" | awk '{print $1}') of the input resident"

# ---- the timed methods: each leaves its bytes on the disk --------------------------------------
run_floor()   { bsdtar -xOf "$TRAIN" >"$FLOOR" && sync --data "$FLOOR"; }
run_convert() { "$IMGPACK" convert --train "$TRAIN" -o "$PACK" -f -q; }
run_copy()    { cp "$TRAIN" "$COPY" && sync --data "$COPY"; }
# (b') the converter forced to write its blobs through the page cache, as before it used O_DIRECT
# (with a converter that does not know IMGPACK_NO_DIRECT_IO this is (b) again).
run_buffered() { IMGPACK_NO_DIRECT_IO=1 "$IMGPACK" convert --train "$TRAIN" -o "$PACK" -f -q; }
METHODS=(floor convert copy buffered)
# (b0) the baseline converter, as (b)
run_baseline() { "$BASELINE" convert --train "$TRAIN" -o "$PACK" -f -q; }
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE" ] || { echo "convert_bench.sh: --baseline $BASELINE is not an executable" >&2; exit 1; }
    METHODS+=(baseline)
fi
# (d) convert --decode: every image decoded whole while converting
run_decode() { "$IMGPACK" convert --decode --train "$TRAIN" -o "$PACK" -f -q; }
[ -n "$DECODE" ] && METHODS+=(decode)
declare -A WALL USER SYS BYTES  # method -> one value per round (seconds), or its output's size
TIMEFORMAT='%R %U %S'          # bash's `time`: wall, user and system seconds (children included)

say "$REPS rounds of (a) floor, (b) convert, (c) copy, (b') convert with buffered writes${BASELINE:+, (b0) $BASELINE convert}${DECODE:+, (d) convert --decode}; the order rotates each round"
for ((r = 0; r < REPS; r++)); do
    line="round $((r + 1)):"
    for ((k = 0; k < ${#METHODS[@]}; k++)); do
        m=${METHODS[(r + k) % ${#METHODS[@]}]}
        settle "$FLOOR" "$PACK" "$COPY"
        # The method's own stderr goes to ours (fd 3); only `time`'s line goes to the file.
        { time "run_$m" 2>&3; } 3>&2 2>"$WORK/time.txt"
        read -r wall user sys <"$WORK/time.txt"
        WALL[$m]="${WALL[$m]:-} $wall" USER[$m]="${USER[$m]:-} $user" SYS[$m]="${SYS[$m]:-} $sys"
        case $m in
            floor) BYTES[$m]=$(stat -c %s "$FLOOR") ;;
            buffered|baseline|decode) ;;
            convert) BYTES[$m]=$(stat -c %s "$PACK")
                     JPEG_BYTES=$("$IMGPACK" info "$PACK" --json |
                         sed 's/.*"name":"train","records":[0-9]*,"bytes":\([0-9]*\).*/\1/') ;;
            copy) BYTES[$m]=$(stat -c %s "$COPY") ;;
        esac
        line+=" $m $wall s"
    done
    echo "$line"
done
rm -f "$FLOOR" "$PACK" "$COPY"
sync

echo
echo "convert vs. floor and copy, $REPS rounds, median [min..max]; rates from the median wall time:"
echo "  input: $(awk -v b="$TAR_BYTES" 'BEGIN {printf "%.0f MB", b/1e6}') tar, $IMAGES images of mean $(awk -v b="$JPEG_BYTES" -v n="$IMAGES" 'BEGIN {printf "%.1f KB", b/n/1e3}'); each run writes: floor $(awk -v b="${BYTES[floor]}" 'BEGIN {printf "%.0f MB", b/1e6}'), pack $(awk -v b="${BYTES[convert]}" 'BEGIN {printf "%.0f MB", b/1e6}'), copy $(awk -v b="${BYTES[copy]}" 'BEGIN {printf "%.0f MB", b/1e6}')"
echo "  user and sys: CPU seconds of the process(es), medians; the kernel's writeback threads are not in them"
declare -A MEDIAN
spread() { tr ' ' '\n' <<<"$1" | grep . | stats; }  # spread "v1 v2 ...": "MEDIAN MIN MAX"
for m in "${METHODS[@]}"; do
    read -r med lo hi < <(spread "${WALL[$m]}")
    MEDIAN[$m]=$med
    case $m in
        floor) label="(a) bsdtar -xOf + sync --data" ;;
        convert) label="(b) imgpack convert" ;;
        copy) label="(c) cp + sync --data" ;;
        buffered) label="(b') convert, buffered writes" ;;
        baseline) label="(b0) baseline convert" ;;
        decode) label="(d) convert --decode" ;;
    esac
    awk -v l="$label" -v m="$med" -v lo="$lo" -v hi="$hi" -v b="$TAR_BYTES" -v n="$IMAGES" \
        -v u="$(spread "${USER[$m]}" | cut -d' ' -f1)" -v s="$(spread "${SYS[$m]}" | cut -d' ' -f1)" \
        'BEGIN {printf "  %-30s %6.2f s [%.2f..%.2f]  %5.0f MB/s  %5.0f images/s  user %.2f s  sys %.2f s\n",
                l, m, lo, hi, b/m/1e6, n/m, u, s}'
done
# Per-round ratios compare runs made next to each other in time; also the ratio of the medians.
ratio() {  # ratio NUM DEN: "median [min..max] per round; X of the medians"
    local -a num=(${WALL[$1]}) den=(${WALL[$2]})
    for ((i = 0; i < ${#num[@]}; i++)); do awk -v a="${num[i]}" -v b="${den[i]}" 'BEGIN {print a/b}'; done |
        stats | awk -v a="${MEDIAN[$1]}" -v b="${MEDIAN[$2]}" '{printf "%.2f [%.2f..%.2f] per round; %.2f of the medians", $1, $2, $3, a/b}'
}
echo "  ratio (b)/(a) convert/floor = $(ratio convert floor)   (target <= 1.10)"
echo "  ratio (b)/(c) convert/copy  = $(ratio convert copy)   (target <= 1.5)"
echo "  ratio (b')/(a) buffered/floor = $(ratio buffered floor)"
[ -n "$BASELINE" ] && echo "  ratio (b)/(b0) convert/baseline = $(ratio convert baseline)   (before/after: <= 1 is no slower)"
[ -n "$DECODE" ] && echo "  ratio (d)/(b) decode/convert = $(ratio decode convert)   (what --decode costs here)"
[ "$ROUNDS_ONLY" = 1 ] && exit 0

# ---- where the converter's time goes: its own summary (CPU per stage), -j 2 and -j 1 -------------
# (The default, one worker per core, is -j $(nproc) here.)
for jobs in 2 1; do
    echo
    say "one more conversion, -j $jobs (default here: -j $(nproc)), not quiet (its summary), under /usr/bin/time -v"
    settle "$PACK"
    /usr/bin/time -v "$IMGPACK" convert --train "$TRAIN" -o "$PACK" -f -j "$jobs" 2>"$WORK/time.txt" |
        grep -E '^wrote|throughput|cpu:' || true
    grep -E 'Elapsed|User time|System time|Percent of CPU|Maximum resident' "$WORK/time.txt" | sed 's/^\s*/  time: /'
done

# ---- write size: what it costs to write, and what it gives a reader's fresh mapping -------------
# The size of the write() calls decides the size of the page-cache folios the written pages land
# in (ext4 has large folios since Linux 6.16), and reading a record through a new mapping takes a
# page fault per folio, so small folios make such reads slower. The pack left by the -j 1 run
# above sits in the page cache as the converter wrote it. Each copy of it below holds the same
# bytes, written another way, timed with its fdatasync like the rounds above: cp; dd with write
# sizes from 4 KiB to 8 MiB; dd bs=8M again without the wait, into the memory the previous copy's
# 2 MiB folios just freed; dd with O_DIRECT (no page cache; read back once, so readahead fills
# it). Then random ~105 KB record reads through a fresh mapping of the copy and of the
# converter's pack, alternating, and (root only) the copy's folio sizes from /proc/kpageflags.
echo
say "write size: copies of the pack written different ways; random ~105 KB record reads on a fresh mapping"
# The converter writes its blobs with O_DIRECT, so they are not in the page cache after it: read
# the pack once, as a first reader would, so that readahead fills the cache (a no-op for pages
# already there). Its folio sizes below are what a later reader's mapping meets.
cat "$PACK" >/dev/null
"$PACK_BENCH" folios "$PACK" | sed 's/^/  /'
printf '  %-24s %7s %7s %6s   %-33s %s\n' "copy written by" "wall s" "sys s" "MB/s" "fresh-mapping read, us/read" "fault cost, us/read"
for how in cp "dd bs=4k" "dd bs=64k" "dd bs=256k" "dd bs=1M" "dd bs=8M" "dd bs=8M, no wait" "dd bs=8M oflag=direct"; do
    if [ "$how" = "dd bs=8M, no wait" ]; then
        rm -f "$COPY_PACK"  # the bs=8M copy just made: its 2 MiB folios are freed and reused at once
        sync
    else
        settle "$COPY_PACK"
    fi
    case $how in
        cp) { time { cp "$PACK" "$COPY_PACK" && sync --data "$COPY_PACK"; } 2>&3; } 3>&2 2>"$WORK/time.txt" ;;
        *) flags=${how#dd }; flags=${flags%, no wait}
           { time dd if="$PACK" of="$COPY_PACK" $flags conv=fdatasync status=none 2>&3; } 3>&2 2>"$WORK/time.txt" ;;
    esac
    read -r wall user sys <"$WORK/time.txt"
    # O_DIRECT writes leave nothing in the page cache: read the copy once (readahead fills the
    # cache) so that the fresh-mapping reads below measure the folios a later reader gets.
    [[ $how == *direct* ]] && cat "$COPY_PACK" >/dev/null
    # Lines "file fresh min max mapped fault resident%", the copy's and the converter's pack's.
    "$PACK_BENCH" fresh-read "$COPY_PACK" "$PACK" --reads 2000 --rounds 7 --tsv >"$WORK/fresh.txt"
    read -r _ c_fresh c_lo c_hi _ c_fault _ < <(sed -n 1p "$WORK/fresh.txt")
    read -r _ p_fresh _ _ _ p_fault _ < <(sed -n 2p "$WORK/fresh.txt")
    printf '  %-24s %7.2f %7.2f %6.0f   %6.2f [%.2f..%.2f] (pack %.2f)   %5.2f (pack %.2f)\n' "$how" "$wall" "$sys" \
        "$(awk -v b="${BYTES[convert]}" -v w="$wall" 'BEGIN {print b/w/1e6}')" "$c_fresh" "$c_lo" "$c_hi" "$p_fresh" \
        "$c_fault" "$p_fault"
    "$PACK_BENCH" folios "$COPY_PACK" | sed "s|^$COPY_PACK: [0-9.]* MiB, bytes by page-cache folio size:|      folios:|"
done
