// Named subsets of the train split from SimCLR-style lists of file names. (Label-balanced
// random fractions are drawn by the writer's balanced_subset.hpp, which export shares.)
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

}  // namespace imgpack
