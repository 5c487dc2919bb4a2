// imgpack convert: tarballs and label lists in, one pack out.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/convert.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

namespace imgpack::cli {

namespace {

std::pair<std::string, std::filesystem::path> parse_subset(const std::string& spec) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw std::runtime_error("imgpack: --subset takes NAME=FILE (e.g. 1pct=1percent.txt), got '" + spec + "'");
    return {spec.substr(0, eq), spec.substr(eq + 1)};
}

void print_summary(const ConvertSummary& s, const std::filesystem::path& out) {
    std::printf("wrote %s: %s in %.2f s\n", out.c_str(), human_bytes(s.pack_bytes).c_str(), s.seconds);
    uint64_t images = 0, bytes = 0;
    for (const SplitSummary& sp : s.splits) {
        std::printf("  split  %-12s %10llu records  %12s\n", sp.name.c_str(), (unsigned long long)sp.records,
                    human_bytes(sp.bytes).c_str());
        images += sp.records;
        bytes += sp.bytes;
    }
    for (const auto& [name, count] : s.subsets)
        std::printf("  subset %-12s %10llu records\n", name.c_str(), (unsigned long long)count);
    std::printf("  classes: %zu\n", s.classes);
    if (s.seconds > 0)
        std::printf("  throughput: %.0f images/s, %.1f MB/s\n", images / s.seconds, bytes / s.seconds / 1e6);
    if (!s.skipped.empty()) {
        std::printf("  %zu entr%s skipped (--on-bad-image=skip), also listed in the pack:\n", s.skipped.size(),
                    s.skipped.size() == 1 ? "y" : "ies");
        for (const std::string& k : s.skipped) std::printf("    %s\n", k.c_str());
    }
    if (!s.needs_repair.empty()) {
        std::printf("  %zu file(s) are ImageNet quirks (CMYK JPEG or not a JPEG), stored as they are:\n",
                    s.needs_repair.size());
        for (const std::string& f : s.needs_repair) std::printf("    %s\n", f.c_str());
    }
}

}  // namespace

void add_convert(CLI::App& app) {
    auto* cmd = app.add_subcommand("convert", "Pack ImageNet's tarballs into one imgpack file");
    struct Args {
        ConvertOptions o;
        std::vector<std::string> subsets;
        bool quiet = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--train", a->o.train, "ILSVRC2012_img_train.tar: a tar of per-class <WNID>.tar files");
    cmd->add_option("--val", a->o.val, "ILSVRC2012_img_val.tar: a flat tar of validation JPEGs");
    cmd->add_option("--val-labels", a->o.val_labels,
                    "Validation labels, TFDS format: one WNID per line, in sorted file-name order");
    cmd->add_option("--test", a->o.test, "ILSVRC2012_img_test.tar: a flat tar of test JPEGs (unlabeled)");
    cmd->add_option("--subset", a->subsets, "NAME=FILE: a named subset from a SimCLR list of train file names")
        ->take_all();
    cmd->add_option("-o,--output", a->o.output, "The pack to write")->required();
    cmd->add_option("--on-bad-image", a->o.on_bad_image,
                    "fail: stop at an entry that cannot be packed (default); skip: leave it out, list it in "
                    "the summary and in the pack")
        ->transform(CLI::CheckedTransformer(std::map<std::string, ConvertOptions::OnBadImage>{
            {"fail", ConvertOptions::OnBadImage::fail}, {"skip", ConvertOptions::OnBadImage::skip}}));
    cmd->add_option("-j,--jobs", a->o.jobs, "Worker threads (default: one per core)");
    cmd->add_flag("-f,--force", a->o.overwrite, "Replace the output if it exists");
    cmd->add_flag("-q,--quiet", a->quiet, "Print nothing but errors");
    cmd->callback([a] {
        for (const std::string& spec : a->subsets) a->o.subsets.push_back(parse_subset(spec));
        if (!a->quiet) a->o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
        ConvertSummary s = convert(a->o);
        if (!a->quiet) print_summary(s, a->o.output);
    });
}

}  // namespace imgpack::cli
