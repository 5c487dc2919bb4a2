#include "selection.hpp"

#include <xxhash.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace imgpack::exporting {

namespace {

template <class List>
std::string names_of(const List& list) {
    std::string out;
    for (const auto& v : list) out += (out.empty() ? "'" : ", '") + std::string(v.name()) + "'";
    return out.empty() ? "none" : out;
}

// The output positions of `wanted` (source indices, increasing) in `have` (increasing), or none
// if one of them is not there; `missing` counts those.
std::optional<std::vector<uint32_t>> positions_in(const Subset& wanted, const std::vector<uint32_t>& have,
                                                  size_t& missing) {
    std::vector<uint32_t> out;
    out.reserve(wanted.size());
    missing = 0;
    auto from = have.begin();
    for (size_t i = 0; i < wanted.size(); ++i) {
        from = std::lower_bound(from, have.end(), wanted.index(i));  // both increase: search forward only
        if (from == have.end() || *from != wanted.index(i)) ++missing;
        else out.push_back(static_cast<uint32_t>(from - have.begin()));
    }
    if (missing) return std::nullopt;
    return out;
}

}  // namespace

std::vector<uint32_t> shard_positions(const std::vector<std::string_view>& names, const std::vector<int32_t>& labels,
                                      uint32_t index, uint32_t count) {
    struct Key {
        uint32_t label;  // unlabeled (-1) sorts last
        uint64_t hash;
        uint32_t position;
    };
    std::vector<Key> keys(names.size());
    for (size_t i = 0; i < names.size(); ++i)
        keys[i] = {static_cast<uint32_t>(labels[i]), XXH3_64bits(names[i].data(), names[i].size()),
                   static_cast<uint32_t>(i)};
    std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
        if (a.label != b.label) return a.label < b.label;
        if (a.hash != b.hash) return a.hash < b.hash;
        return names[a.position] < names[b.position];  // names are unique within a split
    });
    std::vector<uint32_t> out;
    for (size_t i = index; i < keys.size(); i += count) out.push_back(keys[i].position);
    std::sort(out.begin(), out.end());
    return out;
}

Selection select(const Pack& pack, const ExportOptions& o) {
    auto fail = [&](const std::string& what) -> void {
        throw std::runtime_error("imgpack export: " + o.source.string() + ": " + what);
    };
    std::vector<ExportSplit> wanted = o.splits;
    if (wanted.empty())
        for (const Split& s : pack.splits()) wanted.push_back({std::string(s.name()), ""});
    for (size_t i = 0; i < wanted.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (wanted[i].name == wanted[j].name) fail("split '" + wanted[i].name + "' is named twice");

    Selection out;
    const Splits splits = pack.splits();
    for (const Split& split : splits) {  // the source's order, whatever the order asked
        auto w = std::find_if(wanted.begin(), wanted.end(), [&](const ExportSplit& e) { return e.name == split.name(); });
        if (w == wanted.end()) continue;
        SplitSelection sel{split, w->subset, {}};
        if (w->subset.empty()) {
            sel.indices.resize(split.size());
            std::iota(sel.indices.begin(), sel.indices.end(), 0u);
        } else {
            std::optional<Subset> sub = pack.find_subset(w->subset);
            if (!sub) fail("no subset '" + w->subset + "' (its subsets: " + names_of(pack.subsets()) + ")");
            if (sub->split().name() != split.name())
                fail("subset '" + w->subset + "' is a subset of split '" + std::string(sub->split().name()) +
                     "', not of '" + w->name + "' (--split " + std::string(sub->split().name()) + "=" + w->subset +
                     " exports it)");
            for (size_t i = 0; i < sub->size(); ++i) sel.indices.push_back(sub->index(i));
        }
        if (!o.splits.empty() && sel.indices.empty())
            fail(w->subset.empty() ? "split '" + w->name + "' has no records: nothing to export from it"
                                   : "subset '" + w->subset + "' of split '" + w->name + "' is empty: nothing to export");
        out.splits.push_back(std::move(sel));
    }
    for (const ExportSplit& w : wanted)
        if (!pack.find_split(w.name)) fail("no split '" + w.name + "' (its splits: " + names_of(splits) + ")");

    size_t selected = 0, kept = 0;
    for (SplitSelection& sel : out.splits) {
        selected += sel.indices.size();
        if (o.shard) {
            std::vector<std::string_view> names;
            std::vector<int32_t> labels;
            for (uint32_t i : sel.indices) {
                Record r = sel.source[i];
                names.push_back(r.name);
                labels.push_back(r.label);
            }
            std::vector<uint32_t> part;
            for (uint32_t p : shard_positions(names, labels, o.shard->index, o.shard->count)) part.push_back(sel.indices[p]);
            sel.indices = std::move(part);
        }
        kept += sel.indices.size();
    }
    if (selected == 0) fail("the selection holds no record: nothing to export");
    if (kept == 0)
        fail("shard " + std::to_string(o.shard->index) + "/" + std::to_string(o.shard->count) +
             " holds no record (the selection has " + std::to_string(selected) + ", fewer than " +
             std::to_string(o.shard->count) + " shards)");

    // Source subsets: carried when every one of their records is in the output split.
    for (const Subset& sub : pack.subsets()) {
        const std::string what = "subset '" + std::string(sub.name()) + "' of split '" + std::string(sub.split().name()) + "'";
        auto sel = std::find_if(out.splits.begin(), out.splits.end(),
                                [&](const SplitSelection& s) { return s.source.name() == sub.split().name(); });
        if (sel == out.splits.end()) {
            out.dropped.push_back(what + ": its split is not exported");
            continue;
        }
        size_t missing = 0;
        if (std::optional<std::vector<uint32_t>> at = positions_in(sub, sel->indices, missing))
            out.carried.push_back({sub, std::move(*at)});
        else
            out.dropped.push_back(what + ": " + std::to_string(missing) + " of its " + std::to_string(sub.size()) +
                                  " records are not in the export");
    }
    return out;
}

}  // namespace imgpack::exporting
