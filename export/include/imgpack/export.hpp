// imgpack export: a standalone pack of chosen splits, subsets and shards of another pack, for
// shipping to the nodes that train on it. The image bytes are copied as stored (never
// re-encoded), each checked against its XXH3-64 as it is copied, and the output is written as
// the converter writes (PackWriter: a temporary file beside it, fsync, rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace imgpack {

// One split of the output: the source's split `name`, whole, or only the records of `subset`
// (a subset of that split).
struct ExportSplit {
    std::string name;
    std::string subset;  // empty: the whole split
};

// Part `index` of `count` (0 <= index < count): each exported split is cut into `count`
// disjoint, label-balanced parts (docs/export.md "Shards").
struct ExportShard {
    uint32_t index = 0;
    uint32_t count = 1;
};

// A label-balanced random subset drawn from the exported train split, as convert draws one.
struct ExportDraw {
    std::string name;
    double fraction = 0;
};

struct ExportOptions {
    std::filesystem::path source;
    std::filesystem::path output;
    std::vector<ExportSplit> splits;   // in any order; empty: every split of the source, whole
    std::optional<ExportShard> shard;  // none: each split whole
    std::vector<ExportDraw> draws;     // drawn after the shard is taken, from its train split
    uint64_t seed = 0;                 // for the draws
    bool overwrite = false;            // replace an existing output (never the source)
};

struct ExportSummary {
    struct SplitCount {
        std::string name;
        std::string subset;  // what it was made from: empty, the whole split
        uint64_t records = 0;
        uint64_t bytes = 0;  // image bytes
    };
    struct SubsetCount {
        std::string name, split, origin;
        uint64_t records = 0;
        bool drawn = false;  // drawn at export; otherwise carried from the source, re-indexed
    };
    std::string source_id;  // the source pack's identity (FORMAT.md §5.1)
    std::string id;         // the output's
    std::vector<SplitCount> splits;
    std::vector<SubsetCount> subsets;
    std::vector<std::string> dropped;  // source subsets not carried, each with the reason
    size_t skipped_not_carried = 0;    // entries of the source's skipped section (not carried)
    uint64_t pack_bytes = 0;
    double seconds = 0;
};

// Throws std::runtime_error naming what is wrong (an unknown split or subset, a subset of another
// split, an empty selection, the source as the output, a source that fails validation, a corrupt
// record, a full disk, ...); the output is then left as it was and no temporary file remains.
ExportSummary export_pack(const ExportOptions& options);

}  // namespace imgpack
