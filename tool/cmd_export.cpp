// imgpack export SRC -o DST [--split NAME[=SUBSET]]... [--shard K/N] [--subset NAME=FRACTION]...
// [--seed S] [-f] [-q]: a standalone pack of chosen splits, subsets and shards of SRC
// (export/include/imgpack/export.hpp). Syntax errors exit 2, everything else that is wrong 1.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/export.hpp>

#include <charconv>
#include <cstdio>
#include <string>

namespace imgpack::cli {

namespace {

// NAME or NAME=SUBSET.
ExportSplit parse_split(const std::string& spec) {
    const size_t eq = spec.find('=');
    ExportSplit s{spec.substr(0, eq), eq == std::string::npos ? "" : spec.substr(eq + 1)};
    if (s.name.empty() || (eq != std::string::npos && s.subset.empty()))
        throw CLI::ValidationError("--split", "takes NAME or NAME=SUBSET (e.g. validation, train=1pct), got '" + spec + "'");
    return s;
}

bool parse_u32(std::string_view s, uint32_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// K/N with 0 <= K < N.
ExportShard parse_shard(const std::string& spec) {
    const size_t slash = spec.find('/');
    ExportShard s;
    if (slash == std::string::npos || !parse_u32(std::string_view(spec).substr(0, slash), s.index) ||
        !parse_u32(std::string_view(spec).substr(slash + 1), s.count))
        throw CLI::ValidationError("--shard", "takes K/N, shard K of N (e.g. 0/8), got '" + spec + "'");
    if (s.count == 0) throw CLI::ValidationError("--shard", "N must be at least 1, got '" + spec + "'");
    if (s.index >= s.count)
        throw CLI::ValidationError("--shard", "K must be less than N (shards are numbered 0 to N-1), got '" + spec + "'");
    return s;
}

// NAME=FRACTION, 0 < FRACTION <= 1.
ExportDraw parse_draw(const std::string& spec) {
    const size_t eq = spec.find('=');
    ExportDraw d{spec.substr(0, eq == std::string::npos ? spec.size() : eq), 0};
    size_t used = 0;
    try {
        if (eq != std::string::npos) d.fraction = std::stod(spec.substr(eq + 1), &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (eq == std::string::npos || d.name.empty() || used == 0 || used != spec.size() - eq - 1 ||
        !(d.fraction > 0 && d.fraction <= 1))
        throw CLI::ValidationError("--subset", "takes NAME=FRACTION with 0 < FRACTION <= 1 (a label-balanced subset "
                                               "drawn from the exported train split, e.g. 5pct=0.05), got '" + spec + "'");
    return d;
}

void print_summary(const ExportSummary& s, const ExportOptions& o) {
    std::printf("wrote %s: %s in %.2f s (%.0f MB/s)\n", o.output.c_str(), human_bytes(s.pack_bytes).c_str(), s.seconds,
                s.seconds > 0 ? double(s.pack_bytes) / s.seconds / 1e6 : 0.0);
    std::printf("  id %s, from %s (id %s)", s.id.c_str(), o.source.c_str(), s.source_id.c_str());
    if (o.shard) std::printf(", shard %u/%u", o.shard->index, o.shard->count);
    std::printf("\n");
    for (const auto& sp : s.splits) {
        std::string from = sp.subset.empty() ? "split " + sp.name : "subset " + sp.subset;
        if (o.shard) from += ", shard " + std::to_string(o.shard->index) + "/" + std::to_string(o.shard->count);
        std::printf("  split  %-12s %10llu records  %12s  (%s)\n", sp.name.c_str(), (unsigned long long)sp.records,
                    human_bytes(sp.bytes).c_str(), from.c_str());
    }
    for (const auto& k : s.subsets)
        std::printf("  subset %-12s %10llu records  of %s  (%s: %s)\n", k.name.c_str(), (unsigned long long)k.records,
                    k.split.c_str(), k.drawn ? "drawn" : "carried, re-indexed", k.origin.c_str());
    for (const std::string& d : s.dropped) std::printf("  dropped: %s\n", d.c_str());
    if (s.skipped_not_carried)
        std::printf("  note: the source lists %zu entr%s left out when it was converted (imgpack info); not carried\n",
                    s.skipped_not_carried, s.skipped_not_carried == 1 ? "y" : "ies");
}

}  // namespace

void add_export(CLI::App& app) {
    auto* cmd = app.add_subcommand("export", "Write a standalone pack of chosen splits, subsets and shards of a pack");
    cmd->footer(
        "Examples: TFDS's imagenet2012_subset/1pct as a pack of its own:\n"
        "  imgpack export imagenet.imgpack --split train=1pct --split validation -o imagenet-1pct.imgpack\n"
        "shard 3 of 8 of the whole train split, for node 3 of 8:\n"
        "  imgpack export imagenet.imgpack --split train --shard 3/8 -o train-3of8.imgpack\n"
        "--split NAME copies split NAME whole; --split NAME=SUBSET makes split NAME of the records of SUBSET (a "
        "subset of split NAME); splits not named are left out (no --split: every split, whole). The class table "
        "(every class, even one without a record here), names, labels, sizes and checksums are the source's, and "
        "the image bytes are copied as stored, each checked against its checksum as it is copied. Source subsets "
        "that lie wholly inside an exported split come along, re-indexed; others are dropped, and the summary "
        "says so. --shard K/N cuts each exported split into N label-balanced parts (within one record per class) "
        "and keeps part K: the N outputs together hold every record once. The output records where it came from "
        "(imgpack info shows it) and is written as convert writes (a temporary file, fsync, rename). Details: "
        "docs/export.md.");
    struct Args {
        ExportOptions o;
        std::vector<std::string> splits, draws;
        std::string shard;
        bool quiet = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("SRC", a->o.source, "The pack to export from")->required();
    cmd->add_option("-o,--output", a->o.output, "The pack to write")->required();
    cmd->add_option("--split", a->splits,
                    "NAME: split NAME, whole; NAME=SUBSET: split NAME made of the records of SUBSET (repeat for "
                    "more splits; none: every split)")
        ->take_all();
    cmd->add_option("--shard", a->shard, "K/N: shard K of N of each exported split (0 <= K < N)");
    cmd->add_option("--subset", a->draws,
                    "NAME=FRACTION: draw a label-balanced random subset of that fraction of the exported train "
                    "split (after --shard), as convert does (with --seed)")
        ->take_all();
    cmd->add_option("--seed", a->o.seed, "Seed for drawn subsets")->capture_default_str();
    cmd->add_flag("-f,--force", a->o.overwrite, "Replace the output if it exists (never the source)");
    cmd->add_flag("-q,--quiet", a->quiet, "Print nothing but errors");
    cmd->callback([a] {
        for (const std::string& s : a->splits) {
            a->o.splits.push_back(parse_split(s));
            for (size_t i = 0; i + 1 < a->o.splits.size(); ++i)
                if (a->o.splits[i].name == a->o.splits.back().name)
                    throw CLI::ValidationError("--split", "split '" + a->o.splits.back().name + "' is named twice");
        }
        if (!a->shard.empty()) a->o.shard = parse_shard(a->shard);
        for (const std::string& d : a->draws) a->o.draws.push_back(parse_draw(d));
        ExportSummary s = export_pack(a->o);
        if (!a->quiet) print_summary(s, a->o);
    });
}

}  // namespace imgpack::cli
