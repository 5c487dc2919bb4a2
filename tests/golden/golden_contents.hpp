// The golden pack's contents (docs/FORMAT.md §10, tests/golden/golden.imgpack): small enough to
// print every byte, with every section kind. Hand-written image bytes, so that no encoder (and
// no encoder's version) is involved: the format never looks inside a blob.
#pragma once

#include <imgpack/pack_writer.hpp>

#include <xxhash.h>

#include <string>
#include <string_view>
#include <vector>

namespace golden {

// Stand-ins for JPEG files: a JPEG's first and last markers (SOI FF D8 FF, EOI FF D9) around a
// readable label, so the dump shows which image is which.
inline std::vector<unsigned char> stand_in(std::string_view label) {
    const std::string s = "\xFF\xD8\xFF" + std::string(label) + "\xFF\xD9";
    return {s.begin(), s.end()};
}

// Appends the blobs to `w` in "archive order" (which is not record order, as in real packs) and
// returns the contents that finish() takes. Changing anything here changes the golden file.
inline imgpack::PackContents write_blobs(imgpack::PackWriter& w) {
    namespace fmt = imgpack::format;
    struct Image {
        std::string name;
        std::vector<unsigned char> bytes;
        uint16_t width, height;
        fmt::ColorSpace color_space;
        int32_t label;
        uint32_t flags;
    };
    // Archive order: a class tar lists 2708 before 10026; the goldfish was a CMYK JPEG that the
    // converter re-encoded (repaired); then the test archive.
    const std::vector<Image> archive{
        {"n01440764_2708.JPEG", stand_in("tench 2708"), 250, 188, fmt::ColorSpace::gray, 0, 0},
        {"n01440764_10026.JPEG", stand_in("tench 10026"), 500, 375, fmt::ColorSpace::ycbcr, 0, 0},
        {"n01443537_1004.JPEG", stand_in("goldfish 1004, repaired"), 400, 300, fmt::ColorSpace::ycbcr, 1,
         fmt::kRecordRepaired},
        {"ILSVRC2012_test_00000001.JPEG", stand_in("test 1"), 500, 333, fmt::ColorSpace::ycbcr, fmt::kUnlabeled, 0},
    };
    std::vector<imgpack::RecordDef> records;
    for (const Image& im : archive) {
        imgpack::RecordDef r;
        r.name = im.name;
        r.blob_offset = w.append_blob(im.bytes);
        r.blob_size = static_cast<uint32_t>(im.bytes.size());
        r.xxh3 = XXH3_64bits(im.bytes.data(), im.bytes.size());
        r.width = im.width;
        r.height = im.height;
        r.codec = fmt::Codec::jpeg;
        r.color_space = im.color_space;
        r.label = im.label;
        r.flags = im.flags;
        records.push_back(r);
    }
    imgpack::PackContents c;
    // Class 1 has no name, as when --class-names does not name a class.
    c.classes = {{"n01440764", "tench"}, {"n01443537", ""}};
    // Records sorted bytewise by name: "..._10026" comes before "..._2708".
    c.splits.push_back({"train", {records[1], records[0], records[2]}});
    c.splits.push_back({"test", {records[3]}});
    c.subsets.push_back({"1pct", "train", "list:1percent.txt", {0, 2}});
    c.skipped.push_back({"test", "test.tar: ILSVRC2012_test_00000002.JPEG", "empty file"});
    // Since 1.2: as if exported from a pack with identity 00112233...eeff, shard 1 of 4; train
    // made of the source's 10pct, test whole; 1pct carried from the source.
    c.provenance = imgpack::ProvenanceDef{"00112233445566778899aabbccddeeff",
                                          1,
                                          4,
                                          {{"train", "train", "10pct"}, {"test", "test", ""}},
                                          {{"1pct", "1pct"}}};
    return c;
}

}  // namespace golden
