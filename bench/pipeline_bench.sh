#!/usr/bin/env bash
# bench/pipeline_bench.sh: the loader's pipeline on a pack of photographs, every figure from
# `imgpack throughput --json` runs alternated round by round in one run. The loader side of
# `./dev bench loader`; docs/performance.md ("The loader") explains the method and the figures.
#   1. scaling: the train transform on 1 thread and on 2 threads, alternated (target: 2 threads
#      >= 1.8x 1 thread), --seconds each; images/s and images per CPU second.
#   2. cold vs warm page cache, with and without WILLNEED readahead: one epoch each on 2 threads,
#      four runs per round in rotating order; a cold run first drops the pack's pages from the
#      page cache (posix_fadvise DONTNEED: this file only, no privileges; the run reports how much
#      was cached before and after). Transform `none` (full decode, the least CPU per byte read)
#      and the train transform.
#   3. sparse cold reads: every K-th record only (--every K), cold, readahead on and off: records
#      far apart, as every record is in an epoch over a pack larger than memory (the pages around
#      a record are evicted before their own turn comes). The bytes read from storage per record
#      show what a page fault's read-around (the device's read_ahead_kb) costs there. Run on a
#      pack of 8 copies of PACK's split (made once next to PACK, hard links and `imgpack convert`),
#      so that K-th records lie further apart than one read-around.
#   4. resident memory over epochs: RssAnon after the first batch vs at the end and at peak, and
#      /usr/bin/time -v's maximum resident set (which also counts the pack's mapped pages).
# Reported as median [min..max] over the rounds; ratios are taken within a round, then summarised.
#
#   bench/pipeline_bench.sh --pack PACK [--split S] [--build DIR] [--rounds N] [--seconds T]
#                           [--epochs E] [--batch B] [--every K]
set -euo pipefail

BUILD=build
PACK=""
SPLIT=train
ROUNDS=5
SECONDS_EACH=8
EPOCHS=3
BATCH=64
EVERY=40

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --pack) PACK=$2; shift 2 ;;
        --split) SPLIT=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --seconds) SECONDS_EACH=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --batch) BATCH=$2; shift 2 ;;
        --every) EVERY=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "pipeline_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$PACK" ] || { echo "pipeline_bench.sh: --pack PACK is required" >&2; usage >&2; exit 2; }
