#!/usr/bin/env bash
# ./dev bench loader [ARGS]: the loader's decode side on photographs (docs/performance.md).
# Cuts ImageNet-like JPEGs from the photographs of three Debian wallpaper packages (installed by
# ./dev's setup) into build/bench-data/loader/, packs them with the CLI, then runs
# build/bench/imgpack_bench_loader on the pack, passing it ARGS (e.g. --rounds 9, --no-python).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=build/bench-data/loader
COUNT=${IMGPACK_LOADER_IMAGES:-3000}
# The photographs among the packages' pictures (the others are drawings and abstract art).
PHOTOS=(
    /usr/share/backgrounds/mate/nature/{Aqua,Blinds,Dune,FreshFlower,Garden,GreenMeadow,LadyBird,RainDrops,Storm,TwoWings,Wood,YellowFlower}.jpg
    /usr/share/backgrounds/{Bridge_by_Sander_Klootwijk,Dragonfly_by_Bolly,Picture_0B_by_freespace,Picture_1A_by_freespace}.jpg
    /usr/share/backgrounds/{Wine_by_Jakkub_Mede,aitzgorri_by_Aitzol_Berasategi,free_by_Peter_Nerlich}.jpg
    /usr/share/backgrounds/{friends_by_Aitzol_Berasategi,greentock_by_Peter_Nerlich,life_by_Aitzol_Berasategi}.jpg
    /usr/share/backgrounds/{picosdeeuropa_by_Aitzol_Berasategi,seeding_by_Clements_Engelhardt}.jpg
    /usr/share/backgrounds/{sunset_by_Aitzol_Berasategi,Kleiber_by_Lukas_Baubkus}.jpg
)
for p in "${PHOTOS[@]}"; do
    [ -f "$p" ] || { echo "bench/loader_bench.sh: $p is missing (./dev setup installs the wallpaper packages)" >&2; exit 1; }
done
PACK=$DATA/photos-$COUNT.imgpack
if [ ! -f "$PACK" ]; then
    rm -rf "$DATA/train"
    mkdir -p "$DATA"
    build/bench/imgpack_bench_loader cut "$DATA/train" "$COUNT" 1 "${PHOTOS[@]}"
    build/imgpack convert --train "$DATA/train" -o "$PACK.tmp" -q -f
    mv "$PACK.tmp" "$PACK"
    rm -rf "$DATA/train"
fi
echo "machine load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
build/bench/imgpack_bench_loader run "$PACK" "$@"
echo "machine load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
