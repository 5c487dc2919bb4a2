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

// --- the class list --------------------------------------------------------------------------

// --classes: one WNID per line, in label order, each once; an empty list is an error.
std::vector<std::string> read_class_list(const std::filesystem::path& file);

// --- validation labels from whichever source the user has ------------------------------------

enum class ValLabelKind {
    TfdsList,            // one WNID per line
    DevkitArchive,       // ILSVRC2012_devkit_t12.tar.gz
    DevkitDirectory,     // its extracted directory
    KaggleCsv,           // LOC_val_solution.csv
    DevkitGroundTruth,   // ILSVRC2012_validation_ground_truth.txt with the devkit's meta.mat beside it
};

// Validation labels read whole and checked before any image is read (a mistake in them is found
// before the archives are streamed); matched to the validation files once those are known.
struct ValLabels {
    ValLabelKind kind = ValLabelKind::TfdsList;
    std::filesystem::path path;
    std::filesystem::path meta_mat;  // DevkitGroundTruth: the meta.mat beside it
    std::string description;         // e.g. "TFDS validation labels file (one WNID per line)"
    // TFDS and the devkit: the WNID of the i-th validation file in sorted name order, from line
    // i + 1 of `lines_of` (the TFDS list, or the devkit's ground truth file).
    std::vector<std::string> by_position;
    std::string lines_of;
    // Kaggle: file stem -> WNID.
    std::map<std::string, std::string> by_stem;

    // The WNIDs of `sorted_val_names` (file names such as ILSVRC2012_val_00000001.JPEG), in that
    // order. Throws naming the labels when they do not match the files one to one.
    std::vector<std::string> for_files(const std::vector<std::string>& sorted_val_names) const;
    // Throws naming the line (or row) of the first label whose class `known` refuses;
    // `class_list` says which list, for the message.
    template <class Known>
    void require_classes(Known&& known, const std::string& class_list) const {
        for (size_t i = 0; i < by_position.size(); ++i)
            if (!known(by_position[i])) unknown_class(lines_of + " line " + std::to_string(i + 1), by_position[i], class_list);
        for (const auto& [stem, wnid] : by_stem)
            if (!known(wnid)) unknown_class(path.string() + ": the row for " + stem, wnid, class_list);
    }

private:
    [[noreturn]] static void unknown_class(const std::string& where, const std::string& wnid, const std::string& class_list);
};

// Reads `path` once and tells by content which kind it is: the TFDS list, the devkit (archive
// or extracted directory), Kaggle's CSV, or the devkit's ground truth file with meta.mat beside
// it. Throws naming the file (and line) when it is none of them or is malformed.
ValLabels read_val_labels(const std::filesystem::path& path);

}  // namespace imgpack
