// imgpack convert: tarballs and label lists in, one pack out.
#include "commands.hpp"
#include "json.hpp"

#include "output.hpp"

#include <imgpack/convert.hpp>
#include <imgpack/destination.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <unistd.h>

namespace imgpack::cli {

namespace {

// NAME=FILE (a SimCLR list) or NAME=FRACTION (a label-balanced random subset, e.g. 5pct=0.05).
SubsetRequest parse_subset(const std::string& spec) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
        throw std::runtime_error("imgpack: --subset takes NAME=FILE or NAME=FRACTION (e.g. 1pct=1percent.txt, 5pct=0.05), got '" +
                                 spec + "'");
    std::string name = spec.substr(0, eq), value = spec.substr(eq + 1);
    size_t used = 0;
    double fraction = 0;
    try {
        fraction = std::stod(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == value.size()) return {name, {}, fraction};  // a number: write ./0.05 for a file named so
    return {name, value, 0};
}

// One status line per source, redrawn in place: images, bytes, rates, share done and ETA.
void print_progress(const Progress& p) {
    const double secs = std::max(p.seconds, 1e-6);
    std::string line = p.split;
    line.resize(std::max<size_t>(line.size(), 11), ' ');
    char buf[256];
    std::snprintf(buf, sizeof buf, " %10llu images %11s  %7.1f MB/s %8.0f img/s", (unsigned long long)p.images,
                  human_bytes(p.image_bytes).c_str(), double(p.source_done) / secs / 1e6, double(p.images) / secs);
    line += buf;
    if (p.source_total > 0) {
        double share = std::min(1.0, double(p.source_done) / double(p.source_total));
        if (p.done) {
            std::snprintf(buf, sizeof buf, "  100%%  %.1f s", p.seconds);
        } else {
            double eta = share > 0 ? p.seconds * (1 - share) / share : 0;
            std::snprintf(buf, sizeof buf, "  %3.0f%%  ETA %d:%02d", share * 100, int(eta) / 60, int(eta) % 60);
        }
        line += buf;
    }
    std::printf("\r%s\033[K%s", line.c_str(), p.done ? "\n" : "");
    flush_or_stop(stdout, "standard output");  // a terminal that went away stops the conversion
}

// Every file and folder the conversion reads, as check_destination() takes them.
std::vector<InputPath> inputs_of(const ConvertOptions& o) {
    std::vector<InputPath> inputs;
    auto add = [&](std::string option, const std::filesystem::path& p) {
        if (!p.empty()) inputs.push_back({std::move(option), p});
    };
    add("--train", o.train);
    add("--val", o.val);
    add("--val-labels", o.val_labels);
    add("--class-names", o.class_names);
    add("--test", o.test);
    add("--test-patch", o.test_patch);
    add("--classes", o.classes);
    for (const SubsetRequest& s : o.subsets) add("--subset " + s.name, s.list);
    return inputs;
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
    for (const std::string& n : s.notes) std::printf("  note: %s\n", n.c_str());
    if (s.seconds > 0)
        std::printf("  throughput: %.0f images/s, %.1f MB/s\n", images / s.seconds, bytes / s.seconds / 1e6);
    const StageTimes& t = s.times;
    char decoding[48] = "";
    if (t.decoding > 0) std::snprintf(decoding, sizeof decoding, "decoding %.2f s, ", t.decoding);
    std::printf("  cpu: reading %.2f s, hashing %.2f s, header parsing %.2f s, %srepairing %.2f s (workers %.2f s), "
                "writing %.2f s; final flush+fsync %.2f s of %.2f s wall\n",
                t.reading, t.hashing, t.parsing, decoding, t.repairing, t.workers, t.writing, t.finishing, s.seconds);
    if (!s.skipped.empty()) {
        std::printf("  %zu entr%s skipped (--on-bad-image=skip), also listed in the pack:\n", s.skipped.size(),
                    s.skipped.size() == 1 ? "y" : "ies");
        for (const std::string& k : s.skipped) std::printf("    %s\n", k.c_str());
    }
    if (!s.left_out.empty()) {
        std::printf("  %zu listed name(s) left out of their subset, not in the train split (--allow-missing):\n",
                    s.left_out.size());
        for (const std::string& k : s.left_out) std::printf("    %s\n", k.c_str());
    }
    if (!s.patch_added.empty()) {
        std::printf("  %zu image(s) of the test patch replaced nothing and were added (--test-patch-adds):\n",
                    s.patch_added.size());
        for (const std::string& k : s.patch_added) std::printf("    %s\n", k.c_str());
    }
    if (!s.repaired.empty()) {
        std::printf("  %zu file(s) repaired (ImageNet's CMYK JPEGs and PNGs, re-encoded as RGB JPEG):\n",
                    s.repaired.size());
        for (const std::string& f : s.repaired) std::printf("    %s\n", f.c_str());
    }
    if (!s.needs_repair.empty()) {
        std::printf("  %zu file(s) are ImageNet quirks (CMYK JPEG or not a JPEG), stored as they are (--no-repair):\n",
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
    cmd->add_option("--train", a->o.train,
                    "ILSVRC2012_img_train.tar (a tar of per-class <WNID>.tar files), or an extracted train/<WNID>/ folder");
    cmd->add_option("--val", a->o.val,
                    "ILSVRC2012_img_val.tar or a folder of validation JPEGs; a val/<WNID>/ folder carries its labels");
    cmd->add_option("--val-labels", a->o.val_labels,
                    "Validation labels: TFDS's imagenet2012_validation_labels.txt, the ILSVRC2012 devkit (.tar.gz or "
                    "folder), or Kaggle's LOC_val_solution.csv (told apart by content)");
    cmd->add_option("--class-names", a->o.class_names,
                    "Class names for the class table: synset_words.txt, LOC_synset_mapping.txt or the devkit");
    cmd->add_option("--test", a->o.test, "ILSVRC2012_img_test.tar or a folder of test JPEGs (unlabeled)");
    cmd->add_option("--test-patch", a->o.test_patch,
                    "The October 2019 test patch tar: its images replace the test images of the same name");
    cmd->add_flag("--test-patch-adds", a->o.test_patch_adds,
                  "A patch image that replaces no test image is added to the test split (without it: an error)");
    cmd->add_option("--classes", a->o.classes,
                    "The class list, one WNID per line, in label order (e.g. imagenet2012_labels.txt); a train "
                    "class outside it is an error");
    cmd->add_option("--subset", a->subsets,
                    "NAME=FILE: a subset from a SimCLR list of train file names; NAME=FRACTION: a label-balanced "
                    "random subset of that fraction of train (with --seed)")
        ->take_all();
    cmd->add_flag("--allow-missing", a->o.allow_missing,
                  "A subset list may name files that are not in the train split (they are left out and listed)");
    cmd->add_flag("--allow-empty", a->o.allow_empty,
                  "Write an empty split, test patch or subset (a source or list with no image, a fraction that "
                  "rounds to 0 records) instead of stopping");
    cmd->add_option("--seed", a->o.seed, "Seed for generated subsets")->capture_default_str();
    cmd->add_option("-o,--output", a->o.output, "The pack to write")->required();
    cmd->add_option("--on-bad-image", a->o.on_bad_image,
                    "fail: stop at an entry that cannot be packed (default); skip: leave it out, list it in "
                    "the summary and in the pack")
        ->transform(CLI::CheckedTransformer(std::map<std::string, ConvertOptions::OnBadImage>{
            {"fail", ConvertOptions::OnBadImage::fail}, {"skip", ConvertOptions::OnBadImage::skip}}));
    cmd->add_option("-j,--jobs", a->o.jobs, "Worker threads (default: one per core; at most 4 per core and 256)");
    cmd->add_option("--max-image-bytes", a->o.max_image_bytes,
                    "An input image larger than this is a bad entry, refused before it is read (default 64 MiB)")
        ->capture_default_str();
    cmd->add_flag("--decode", a->o.decode,
                  "Decode every image whole while converting: one cut short or damaged mid-scan (any libjpeg "
                  "error or warning) is a bad entry, not a failure in training");
    bool* repair = &a->o.repair;
    cmd->add_flag_callback("--no-repair", [repair] { *repair = false; },
                           "Store CMYK JPEGs and PNGs as they are instead of re-encoding them as RGB JPEGs");
    cmd->add_flag("-f,--force", a->o.overwrite, "Replace the output if it exists");
    cmd->add_flag("-q,--quiet", a->quiet, "Print nothing but errors");
    cmd->callback([a] {
        for (const std::string& spec : a->subsets) a->o.subsets.push_back(parse_subset(spec));
        // On a terminal, a progress line per source; elsewhere (a log, a pipe) only the summary.
        const bool terminal = ::isatty(STDOUT_FILENO) == 1;
        if (!a->quiet && terminal) a->o.progress = print_progress;
        if (!a->quiet && !terminal)
            a->o.log = [](const std::string& line) {
                std::fprintf(stderr, "%s\n", line.c_str());
                flush_or_stop(stderr, "standard error");  // e.g. `2>&1 | head` with SIGPIPE ignored
            };
        // Before anything is read: the output must not be an input, a device, a FIFO, ...
        check_destination(a->o.output, a->o.overwrite, inputs_of(a->o));
        ConvertSummary s = convert(a->o);
        if (!a->quiet) print_summary(s, a->o.output);
    });
}

}  // namespace imgpack::cli
