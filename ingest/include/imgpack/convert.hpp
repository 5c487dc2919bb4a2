// imgpack convert: ImageNet's tarballs and label lists in, one pack out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace imgpack {

// Where a conversion stands, reported now and then (about ten times a second) and once at the
// end of each source.
struct Progress {
    std::string split;
    uint64_t images = 0;         // of this split so far
    uint64_t image_bytes = 0;
    uint64_t source_done = 0;    // bytes of the source read
    uint64_t source_total = 0;   // its size; 0 when unknown (a folder)
    double seconds = 0;          // since this source started
    bool done = false;           // the source is finished
};

// A named subset of train: a SimCLR list of file names, or (list empty) a label-balanced
// random fraction of the train split.
struct SubsetRequest {
    std::string name;
    std::filesystem::path list;
    double fraction = 0;
};

struct ConvertOptions {
    // Each split's source is a tar or an extracted folder; empty: no such split.
    std::filesystem::path train;       // tar of per-class <WNID>.tar, or a folder train/<WNID>/*.JPEG
    std::filesystem::path val;         // flat tar, flat folder, or a folder val/<WNID>/*.JPEG (labeled)
    // Validation labels, any of: TFDS's list (one WNID per line, sorted val file order), the
    // ILSVRC2012 devkit (.tar.gz or folder: ground truth + meta.mat), Kaggle's
    // LOC_val_solution.csv; told apart by content.
    std::filesystem::path val_labels;
    std::filesystem::path class_names; // synset_words.txt, LOC_synset_mapping.txt or the devkit
    std::filesystem::path test;        // flat tar or folder of test JPEGs (unlabeled)
    std::filesystem::path test_patch;  // the October 2019 patch tar: its images replace same-named ones
    bool test_patch_adds = false;      // a patch image that replaces no test image is added (else an error)
    std::filesystem::path classes;     // the class list, one WNID per line, in label order
    std::vector<SubsetRequest> subsets;
    bool allow_missing = false;        // a subset list may name files not in train (left out)
    // An empty split, test patch or subset (a source or list holding no images, a fraction that
    // rounds to 0 records) is an error unless this is set.
    bool allow_empty = false;
    uint64_t seed = 0;                 // for generated subsets
    std::filesystem::path output;
    // What to do with an input entry that cannot be packed (not a JPEG/PNG, empty, a link or a
    // directory, a name that breaks its split's naming rule, a duplicate name): stop with an
    // error naming it, or leave it out and record it (ConvertSummary::skipped and the pack).
    enum class OnBadImage { fail, skip } on_bad_image = OnBadImage::fail;
    // Re-encode ImageNet's quirks (CMYK/YCCK JPEGs, PNGs named .JPEG) as RGB JPEGs, as TFDS does;
    // false keeps the original bytes (and lists them as needing repair).
    bool repair = true;
    // Decode every image whole while converting (the header alone is checked otherwise): one that
    // does not decode cleanly (cut short, damaged data: any libjpeg error or warning) is a bad
    // entry. Costs a decode per image (docs/performance.md).
    bool decode = false;
    // An input file larger than this is a bad entry, found from its tar header (or stat) before
    // any memory is allocated for it. 1..UINT32_MAX (a record's size is a u32).
    uint64_t max_image_bytes = uint64_t{64} << 20;
    // Worker threads; 0: one per core. More than kMaxJobs, or 4 per core, is clamped (with a note).
    unsigned jobs = 0;
    bool overwrite = false;
    std::function<void(const std::string&)> log;  // notes for the user; may be empty
    std::function<void(const Progress&)> progress;  // may be empty
};

inline constexpr unsigned kMaxJobs = 256;

struct SplitSummary {
    std::string name;
    uint64_t records = 0;
    uint64_t bytes = 0;
};

// Where the time went, for `./dev bench convert` and the curious. CPU seconds per stage; the
// worker stages are timed inside the workers (wall time of pure computation), the threads'
// totals with their CPU clocks.
struct StageTimes {
    double reading = 0;    // the reading thread: libarchive (and decompression), copying entries out
    double hashing = 0;    // XXH3 of every image (workers)
    double parsing = 0;    // image header parsing (workers)
    double repairing = 0;  // re-encoding the quirks (workers)
    double decoding = 0;   // --decode: decoding every image whole (workers)
    double workers = 0;    // the workers' total CPU
    double writing = 0;    // the writing thread: blobs into the output, in order
    double finishing = 0;  // wall time of metadata, fsync and rename at the end
};

struct ConvertSummary {
    std::vector<SplitSummary> splits;
    std::vector<std::pair<std::string, uint64_t>> subsets;  // name, record count
    size_t classes = 0;
    std::vector<std::string> repaired;      // "split/name (what was done)", in input order
    std::vector<std::string> needs_repair;  // with repair off: "split/name (codec, colour space)"
    std::vector<std::string> skipped;       // "<archive>: <member>: <reason>", in input order
    std::vector<std::string> left_out;      // with allow_missing: "subset '<name>': <listed name>" not in train
    std::vector<std::string> notes;         // what was inferred or patched, for the user
    uint64_t patched = 0;                   // test images replaced by the patch
    std::vector<std::string> patch_added;   // with test_patch_adds: patch images that replaced nothing
    unsigned jobs = 0;                      // worker threads used
    uint64_t pack_bytes = 0;
    double seconds = 0;
    StageTimes times;
};

// Throws std::runtime_error naming the archive and entry (or list and line) on bad input, and
// on failures to start a thread or to allocate memory; the destination is then left untouched
// and the temporary file removed.
ConvertSummary convert(const ConvertOptions& options);

}  // namespace imgpack
