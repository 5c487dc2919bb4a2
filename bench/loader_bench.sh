#!/usr/bin/env bash
# ./dev bench loader [ARGS]: the loader's decode side on photographs (docs/performance.md).
# Cuts ImageNet-like JPEGs from the photographs of three Debian wallpaper packages (installed by
# ./dev's setup) into build/bench-data/loader/, packs them with the CLI, then runs
# build/bench/imgpack_bench_loader on the pack, passing it ARGS (e.g. --rounds 9, --no-python).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=$(bench/photo_pack.sh)  # the photographs cut and packed once, kept in build/bench-data/loader/
echo "machine load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"
build/bench/imgpack_bench_loader run "$PACK" "$@"
echo "machine load after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
