#!/usr/bin/env bash
# ./dev bench python [ARGS]: imgpack.torch.Loader vs torchvision's ImageFolder + DataLoader vs
# ImageNetDataset in that DataLoader vs the C++ `imgpack throughput`, on the loader benchmark's
# photographs (bench/photo_pack.sh), their train split extracted once as files for ImageFolder.
# ARGS go to bench/python_bench.py (e.g. --rounds 7, --batch 128). docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=$(bench/photo_pack.sh)
FILES=build/bench-data/python/$(basename "$PACK" .imgpack)-files
if [ ! -d "$FILES" ]; then
    rm -rf "$FILES.tmp"
    build/imgpack extract "$PACK" --split train -o "$FILES.tmp" >/dev/null
    mv "$FILES.tmp" "$FILES"
fi
PYTHONPATH=build/python /usr/bin/python3 bench/python_bench.py --pack "$PACK" --files "$FILES" --cli build/imgpack "$@"
