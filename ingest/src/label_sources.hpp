// Where ImageNet validation labels and class names come from, in every shape users have them:
//   - TFDS's imagenet2012_validation_labels.txt: one WNID per line, in sorted val file-name order;
//   - the official ILSVRC2012 devkit (ILSVRC2012_devkit_t12.tar.gz, read in-stream, or its
//     extracted directory): data/ILSVRC2012_validation_ground_truth.txt holds ILSVRC2012_IDs
//     (1..1000) by line, and data/meta.mat maps them to WNIDs and names;
//   - Kaggle's LOC_val_solution.csv: "ImageId,PredictionString" rows in no particular order, the
//     label being the first WNID of the PredictionString;
//   - class names: synset_words.txt / LOC_synset_mapping.txt ("WNID words" per line), or the devkit.
// Every reader throws std::runtime_error naming the file (and line or entry) on bad input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace imgpack {

// "n" followed by 8 digits, e.g. n01440764.
bool looks_like_wnid(std::string_view s);

// --- the devkit -----------------------------------------------------------------------------

struct Synset {
    int id = 0;          // ILSVRC2012_ID
    std::string wnid;
    std::string words;   // e.g. "kit fox, Vulpes macrotis"
};

// The leaf synsets of meta.mat (num_children == 0): leaves[i] has ILSVRC2012_ID i + 1. For
// ILSVRC2012 there are 1000. Their IDs must be exactly 1..N and their WNIDs unique.
struct DevkitMeta {
    std::vector<Synset> leaves;
    const Synset& by_id(int id) const;  // throws for an ID outside 1..leaves.size()
};

DevkitMeta parse_devkit_meta(std::span<const unsigned char> meta_mat, const std::string& source);
DevkitMeta read_devkit_meta(const std::filesystem::path& meta_mat);

// ILSVRC2012_validation_ground_truth.txt: one ILSVRC2012_ID per line, each in 1..max_id.
std::vector<int> parse_devkit_ground_truth(std::string_view text, const std::string& source, int max_id);

struct Devkit {
    DevkitMeta meta;
    std::vector<int> val_ids;  // ILSVRC2012_IDs in sorted val order; empty when the devkit lacks the file
    bool has_val_ground_truth = false;
    std::string source;        // e.g. "ILSVRC2012_devkit_t12.tar.gz" or the directory
    std::vector<std::string> val_wnids() const;  // val_ids mapped through meta (throws without them)
};

// `path` is the devkit archive (any tar libarchive reads, gzip-compressed or not) or an extracted
// devkit directory (the ILSVRC2012_devkit_t12 folder, its data/ folder, or the folder holding
// ILSVRC2012_devkit_t12/). Finds data/meta.mat and data/ILSVRC2012_validation_ground_truth.txt;
// meta.mat is required, the ground truth only when `need_ground_truth`.
Devkit read_devkit(const std::filesystem::path& path, bool need_ground_truth = true);

// --- Kaggle ---------------------------------------------------------------------------------

// LOC_val_solution.csv -> ImageId (file stem, e.g. ILSVRC2012_val_00008726) -> WNID (the first
// token of its PredictionString). Duplicate ImageIds and malformed rows are errors.
std::map<std::string, std::string> read_kaggle_val_solution(const std::filesystem::path& csv);
std::map<std::string, std::string> parse_kaggle_val_solution(std::string_view text, const std::string& source);

// The WNIDs of `sorted_val_names` (file names such as ILSVRC2012_val_00000001.JPEG, matched by
// stem) in that order. Throws naming `source` when a val file has no entry or when entries name
// files that are not in the list.
std::vector<std::string> wnids_in_name_order(const std::map<std::string, std::string>& wnid_by_stem,
                                             const std::vector<std::string>& sorted_val_names,
                                             const std::string& source);

// --- class names ----------------------------------------------------------------------------

// WNID -> human-readable name. `path` is synset_words.txt / LOC_synset_mapping.txt ("WNID words"
// per line), the devkit (archive or directory) or meta.mat itself.
std::map<std::string, std::string> read_class_names(const std::filesystem::path& path);
std::map<std::string, std::string> parse_synset_words(std::string_view text, const std::string& source);

// --- validation labels from whichever source the user has ------------------------------------

enum class ValLabelKind {
    TfdsList,            // one WNID per line
    DevkitArchive,       // ILSVRC2012_devkit_t12.tar.gz
    DevkitDirectory,     // its extracted directory
    KaggleCsv,           // LOC_val_solution.csv
    DevkitGroundTruth,   // ILSVRC2012_validation_ground_truth.txt alone (IDs need meta.mat)
};

struct ValLabelSource {
    ValLabelKind kind = ValLabelKind::TfdsList;
    std::filesystem::path path;
    std::filesystem::path meta_mat;  // DevkitGroundTruth: a meta.mat found beside it, if any
    std::string description;         // e.g. "TFDS validation labels file (one WNID per line)"
};

// Tells by content what `path` is. Throws for a path that is none of the kinds, naming what was
// expected.
ValLabelSource detect_val_labels(const std::filesystem::path& path);

// The WNIDs of the validation files `sorted_val_names` (sorted file names), from any source:
// TFDS and the devkit by line (the counts must match), Kaggle by name. A bare ground-truth file
// needs meta.mat: the one beside it (as in an extracted devkit), or `devkit` (archive,
// directory or meta.mat); without either it is an error asking for the devkit.
std::vector<std::string> load_val_labels(const ValLabelSource& source, const std::vector<std::string>& sorted_val_names,
                                         const std::filesystem::path& devkit = {});
std::vector<std::string> load_val_labels(const std::filesystem::path& path, const std::vector<std::string>& sorted_val_names,
                                         const std::filesystem::path& devkit = {});

}  // namespace imgpack
