// Synthetic ImageNet: archives shaped like the real ILSVRC2012 downloads, made of real
// (tiny) JPEGs, for demos, tests and benchmarks. Deterministic for a seed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imgpack::synth {

struct Options {
    std::filesystem::path out_dir;   // created if missing
    uint32_t classes = 10;           // train classes (WNIDs)
    uint32_t per_class = 20;         // train images per class
    uint32_t val = 50;               // validation images (0: no val tar, no labels file)
    uint32_t test = 20;              // test images (0: no test tar)
    uint64_t seed = 1;
    uint32_t min_side = 32;          // image width/height drawn from [min_side, max_side]
    uint32_t max_side = 128;
    int quality = 90;                // JPEG quality
    bool quirks = true;              // put one CMYK JPEG and one PNG named .JPEG in train
};

struct Summary {
    std::filesystem::path train_tar;     // ILSVRC2012_img_train.tar (tar of <WNID>.tar)
    std::filesystem::path val_tar;       // ILSVRC2012_img_val.tar (empty path when val == 0)
    std::filesystem::path test_tar;      // ILSVRC2012_img_test.tar (empty path when test == 0)
    std::filesystem::path val_labels;    // imagenet2012_validation_labels.txt (TFDS format)
    std::filesystem::path subset_1pct;   // 1percent.txt  (SimCLR format)
    std::filesystem::path subset_10pct;  // 10percent.txt (SimCLR format)
    std::vector<std::string> wnids;      // the classes, sorted
    uint64_t train_images = 0, val_images = 0, test_images = 0;
    uint64_t image_bytes = 0;            // sum of all image file sizes
    std::string cmyk_name, png_name;     // train member names of the quirk images ("" if none)
};

// Writes the archives and lists into opts.out_dir. Throws std::runtime_error on failure.
Summary generate(const Options& opts);

// An 8-bit RGB image (rows of width * 3 bytes) as the bytes of a PNG file (the quirk images use
// it, and `imgpack decode`). Throws std::runtime_error on failure.
std::vector<unsigned char> encode_png(const std::vector<unsigned char>& rgb, uint32_t width, uint32_t height);

}  // namespace imgpack::synth
