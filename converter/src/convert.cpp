#include <imgpack/convert.hpp>

#include <imgpack/archive_source.hpp>
#include <imgpack/image_info.hpp>
#include <imgpack/pack_writer.hpp>
#include <imgpack/text_lists.hpp>

#include "ordered_pipeline.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

namespace imgpack {

namespace {

namespace fmt = imgpack::format;

// Bytes of images read but not yet written: bounds the converter's memory.
constexpr size_t kMaxBytesInFlight = 256u << 20;

enum SplitId { kTrain = 0, kValidation = 1, kTest = 2 };
constexpr const char* kSplitNames[] = {"train", "validation", "test"};

struct Item {
    SplitId split = kTrain;
    Member member;
    uint64_t xxh3 = 0;
    ImageInfo info;
    std::string bad;  // why the image was rejected; reported in archive order by the consumer
};

struct PendingSplit {
    std::vector<RecordDef> records;   // in archive order until sorted
    std::vector<std::string> groups;  // train: each record's WNID, from its per-class tar
    std::vector<std::string> wheres;  // each record's archive, for messages
};

bool all_digits(std::string_view s, size_t min, size_t max) {
    if (s.size() < min || s.size() > max) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

bool is_wnid(std::string_view s) { return s.size() == 9 && s[0] == 'n' && all_digits(s.substr(1), 8, 8); }

// ImageNet's own file names; anything else in its archives means the wrong archive, or damage.
std::string naming_problem(SplitId split, const Member& m) {
    std::string_view n = m.name;
    auto numbered = [&](std::string_view prefix, size_t min_digits, size_t max_digits) {
        return n.size() > prefix.size() + 5 && n.substr(0, prefix.size()) == prefix && n.ends_with(".JPEG") &&
               all_digits(n.substr(prefix.size(), n.size() - prefix.size() - 5), min_digits, max_digits);
    };
    switch (split) {
        case kTrain:
            if (!is_wnid(m.group))
                return "the per-class tar '" + m.group + ".tar' is not named after a WNID (n + 8 digits)";
            if (!numbered(m.group + "_", 1, 9)) return "a train file name must be " + m.group + "_<number>.JPEG";
            return "";
        case kValidation:
            return numbered("ILSVRC2012_val_", 8, 8) ? "" : "a validation file name must be ILSVRC2012_val_<8 digits>.JPEG";
        case kTest:
            return numbered("ILSVRC2012_test_", 8, 8) ? "" : "a test file name must be ILSVRC2012_test_<8 digits>.JPEG";
    }
    return "";
}

void log(const ConvertOptions& o, const std::string& line) {
    if (o.log) o.log(line);
}

// Sorts by file name. Of records with the same name, the first in archive order is kept and
// each later one is reported to `duplicate` (which throws, or records it as skipped).
template <class OnDuplicate>
void sort_split(PendingSplit& p, OnDuplicate&& duplicate) {
    std::vector<size_t> order(p.records.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return p.records[a].name < p.records[b].name; });
    PendingSplit sorted;
    sorted.records.reserve(order.size());
    for (size_t i : order) {
        if (!sorted.records.empty() && sorted.records.back().name == p.records[i].name) {
            duplicate(p.wheres[i] + ": " + p.records[i].name,
                      "the file name appears twice in the split (first in " + sorted.wheres.back() + ")");
            continue;
        }
        sorted.records.push_back(std::move(p.records[i]));
        sorted.wheres.push_back(std::move(p.wheres[i]));
        if (!p.groups.empty()) sorted.groups.push_back(std::move(p.groups[i]));
    }
    p = std::move(sorted);
}

std::optional<uint32_t> find_name(const std::vector<RecordDef>& records, const std::string& name) {
    auto it = std::lower_bound(records.begin(), records.end(), name,
                               [](const RecordDef& r, const std::string& n) { return r.name < n; });
    if (it == records.end() || it->name != name) return std::nullopt;
    return static_cast<uint32_t>(it - records.begin());
}

bool valid_subset_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
    return true;
}

void check_options(const ConvertOptions& o) {
    if (o.train.empty() && o.val.empty() && o.test.empty())
        throw std::runtime_error("imgpack: nothing to convert: give at least one of --train, --val, --test");
    if (!o.val_labels.empty() && o.val.empty())
        throw std::runtime_error("imgpack: --val-labels needs --val");
    if (!o.subsets.empty() && o.train.empty())
        throw std::runtime_error("imgpack: subsets are lists of train images: --subset needs --train");
    if (o.output.empty()) throw std::runtime_error("imgpack: no output file given");
    for (const auto& p : {o.train, o.val, o.val_labels, o.test})
        if (!p.empty() && !std::filesystem::is_regular_file(p))
            throw std::runtime_error("imgpack: " + p.string() + ": no such file");
    for (size_t i = 0; i < o.subsets.size(); ++i) {
        const auto& [name, file] = o.subsets[i];
        if (!valid_subset_name(name))
            throw std::runtime_error("imgpack: subset name '" + name +
                                     "' must be 1-64 characters of letters, digits, '_', '-', '.'");
        if (!std::filesystem::is_regular_file(file))
            throw std::runtime_error("imgpack: subset '" + name + "': " + file.string() + ": no such file");
        for (size_t j = 0; j < i; ++j)
            if (o.subsets[j].first == name) throw std::runtime_error("imgpack: subset '" + name + "' given twice");
    }
}

// Validation labels: line i is the WNID of the i-th validation file in sorted name order.
void label_validation(const ConvertOptions& o, PendingSplit& val, const std::map<std::string, int32_t>& class_index) {
    std::vector<std::string> wnids = read_lines(o.val_labels);
    if (wnids.size() != val.records.size())
        throw std::runtime_error("imgpack: " + o.val_labels.string() + " has " + std::to_string(wnids.size()) +
                                 " labels but " + o.val.string() + " has " + std::to_string(val.records.size()) +
                                 " images; they must match one to one");
    for (size_t i = 0; i < wnids.size(); ++i) {
        auto it = class_index.find(wnids[i]);
        if (it == class_index.end())
            throw std::runtime_error("imgpack: " + o.val_labels.string() + " line " + std::to_string(i + 1) +
                                     ": WNID '" + wnids[i] + "' (for " + val.records[i].name +
                                     ") is not a class of the train archive");
        val.records[i].label = it->second;
    }
}

SubsetDef make_subset(const std::string& name, const std::filesystem::path& list, const std::vector<RecordDef>& train) {
    std::vector<std::string> names = read_lines(list);
    SubsetDef sub{name, "train", "list:" + list.filename().string(), {}};
    std::vector<std::string> missing;
    for (const std::string& n : names) {
        if (auto i = find_name(train, n)) sub.indices.push_back(*i);
        else missing.push_back(n);
    }
    if (!missing.empty()) {
        std::string first;
        for (size_t i = 0; i < missing.size() && i < 5; ++i) first += (i ? ", " : "") + missing[i];
        throw std::runtime_error("imgpack: subset '" + name + "': " + list.string() + " names " +
                                 std::to_string(missing.size()) + " file(s) not in the train split: " + first +
                                 (missing.size() > 5 ? ", ..." : ""));
    }
    std::sort(sub.indices.begin(), sub.indices.end());
    sub.indices.erase(std::unique(sub.indices.begin(), sub.indices.end()), sub.indices.end());
    return sub;
}

}  // namespace

