// imgpack ls PACK --split S [--subset NAME] [--json]: one line per record, with its flags
// ("repaired": the converter re-encoded ImageNet's CMYK JPEG or PNG as an RGB JPEG).
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/reader.hpp>

#include <cstdio>
#include <string>

namespace imgpack::cli {

namespace {

void print_record(const Record& r, bool json) {
    if (json) {
        std::string line = "{\"index\":" + std::to_string(r.index) + ",\"name\":" + json_string(r.name) +
                           ",\"label\":" + std::to_string(r.label) +
                           ",\"wnid\":" + (r.labeled() ? json_string(r.wnid) : std::string("null")) +
                           ",\"size\":" + std::to_string(r.data.size()) + ",\"width\":" + std::to_string(r.width) +
                           ",\"height\":" + std::to_string(r.height) + ",\"xxh3\":\"" + hex64(r.xxh3) +
                           "\",\"flags\":" + std::to_string(r.flags) + ",\"repaired\":" + (r.repaired() ? "true" : "false") +
                           "}";
        std::printf("%s\n", line.c_str());
    } else {
        std::printf("%8u  %-32s %5d  %-10s %9zu  %5ux%-5u  %s  %s\n", r.index, std::string(r.name).c_str(), r.label,
                    r.labeled() ? std::string(r.wnid).c_str() : "-", r.data.size(), r.width, r.height,
                    hex64(r.xxh3).c_str(), r.repaired() ? "repaired" : "-");
    }
}

}  // namespace

void add_ls(CLI::App& app) {
    auto* cmd = app.add_subcommand("ls", "List the records of a split or subset");
    struct Args {
        std::string path, split, subset;
        bool json = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("--split", a->split, "Split to list (train, validation, test, ...)")->required();
    cmd->add_option("--subset", a->subset, "List only this subset's records (index stays the split index)");
    cmd->add_flag("--json", a->json, "One JSON object per line");
    cmd->callback([a] {
        Pack pack = Pack::open(a->path);
        const Split split = pack.split(a->split);
        if (a->subset.empty()) {
            for (Record r : split) print_record(r, a->json);
            return;
        }
        const Subset subset = split.subset(a->subset);
        for (Record r : subset) print_record(r, a->json);
    });
}

}  // namespace imgpack::cli
