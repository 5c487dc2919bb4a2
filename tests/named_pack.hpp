// A pack of one split whose records have the given names (any bytes) and one byte of image data
// each: all that a test of names needs (submission, ls and info output), with no images to make.
#pragma once

#include <imgpack/pack_writer.hpp>

#include <xxhash.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace test {

inline void write_named_pack(const std::filesystem::path& out, const std::string& split, std::vector<std::string> names,
                             std::vector<imgpack::ClassDef> classes = {}, std::vector<imgpack::SkippedDef> skipped = {}) {
    std::sort(names.begin(), names.end());
    imgpack::PackWriter w(out, false);
    imgpack::PackContents c;
    c.classes = std::move(classes);
    c.splits.push_back({split, {}});
    const unsigned char byte = 0xd8;
    for (const std::string& n : names) {
        imgpack::RecordDef r;
        r.name = n;
        r.blob_offset = w.append_blob({&byte, 1});
        r.blob_size = 1;
        r.xxh3 = XXH3_64bits(&byte, 1);
        c.splits[0].records.push_back(r);
    }
    c.skipped = std::move(skipped);
    w.finish(c);
}

}  // namespace test