ConvertSummary convert(const ConvertOptions& o) {
    const auto started = std::chrono::steady_clock::now();
    check_options(o);
    PackWriter writer(o.output, o.overwrite);
    ConvertSummary summary;

    unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::unique_ptr<ImageInspector>> inspectors;
    for (unsigned i = 0; i < jobs; ++i) inspectors.push_back(std::make_unique<ImageInspector>());

    PendingSplit pending[3];
    const std::filesystem::path archives[3] = {o.train, o.val, o.test};
    PackContents contents;

    // An entry that cannot be packed: stop, or leave it out and say so.
    auto bad_entry = [&](const std::string& split, std::string where, std::string reason) {
        if (o.on_bad_image == ConvertOptions::OnBadImage::fail)
            throw std::runtime_error("imgpack: " + where + ": " + reason +
                                     " (--on-bad-image=skip leaves such entries out)");
        log(o, "skipped " + where + ": " + reason);
        summary.skipped.push_back(where + ": " + reason);
        contents.skipped.push_back({split, std::move(where), std::move(reason)});
    };

    // Hash and header parsing run on the workers; blobs are appended in archive order.
    OrderedPipeline<Item> pipeline(
        jobs, kMaxBytesInFlight,
        [&](Item& it, unsigned w) {
            it.bad = !it.member.problem.empty() ? it.member.problem : naming_problem(it.split, it.member);
            if (!it.bad.empty()) return;
            it.xxh3 = XXH3_64bits(it.member.bytes.data(), it.member.bytes.size());
            try {
                it.info = inspectors[w]->inspect(it.member.bytes);
            } catch (const BadImage& e) {
                it.bad = e.what();
            }
        },
        [&](Item&& it) {
            std::string where = it.member.where + ": " + it.member.name;
            if (!it.bad.empty()) {
                bad_entry(kSplitNames[it.split], std::move(where), std::move(it.bad));
                return;
            }
            RecordDef r;
            r.name = std::move(it.member.name);
            r.blob_offset = writer.append_blob(it.member.bytes);
            r.blob_size = static_cast<uint32_t>(it.member.bytes.size());
            r.xxh3 = it.xxh3;
            r.width = it.info.width;
            r.height = it.info.height;
            r.codec = it.info.codec;
            r.color_space = it.info.color_space;
            if (it.info.needs_repair())
                summary.needs_repair.push_back(std::string(kSplitNames[it.split]) + "/" + r.name + " (" +
                                               codec_name(it.info.codec) + ", " +
                                               color_space_name(it.info.color_space) + ")");
            PendingSplit& p = pending[it.split];
            if (it.split == kTrain) p.groups.push_back(std::move(it.member.group));
            p.wheres.push_back(std::move(it.member.where));
            p.records.push_back(std::move(r));
        });

    for (SplitId id : {kTrain, kValidation, kTest}) {
        if (archives[id].empty()) continue;
        log(o, std::string("reading ") + kSplitNames[id] + " from " + archives[id].string());
        auto sink = [&](Member&& m) {
            size_t bytes = m.bytes.size();
            pipeline.push(Item{id, std::move(m), 0, {}, {}}, bytes);
        };
        if (id == kTrain) read_nested_archive(archives[id], sink);
        else read_flat_archive(archives[id], sink);
    }
    pipeline.finish();

    for (SplitId id : {kTrain, kValidation, kTest})
        if (!archives[id].empty())
            sort_split(pending[id], [&](std::string where, std::string why) {
                bad_entry(kSplitNames[id], std::move(where), std::move(why));
            });

    // Classes: the sorted WNIDs of the train archive's per-class tars; without a train split,
    // the sorted WNIDs the validation labels use.
    std::map<std::string, int32_t> class_index;
    if (!o.train.empty()) {
        for (const std::string& g : pending[kTrain].groups) class_index.emplace(g, 0);
    } else if (!o.val_labels.empty()) {
        for (const std::string& w : read_lines(o.val_labels)) class_index.emplace(w, 0);
    }
    for (auto& [wnid, index] : class_index) {
        index = static_cast<int32_t>(contents.classes.size());
        contents.classes.push_back({wnid, ""});
    }
    for (size_t i = 0; i < pending[kTrain].records.size(); ++i)
        pending[kTrain].records[i].label = class_index.at(pending[kTrain].groups[i]);
    if (!o.val_labels.empty()) label_validation(o, pending[kValidation], class_index);
    else if (!o.val.empty()) log(o, "note: no --val-labels given: validation records are unlabeled");

    for (const auto& [name, list] : o.subsets) {
        contents.subsets.push_back(make_subset(name, list, pending[kTrain].records));
        summary.subsets.emplace_back(name, contents.subsets.back().indices.size());
    }
    for (SplitId id : {kTrain, kValidation, kTest}) {
        if (archives[id].empty()) continue;
        SplitSummary s{kSplitNames[id], pending[id].records.size(), 0};
        for (const RecordDef& r : pending[id].records) s.bytes += r.blob_size;
        summary.splits.push_back(s);
        contents.splits.push_back({kSplitNames[id], std::move(pending[id].records)});
    }
    summary.classes = contents.classes.size();

    writer.finish(contents);
    summary.pack_bytes = std::filesystem::file_size(o.output);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

}  // namespace imgpack
