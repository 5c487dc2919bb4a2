#!/usr/bin/env bash
# bench/verify_decode_bench.sh: `imgpack verify --decode` against plain `imgpack verify`, side by
# side on one pack of photographs; docs/performance.md ("verify --decode") has the figures.
#
# The pack is the one `./dev bench loader` makes (3,000 JPEGs cut from Debian's wallpapers at
# ImageNet's sizes), read once into the page cache first. Each round runs both, alternating which
# goes first, under /usr/bin/time; reported as median [min..max] of wall, user and system time,
# the per-round wall ratio, and the CPU that decoding adds per image.
#
#   bench/verify_decode_bench.sh [--build DIR] [--pack PACK] [--reps N] [--jobs J]
set -euo pipefail

BUILD=build
PACK=""
REPS=7
JOBS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --pack) PACK=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --jobs) JOBS=(-j "$2"); shift 2 ;;
        *) echo "verify_decode_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
PACK=${PACK:-$BUILD/bench-data/loader/photos-3000.imgpack}
[ -f "$PACK" ] || { echo "verify_decode_bench.sh: $PACK is missing: ./dev bench loader makes it" >&2; exit 1; }
TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
cat "$PACK" > /dev/null
echo "machine load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for ((r = 1; r <= REPS; r++)); do
    if ((r % 2)); then order="plain decode"; else order="decode plain"; fi
    for m in $order; do
        flag=(); [ "$m" = decode ] && flag=(--decode)
        /usr/bin/time -f "$m $r %e %U %S" -a -o "$TIMES" "$BUILD/imgpack" verify "${flag[@]}" "${JOBS[@]}" "$PACK" > /dev/null
    done
done
echo "machine load after: $(cut -d' ' -f1-3 /proc/loadavg)"
RECORDS=$("$BUILD/imgpack" info --json "$PACK" | /usr/bin/python3 -c 'import json,sys; print(sum(s["records"] for s in json.load(sys.stdin)["splits"]))')
/usr/bin/python3 - "$TIMES" "$RECORDS" <<'PY'
import statistics as st, sys
runs = {}
for line in open(sys.argv[1]):
    m, r, wall, user, sys_ = line.split()
    runs.setdefault(m, {})[int(r)] = (float(wall), float(user), float(sys_))
records = int(sys.argv[2])
def show(values, unit=" s", scale=1.0):
    v = [x * scale for x in values]
    return f"{st.median(v):.2f}{unit} [{min(v):.2f}..{max(v):.2f}]"
for m in ("plain", "decode"):
    rs = runs[m].values()
    print(f"verify {'--decode ' if m == 'decode' else '':9} wall {show([x[0] for x in rs])}  user {show([x[1] for x in rs])}  sys {show([x[2] for x in rs])}")
rounds = sorted(runs["plain"])
print("wall ratio decode/plain per round:", show([runs["decode"][r][0] / runs["plain"][r][0] for r in rounds], "x"))
added = [(sum(runs["decode"][r][1:]) - sum(runs["plain"][r][1:])) / records for r in rounds]
print(f"CPU added per image ({records} records):", show(added, " ms", 1000))
PY