IMGPACK=$BUILD/imgpack
[ -x "$IMGPACK" ] || { echo "pipeline_bench.sh: $IMGPACK is missing: build first (./dev build)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "pipeline_bench.sh: needs GNU time (./dev bench installs it)" >&2; exit 1; }

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
RESULTS=$(mktemp)
trap 'rm -f "$RESULTS"' EXIT

# record LABEL ROUND ARGS...: one throughput run, its JSON tagged with label and round.
record() {
    local label=$1 round=$2; shift 2
    local json
    json=$("$IMGPACK" throughput "$PACK" --split "$SPLIT" --batch "$BATCH" --json "$@")
    printf '{"label":"%s","round":%d,"result":%s}\n' "$label" "$round" "$json" >> "$RESULTS"
}

say "load before: $(uptime | sed 's/.*load average/load average/')"
"$IMGPACK" info "$PACK" | sed -n 1,3p

say "1/4 scaling: train transform, 1 vs 2 threads, ${SECONDS_EACH}s each, $ROUNDS rounds"
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then order="1 2"; else order="2 1"; fi
    for j in $order; do record "train_j$j" "$r" --transform train -j "$j" --seconds "$SECONDS_EACH"; done
done

say "2/4 cold vs warm page cache, WILLNEED readahead on and off: one epoch each, 2 threads, $ROUNDS rounds"
configs=("warm_ra" "cold_ra" "warm_nora" "cold_nora")
for transform in none train; do
    for ((r = 0; r < ROUNDS; r++)); do
        for ((k = 0; k < 4; k++)); do
            c=${configs[$(((k + r) % 4))]}
            args=(--transform "$transform" -j 2 --epochs 1)
            [[ $c == cold_* ]] && args+=(--cold)
            [[ $c == *_nora ]] && args+=(--readahead 0)
            [[ $c == warm_* ]] && cat "$PACK" > /dev/null  # warm: the whole pack in the page cache
            record "${transform}_$c" "$r" "${args[@]}"
        done
    done
done

BIG=${PACK%.imgpack}-x8.imgpack
if [ ! -f "$BIG" ]; then
    say "making $BIG: 8 copies of every record of $PACK's split '$SPLIT' (hard links, then imgpack convert)"
    TREE=$(mktemp -d "$(dirname "$PACK")/x8.XXXXXX")
    "$IMGPACK" extract "$PACK" --split "$SPLIT" -o "$TREE/one" -q
    for dir in "$TREE"/one/*/; do
        wnid=$(basename "$dir")
        mkdir -p "$TREE/train/$wnid"
        for f in "$dir"*.JPEG; do
            name=$(basename "$f" .JPEG)
            for c in 0 1 2 3 4 5 6 7; do ln "$f" "$TREE/train/$wnid/${wnid}_${c}${name##*_}.JPEG"; done
        done
    done
    "$IMGPACK" convert --train "$TREE/train" -o "$BIG.tmp" -q -f
    mv "$BIG.tmp" "$BIG"
    rm -rf "$TREE"
fi
say "3/4 sparse cold reads: every ${EVERY}th record of $BIG, transform none, 2 threads, $ROUNDS rounds"
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2 == 0)); then order="4 0"; else order="0 4"; fi
    for ra in $order; do
        json=$("$IMGPACK" throughput "$BIG" --split train --batch "$BATCH" --json --transform none -j 2 --epochs 1 \
               --cold --every "$EVERY" --readahead "$ra")
        printf '{"label":"sparse_ra%d","round":%d,"result":%s}\n' "$ra" "$r" "$json" >> "$RESULTS"
    done
done

say "4/4 resident memory: train transform, $EPOCHS epochs, 2 threads"
TIME_LOG=$(mktemp)
"$IMGPACK" throughput "$PACK" --split "$SPLIT" --batch "$BATCH" --transform train -j 2 --epochs "$EPOCHS" --json \
    > "$TIME_LOG.json" 2> /dev/null
/usr/bin/time -v "$IMGPACK" throughput "$PACK" --split "$SPLIT" --batch "$BATCH" --transform train -j 2 \
    --epochs 1 --json > /dev/null 2> "$TIME_LOG"
MAX_RSS_KIB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TIME_LOG")
printf '{"label":"rss","round":0,"result":%s,"time_max_rss_kib":%s}\n' "$(cat "$TIME_LOG.json")" "$MAX_RSS_KIB" >> "$RESULTS"
rm -f "$TIME_LOG" "$TIME_LOG.json"
say "load after: $(uptime | sed 's/.*load average/load average/')"

/usr/bin/python3 - "$RESULTS" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["label"], {})[r["round"]] = r["result"]

def spread(values, fmt="{:.0f}"):
    return (fmt + " [" + fmt + ".." + fmt + "]").format(statistics.median(values), min(values), max(values))

def figure(label, key="images_per_s"):
    return spread([v[key] for v in by[label].values()])

def ratio(a, b, key="images_per_s"):
    rounds = sorted(set(by[a]) & set(by[b]))
    return spread([by[a][r][key] / by[b][r][key] for r in rounds], "{:.2f}")

print("\nscaling (train transform): images/s, median [min..max]")
for j in (1, 2):
    print(f"  {j} thread(s): {figure(f'train_j{j}')} images/s; {figure(f'train_j{j}', 'images_per_cpu_s')} per CPU second")
print(f"  2 threads / 1 thread, same round: {ratio('train_j2', 'train_j1')}   (target >= 1.8)")
print(f"  per CPU second, 2 / 1:            {ratio('train_j2', 'train_j1', 'images_per_cpu_s')}")

for t in ("none", "train"):
    if f"{t}_warm_ra" not in by: continue
    print(f"\npage cache, transform {t}, one epoch on 2 threads: images/s, median [min..max]")
    for c in ("warm_ra", "warm_nora", "cold_ra", "cold_nora"):
        cached = [v.get("cached_after_evict", -1) for v in by[f"{t}_{c}"].values()]
        note = f"  (cached after eviction: max {max(cached):.1%})" if c.startswith("cold") else ""
        print(f"  {c:10s} {figure(f'{t}_{c}')}{note}")
    print(f"  cold / warm, readahead on:   {ratio(f'{t}_cold_ra', f'{t}_warm_ra')}")
    print(f"  cold / warm, readahead off:  {ratio(f'{t}_cold_nora', f'{t}_warm_nora')}")
    print(f"  cold: readahead on / off:    {ratio(f'{t}_cold_ra', f'{t}_cold_nora')}")

if "sparse_ra4" in by:
    print("\nsparse cold reads (every K-th record), transform none, 2 threads, median [min..max]:")
    for ra, name in ((4, "readahead on "), (0, "readahead off")):
        rs = list(by[f"sparse_ra{ra}"].values())
        per = [v["storage_read_bytes"] / v["images"] / 1024 for v in rs]
        print(f"  {name}: {figure(f'sparse_ra{ra}')} images/s, {spread(per)} KiB read from storage per image")
    print(f"  readahead on / off, same round: {ratio('sparse_ra4', 'sparse_ra0')}")

r = runs[-1]
res = r["result"]
a = res["rss_anon_kib"]
print(f"\nresident memory, train transform, {res['epochs']} epochs ({res['images']} images, batch {res['batch']}):")
print(f"  RssAnon: {a['before']/1024:.1f} MiB with the loader built, {a['first_batch']/1024:.1f} after the first batch, "
      f"{a['last']/1024:.1f} at the end, peak {a['peak']/1024:.1f} (growth after the first batch: "
      f"{(a['peak'] - a['first_batch'])/1024:.1f} MiB)")
print(f"  pack pages mapped (RssFile, reclaimable): peak {res['rss_file_kib']['peak']/1024:.1f} MiB; "
      f"/usr/bin/time -v maximum resident, one epoch: {r['time_max_rss_kib']/1024:.1f} MiB")
PY
