// imgpack convert: ImageNet's tarballs and label lists in, one pack out.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace imgpack {

struct ConvertOptions {
    std::filesystem::path train;       // tar of per-class tars (empty: no train split)
    std::filesystem::path val;         // flat tar of validation JPEGs
    std::filesystem::path val_labels;  // TFDS format: one WNID per line, sorted val file order
    std::filesystem::path test;        // flat tar of test JPEGs (unlabeled)
    std::vector<std::pair<std::string, std::filesystem::path>> subsets;  // name -> SimCLR list
    std::filesystem::path output;
    // What to do with an input entry that cannot be packed (not a JPEG/PNG, empty, a link or a
    // directory, a name that breaks its split's naming rule, a duplicate name): stop with an
    // error naming it, or leave it out and record it (ConvertSummary::skipped and the pack).
    enum class OnBadImage { fail, skip } on_bad_image = OnBadImage::fail;
    unsigned jobs = 0;                 // worker threads; 0: one per core
    bool overwrite = false;
    std::function<void(const std::string&)> log;  // notes for the user; may be empty
};

struct SplitSummary {
    std::string name;
    uint64_t records = 0;
    uint64_t bytes = 0;
};

struct ConvertSummary {
    std::vector<SplitSummary> splits;
    std::vector<std::pair<std::string, uint64_t>> subsets;  // name, record count
    size_t classes = 0;
    std::vector<std::string> needs_repair;  // "split/name (reason)": CMYK JPEGs, non-JPEGs
    std::vector<std::string> skipped;       // "<archive>: <member>: <reason>", in input order
    uint64_t pack_bytes = 0;
    double seconds = 0;
};

// Throws std::runtime_error naming the archive and entry (or list and line) on bad input; the
// destination is then left untouched.
ConvertSummary convert(const ConvertOptions& options);

}  // namespace imgpack
