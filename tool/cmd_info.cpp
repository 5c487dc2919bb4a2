// imgpack info PACK [--json]: what a pack holds, and what the converter left out of it.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/reader.hpp>

#include <cstdio>
#include <string>

namespace imgpack::cli {

namespace {

// FORMAT.md §4.9, for a pack made by imgpack export: null for any other.
std::string provenance_json(const Pack& pack) {
    const std::optional<Provenance> p = pack.provenance();
    if (!p) return "null";
    std::string out = "{\"source_id\":\"" + p->source_id + "\",\"shard\":" +
                      (p->sharded() ? "{\"index\":" + std::to_string(p->shard_index) +
                                          ",\"count\":" + std::to_string(p->shard_count) + "}"
                                    : std::string("null")) +
                      ",\"splits\":[";
    for (size_t i = 0; i < p->splits.size(); ++i)
        out += (i ? "," : "") + std::string("{\"name\":") + json_string(p->splits[i].name) +
               ",\"source_split\":" + json_string(p->splits[i].source_split) +
               ",\"source_subset\":" + json_string(p->splits[i].source_subset) + "}";
    out += "],\"subsets\":[";
    for (size_t i = 0; i < p->subsets.size(); ++i)
        out += (i ? "," : "") + std::string("{\"name\":") + json_string(p->subsets[i].name) +
               ",\"source_subset\":" + json_string(p->subsets[i].source_subset) + "}";
    return out + "]}";
}

void print_provenance(const Pack& pack) {
    const std::optional<Provenance> p = pack.provenance();
    if (!p) return;
    std::printf("exported from: %s", p->source_id.c_str());
    if (p->sharded()) std::printf(", shard %u/%u of each split", p->shard_index, p->shard_count);
    std::printf("\n");
    for (const ProvenanceSplit& s : p->splits)
        std::printf("  split  %-12s from %s %s\n", std::string(s.name).c_str(), s.source_subset.empty() ? "split" : "subset",
                    std::string(s.source_subset.empty() ? s.source_split : s.source_subset).c_str());
    for (const ProvenanceSubset& s : p->subsets)
        std::printf("  subset %-12s %s%s\n", std::string(s.name).c_str(),
                    s.source_subset.empty() ? "drawn at export" : "carried from subset ",
                    std::string(s.source_subset).c_str());
}

void print_json(const Pack& pack) {
    std::string out = "{\"path\":" + json_string(pack.path()) + ",\"id\":\"" + pack.id() + "\",\"version\":\"" +
                      std::to_string(pack.version_major()) + "." + std::to_string(pack.version_minor()) +
                      "\",\"file_size\":" + std::to_string(pack.file_size()) +
                      ",\"classes\":" + std::to_string(pack.class_count()) + ",\"splits\":[";
    for (size_t i = 0; i < pack.splits().size(); ++i) {
        const Split s = pack.splits()[i];
        out += (i ? "," : "") + std::string("{\"name\":") + json_string(s.name()) +
               ",\"records\":" + std::to_string(s.size()) + ",\"bytes\":" + std::to_string(s.blob_bytes()) + "}";
    }
    out += "],\"subsets\":[";
    for (size_t i = 0; i < pack.subsets().size(); ++i) {
        const Subset s = pack.subsets()[i];
        out += (i ? "," : "") + std::string("{\"name\":") + json_string(s.name()) +
               ",\"split\":" + json_string(s.split().name()) + ",\"records\":" + std::to_string(s.size()) +
               ",\"origin\":" + json_string(s.origin()) + "}";
    }
    out += "],\"provenance\":" + provenance_json(pack) + ",\"skipped\":[";
    for (size_t i = 0; i < pack.skipped().size(); ++i) {
        const SkippedInfo& k = pack.skipped()[i];
        out += (i ? "," : "") + std::string("{\"split\":") + json_string(k.split) + ",\"entry\":" + json_string(k.entry) +
               ",\"reason\":" + json_string(k.reason) + "}";
    }
    out += "]}";
    std::printf("%s\n", out.c_str());
}

void print_text(const Pack& pack) {
    std::printf("%s: imgpack format %u.%u, %s\n", pack.path().c_str(), pack.version_major(), pack.version_minor(),
                human_bytes(pack.file_size()).c_str());
    std::printf("id: %s\n", pack.id().c_str());
    std::printf("classes: %zu\n", pack.class_count());
    std::printf("splits:\n");
    for (const Split& s : pack.splits())
        std::printf("  %-12s %10zu records  %12s\n", std::string(s.name()).c_str(), s.size(),
                    human_bytes(s.blob_bytes()).c_str());
    if (!pack.subsets().empty()) std::printf("subsets:\n");
    for (const Subset& s : pack.subsets())
        std::printf("  %-12s %10zu records  of %s  (%s)\n", std::string(s.name()).c_str(), s.size(),
                    std::string(s.split().name()).c_str(), std::string(s.origin()).c_str());
    print_provenance(pack);
    // Entries of the input the converter left out (--on-bad-image=skip). They come from the
    // archives as they were, so they are shown escaped (\xNN), never as raw bytes to a terminal.
    const auto& skipped = pack.skipped();
    if (!skipped.empty())
        std::printf("skipped at conversion (--on-bad-image=skip): %zu entr%s\n", skipped.size(),
                    skipped.size() == 1 ? "y" : "ies");
    for (const SkippedInfo& k : skipped)
        std::printf("  %-12s %s: %s\n", shown(k.split).c_str(), shown(k.entry).c_str(), shown(k.reason).c_str());
}

}  // namespace

void add_info(CLI::App& app) {
    auto* cmd = app.add_subcommand("info", "Show a pack's identity, version, splits, subsets, classes and, for an export, its provenance");
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("PACK", *path, "The pack file")->required();
    cmd->add_flag("--json", *json, "Print one JSON object");
    cmd->callback([=] {
        Pack pack = Pack::open(*path);
        if (*json) print_json(pack);
        else print_text(pack);
    });
}

}  // namespace imgpack::cli
