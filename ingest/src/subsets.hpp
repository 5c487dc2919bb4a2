// Named subsets of the train split: SimCLR-style lists of file names, and label-balanced
// random fractions (the rule TFDS's imagenet2012_subset documents: every class gets the same
// number of images, some classes one more).
#pragma once

#include <imgpack/pack_writer.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imgpack {

// The indices in `train` (sorted by name) of `names`, the lines of `list` (read by read_lines).
// A listed name that is not in the split is an error naming the first few, unless
// `allow_missing`, when it is left out and reported in `missing`.
SubsetDef subset_from_list(const std::string& name, const std::filesystem::path& list, const std::vector<std::string>& names,
                           const std::vector<RecordDef>& train, bool allow_missing, std::vector<std::string>& missing);

// round(fraction x train size) records, the same number from every class that has records
// (some classes, drawn at random, one more), drawn at random within each class. The same
// seed gives the same subset. Throws when a class has too few records.
SubsetDef balanced_subset(const std::string& name, double fraction, uint64_t seed, const std::vector<RecordDef>& train,
                          const std::vector<ClassDef>& classes);

}  // namespace imgpack
