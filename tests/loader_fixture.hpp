// A pack of small real JPEGs (TurboJPEG-encoded in the test, sizes varied) for the loader's
// tests, with chosen records replaced by bytes that do not decode: garbage, or a JPEG cut short.
// Its records' checksums match their bytes, as the converter would have written them.
#pragma once

#include "helpers.hpp"
#include "jpeg_encode.hpp"

#include <imgpack/pack_writer.hpp>

#include <turbojpeg.h>
#include <xxhash.h>

#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace test {

// A w x h RGB photograph stand-in: smooth gradients with a per-image phase, then JPEG at q90.
inline std::vector<unsigned char> make_jpeg(int w, int h, uint32_t seed, bool gray = false) {
    std::vector<unsigned char> rgb(size_t(w) * size_t(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(size_t(y) * size_t(w) + size_t(x)) * 3 + size_t(c)] =
                    static_cast<unsigned char>((x * (3 + c) + y * (5 - c) + int(seed) * 37 + ((x ^ y) & 15)) & 255);
    return encode_jpeg(rgb.data(), w, h, TJPF_RGB, gray ? TJSAMP_GRAY : TJSAMP_420, 90);
}

struct LoaderPackSpec {
    size_t train = 96, validation = 40;
    std::set<size_t> garbage;    // train records whose bytes are not a JPEG
    std::set<size_t> truncated;  // train records whose JPEG is cut in half
};

// Writes the pack: 4 classes; train (labeled, record i's label i % 4), validation (labeled),
// test (8 unlabeled); subset "quarter" of train (every 4th record). Image sides 40..119 pixels.
inline std::filesystem::path write_loader_pack(const TempDir& dir, const LoaderPackSpec& spec = {},
                                               const std::string& file = "loader.imgpack") {
    std::filesystem::path out = dir / file;
    imgpack::PackWriter w(out, false);
    imgpack::PackContents c;
    for (int k = 0; k < 4; ++k) c.classes.push_back({"n0000000" + std::to_string(k), "class " + std::to_string(k)});
    std::mt19937 rng(3);
    auto make_split = [&](const std::string& name, size_t n, bool labeled, bool with_bad) {
        imgpack::SplitDef sp;
        sp.name = name;
        for (size_t i = 0; i < n; ++i) {
            int width = 40 + int(rng() % 80), height = 40 + int(rng() % 80);
            std::vector<unsigned char> bytes = make_jpeg(width, height, uint32_t(i), i % 7 == 3);
            if (with_bad && spec.garbage.count(i)) {
                for (auto& b : bytes) b = static_cast<unsigned char>(rng());
            } else if (with_bad && spec.truncated.count(i)) {
                bytes.resize(bytes.size() / 2);
            }
            imgpack::RecordDef r;
            char name_buf[64];
            std::snprintf(name_buf, sizeof name_buf, "%s_%04zu.JPEG", name.c_str(), i);
            r.name = name_buf;
            r.blob_offset = w.append_blob(bytes);
            r.blob_size = static_cast<uint32_t>(bytes.size());
            r.xxh3 = XXH3_64bits(bytes.data(), bytes.size());
            r.width = static_cast<uint16_t>(width);
            r.height = static_cast<uint16_t>(height);
            r.codec = imgpack::format::Codec::jpeg;
            r.label = labeled ? static_cast<int32_t>(i % 4) : imgpack::format::kUnlabeled;
            sp.records.push_back(std::move(r));
        }
        c.splits.push_back(std::move(sp));
    };
    make_split("train", spec.train, true, true);
    make_split("validation", spec.validation, true, false);
    make_split("test", 8, false, false);
    imgpack::SubsetDef quarter;
    quarter.name = "quarter";
    quarter.split = "train";
    quarter.origin = "test";
    for (size_t i = 0; i < spec.train; i += 4) quarter.indices.push_back(static_cast<uint32_t>(i));
    c.subsets.push_back(std::move(quarter));
    w.finish(c);
    return out;
}

}  // namespace test
