// The label-balanced random subset of a split (the rule TFDS's imagenet2012_subset documents:
// every class gets the same number of records, some classes one more). `imgpack convert` draws
// it on train, `imgpack export` on an exported split: one definition, so that a
// `balanced:fraction=F,seed=S` origin means the same records wherever it was drawn.
#pragma once

#include <imgpack/pack_writer.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace imgpack {

// The names convert and export give the subsets they make: 1-64 characters from [A-Za-z0-9_.-].
// (A tool rule, not a format rule: FORMAT.md allows any name.)
bool valid_subset_name(const std::string& name);

// A subset `name` of split `split` (its records sorted by name, labels indexing `classes`):
// round(fraction x records) records, the same number from every class that has records (some
// classes, drawn at random, one more), drawn at random within each class with SplitMix64 seeded
// by `seed`; unlabeled records are never drawn. The origin is
// "balanced:fraction=<%.17g>,seed=<seed>" (FORMAT.md §4.6). Throws std::runtime_error for a
// fraction outside (0, 1], a split without labeled records, or a class with too few records.
SubsetDef balanced_subset(const std::string& name, const std::string& split, double fraction, uint64_t seed,
                          const std::vector<RecordDef>& records, const std::vector<ClassDef>& classes);

}  // namespace imgpack
