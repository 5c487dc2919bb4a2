// What an export takes from its source: the records of each output split (a split, or a subset
// of one, optionally one shard of it), the source subsets that come along re-indexed, and those
// that do not. Decided from the metadata alone, before any output exists.
#pragma once

#include <imgpack/export.hpp>
#include <imgpack/reader.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace imgpack::exporting {

struct SplitSelection {
    Split source;                   // the source split
    std::string subset;             // the source subset it was made from; empty: the whole split
    std::vector<uint32_t> indices;  // source record indices, increasing (so sorted by name)
};

struct CarriedSubset {
    Subset source;
    std::vector<uint32_t> indices;  // into the output split
};

struct Selection {
    std::vector<SplitSelection> splits;  // in the source's split order
    std::vector<CarriedSubset> carried;  // in the source's subset order
    std::vector<std::string> dropped;    // "subset 'NAME' of split 'S': why"
};

// Throws std::runtime_error naming the source and the problem: an unknown split or subset (with
// the names the source has), a subset of another split than the one named, a split named twice,
// a named selection with no record, or a shard that holds no record at all.
Selection select(const Pack& source, const ExportOptions& options);

// The positions (into `labels`, one per record of a split in name order) of shard `index` of
// `count`, increasing. Records are ordered by label (unlabeled last), then by the XXH3-64 of
// their file name, then by name, and dealt out in turn: the i-th goes to shard i mod count. Each
// record so goes to exactly one shard, the shards' sizes differ by at most one, and so do the
// sizes of any one class's parts. The result depends only on the names, the labels and `count`.
std::vector<uint32_t> shard_positions(const std::vector<std::string_view>& names, const std::vector<int32_t>& labels,
                                      uint32_t index, uint32_t count);

}  // namespace imgpack::exporting
