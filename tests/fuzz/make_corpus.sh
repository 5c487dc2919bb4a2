#!/usr/bin/env bash
# Regenerates the fuzz seed corpus (tests/fuzz/corpus/) with the CLI: small packs of tiny
# images covering each kind of section, plus a pack with no records. Deterministic for a given
# imgpack and libjpeg-turbo. Usage: tests/fuzz/make_corpus.sh [IMGPACK_CLI] (default build/imgpack)
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=$(realpath "${1:-build/imgpack}")
OUT=$(pwd)/tests/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tiny=(--min-side 8 --max-side 16 --quality 50)
"$CLI" synth "$work/a" --classes 2 --per-class 3 --val 2 --test 2 --seed 3 "${tiny[@]}" >/dev/null
"$CLI" synth "$work/b" --classes 3 --per-class 2 --val 0 --test 0 --seed 4 "${tiny[@]}" >/dev/null
a=$work/a b=$work/b
mkdir -p "$OUT"
rm -f "$OUT"/*.imgpack

# Every section kind: train (labeled), validation (labeled), test (unlabeled), two subsets.
"$CLI" convert -q -j 1 --train "$a/ILSVRC2012_img_train.tar" --val "$a/ILSVRC2012_img_val.tar" \
    --val-labels "$a/imagenet2012_validation_labels.txt" --test "$a/ILSVRC2012_img_test.tar" \
    --subset 1pct="$a/1percent.txt" --subset 10pct="$a/10percent.txt" -o "$OUT/full.imgpack"
# Train only, with one subset.
"$CLI" convert -q -j 1 --train "$b/ILSVRC2012_img_train.tar" --subset 10pct="$b/10percent.txt" -o "$OUT/train.imgpack"
# Validation without labels (unlabeled, no class table) and test.
"$CLI" convert -q -j 1 --val "$a/ILSVRC2012_img_val.tar" --test "$a/ILSVRC2012_img_test.tar" -o "$OUT/unlabeled.imgpack"
# Validation with labels but no train: the class table comes from the labels file.
"$CLI" convert -q -j 1 --val "$a/ILSVRC2012_img_val.tar" --val-labels "$a/imagenet2012_validation_labels.txt" \
    -o "$OUT/val-labeled.imgpack"
# No records at all: an empty test tar.
tar -cf "$work/empty.tar" --files-from /dev/null
"$CLI" convert -q -j 1 --test "$work/empty.tar" -o "$OUT/empty.imgpack"
# A skipped section: one entry that is not an image, left out with --on-bad-image=skip.
mkdir -p "$work/bad"
tar -xf "$a/ILSVRC2012_img_test.tar" -C "$work/bad"
printf 'not an image' > "$work/bad/ILSVRC2012_test_00000099.JPEG"
tar -cf "$work/bad.tar" -C "$work/bad" .
(cd "$work" && "$CLI" convert -q -j 1 --on-bad-image=skip --test bad.tar -o "$OUT/skipped.imgpack")  # names bad.tar
# A provenance section (1.2): exported from the full pack, a subset as a split, a shard, a carried
# subset and one drawn at export.
"$CLI" export -q "$OUT/full.imgpack" --split train=10pct --split validation --shard 0/1 --subset d=0.5 \
    -o "$OUT/exported.imgpack"
ls -l "$OUT"
du -cb "$OUT"/* | tail -1
