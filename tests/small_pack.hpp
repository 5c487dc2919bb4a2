// For the reader's tests: a small pack built with PackWriter (2 classes, a labeled split of 4
// records, an unlabeled split of 1, and a subset), and open's error message for a file.
#pragma once

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <xxhash.h>

#include <filesystem>
#include <string>
#include <vector>

namespace test {

inline std::vector<unsigned char> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

struct SmallPack {
    std::vector<std::string> train_names{"a.JPEG", "b.JPEG", "c.JPEG", "d.JPEG"};  // sorted
    std::vector<std::vector<unsigned char>> blobs{bytes_of("alpha-bytes"), bytes_of("b"), bytes_of(std::string(5000, 'c')),
                                                  bytes_of("delta"), bytes_of("the test image")};
    void write(const std::filesystem::path& out) const {
        namespace fmt = imgpack::format;
        imgpack::PackWriter w(out, false);
        std::vector<uint64_t> at;
        for (const auto& b : blobs) at.push_back(w.append_blob(b));
        auto rec = [&](std::string name, size_t blob, int32_t label) {
            imgpack::RecordDef r;
            r.name = std::move(name);
            r.blob_offset = at[blob];
            r.blob_size = static_cast<uint32_t>(blobs[blob].size());
            r.xxh3 = XXH3_64bits(blobs[blob].data(), blobs[blob].size());
            r.width = static_cast<uint16_t>(10 + blob);
            r.height = static_cast<uint16_t>(20 + blob);
            r.codec = fmt::Codec::jpeg;
            r.color_space = fmt::ColorSpace::ycbcr;
            r.label = label;
            return r;
        };
        imgpack::PackContents c;
        c.classes = {{"n00000001", "first class"}, {"n00000002", ""}};
        c.splits.push_back({"train", {rec(train_names[0], 0, 0), rec(train_names[1], 1, 1), rec(train_names[2], 2, 1),
                                      rec(train_names[3], 3, 0)}});
        c.splits.push_back({"test", {rec("t.JPEG", 4, fmt::kUnlabeled)}});
        c.subsets.push_back({"half", "train", "list:half.txt", {1, 3}});
        w.finish(c);
    }
};

// The message Pack::open throws for a file, or "" when it opens.
inline std::string open_error(const std::filesystem::path& p) {
    try {
        imgpack::Pack::open(p.string());
    } catch (const imgpack::Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace test
