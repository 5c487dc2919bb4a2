// One synthetic ImageNet per test process, plus an independent extraction of it made with GNU
// tar (not our libarchive code), which the tests use as the ground truth.
#pragma once

#include "helpers.hpp"

#include <imgpack/convert.hpp>
#include <imgpack/synth.hpp>
#include "text_lists.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace test {

struct SynthImageNet {
    TempDir dir;
    imgpack::synth::Summary s;
    std::map<std::string, std::set<std::string>> train_files;  // WNID -> file names
    fs::path train_dir, val_dir, test_dir;
    fs::path pack;        // converted with every input and both subsets
    fs::path pack_as_is;  // the same with --no-repair: every record holds its archive's bytes

    SynthImageNet() {
        imgpack::synth::Options o;
        o.out_dir = dir / "src";
        o.classes = 6;
        o.per_class = 11;
        o.val = 25;
        o.test = 7;
        o.seed = 5;
        o.min_side = 16;
        o.max_side = 64;
        s = imgpack::synth::generate(o);
        extract();
        pack = dir / "full.imgpack";
        imgpack::convert(options(pack));
        pack_as_is = dir / "as-is.imgpack";
        auto as_is = options(pack_as_is);
        as_is.repair = false;
        imgpack::convert(as_is);
    }

    imgpack::ConvertOptions options(const fs::path& out) const {
        imgpack::ConvertOptions c;
        c.train = s.train_tar;
        c.val = s.val_tar;
        c.val_labels = s.val_labels;
        c.test = s.test_tar;
        c.subsets = {{"1pct", s.subset_1pct}, {"10pct", s.subset_10pct}};
        c.output = out;
        return c;
    }

    void extract() {
        auto untar = [](const fs::path& tar, const fs::path& into) {
            fs::create_directories(into);
            RunResult r = run("tar -xf " + quote(tar.string()) + " -C " + quote(into.string()));
            if (r.status != 0) throw std::runtime_error("tar failed: " + r.err);
        };
        untar(s.train_tar, dir / "outer");
        train_dir = dir / "train";
        for (const auto& e : fs::directory_iterator(dir / "outer")) {
            std::string wnid = e.path().stem().string();
            untar(e.path(), train_dir / wnid);
            for (const auto& f : fs::directory_iterator(train_dir / wnid))
                train_files[wnid].insert(f.path().filename().string());
        }
        val_dir = dir / "val";
        untar(s.val_tar, val_dir);
        test_dir = dir / "test";
        untar(s.test_tar, test_dir);
    }

    static std::vector<std::string> sorted_names(const fs::path& d) {
        std::vector<std::string> v;
        for (const auto& e : fs::directory_iterator(d)) v.push_back(e.path().filename().string());
        std::sort(v.begin(), v.end());
        return v;
    }
};

// The message a conversion fails with, or "" when it succeeds.
inline std::string convert_error(const imgpack::ConvertOptions& o) {
    try {
        imgpack::convert(o);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

inline const SynthImageNet& synth_imagenet() {
    static SynthImageNet data;
    return data;
}

}  // namespace test
