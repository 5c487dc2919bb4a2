// A pack for the verify pass's tests: about 24 MB of random blobs, enough for many chunks of
// work, in two splits whose records interleave in the file and whose name order differs from
// the file's order. Made with PackWriter directly (no libarchive or TurboJPEG, so ThreadSanitizer
// builds can use it).
#pragma once

#include <imgpack/pack_writer.hpp>

#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace test {

constexpr size_t kInterleavedRecords = 400;

inline void write_interleaved_pack(const std::filesystem::path& path) {
    std::mt19937_64 rng(9);
    imgpack::PackWriter w(path, false);
    imgpack::PackContents c;
    c.splits = {{"a", {}}, {"b", {}}};
    std::vector<size_t> names(kInterleavedRecords);
    std::iota(names.begin(), names.end(), size_t{0});
    std::shuffle(names.begin(), names.end(), rng);
    for (size_t i = 0; i < kInterleavedRecords; ++i) {
        std::vector<unsigned char> blob(1 + rng() % 120000);
        for (auto& b : blob) b = static_cast<unsigned char>(rng());
        imgpack::RecordDef r;
        r.name = "r" + std::to_string(100000 + names[i]);
        r.blob_offset = w.append_blob(blob);
        r.blob_size = static_cast<uint32_t>(blob.size());
        r.xxh3 = XXH3_64bits(blob.data(), blob.size());
        c.splits[i % 2].records.push_back(r);
    }
    for (auto& s : c.splits)
        std::sort(s.records.begin(), s.records.end(), [](auto& x, auto& y) { return x.name < y.name; });
    w.finish(c);
}

}  // namespace test
