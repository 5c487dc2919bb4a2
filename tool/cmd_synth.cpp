// imgpack synth DIR: a synthetic ImageNet in the real archives' shapes.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/synth.hpp>

#include <cstdio>

namespace imgpack::cli {

void add_synth(CLI::App& app) {
    auto* cmd = app.add_subcommand("synth", "Write a synthetic ImageNet (tarballs, labels, subset lists) to DIR");
    auto o = std::make_shared<synth::Options>();
    cmd->add_option("DIR", o->out_dir, "Output directory")->required();
    cmd->add_option("--classes", o->classes, "Train classes")->capture_default_str();
    cmd->add_option("--per-class", o->per_class, "Train images per class")->capture_default_str();
    cmd->add_option("--val", o->val, "Validation images (0: none)")->capture_default_str();
    cmd->add_option("--test", o->test, "Test images (0: none)")->capture_default_str();
    cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
    cmd->add_option("--min-side", o->min_side, "Smallest image side, pixels")->capture_default_str();
    cmd->add_option("--max-side", o->max_side, "Largest image side, pixels")->capture_default_str();
    cmd->add_option("--quality", o->quality, "JPEG quality")->capture_default_str();
    cmd->callback([o] {
        if (o->classes == 0 || o->per_class == 0) throw std::runtime_error("imgpack synth: --classes and --per-class must be > 0");
        if (o->min_side == 0 || o->min_side > o->max_side || o->max_side > 65535)
            throw std::runtime_error("imgpack synth: need 1 <= --min-side <= --max-side <= 65535");
        synth::Summary s = synth::generate(*o);
        std::printf("wrote a synthetic ImageNet to %s: %zu classes, %llu train, %llu validation, %llu test images "
                    "(%s of JPEGs)\n",
                    o->out_dir.c_str(), s.wnids.size(), (unsigned long long)s.train_images,
                    (unsigned long long)s.val_images, (unsigned long long)s.test_images,
                    human_bytes(s.image_bytes).c_str());
        std::printf("  %s\n", s.train_tar.c_str());
        for (const auto& p : {s.val_tar, s.test_tar, s.val_labels, s.subset_1pct, s.subset_10pct})
            if (!p.empty()) std::printf("  %s\n", p.c_str());
        if (!s.cmyk_name.empty()) std::printf("  quirks: %s is a CMYK JPEG, %s is a PNG\n", s.cmyk_name.c_str(), s.png_name.c_str());
    });
}

}  // namespace imgpack::cli
