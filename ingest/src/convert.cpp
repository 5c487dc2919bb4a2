#include <imgpack/convert.hpp>

#include "archive_source.hpp"
#include "image_info.hpp"
#include "image_repair.hpp"
#include "label_sources.hpp"
#include <imgpack/pack_writer.hpp>
#include "subsets.hpp"
#include "text_lists.hpp"

#include "ordered_pipeline.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace imgpack {

namespace {

namespace fmt = imgpack::format;

// Bytes of images read but not yet written: bounds the converter's memory.
constexpr size_t kMaxBytesInFlight = 256u << 20;

enum SplitId { kTrain = 0, kValidation = 1, kTest = 2 };
constexpr const char* kSplitNames[] = {"train", "validation", "test"};

struct Item {
    SplitId split = kTrain;
    bool from_patch = false;
    Member member;
    uint64_t xxh3 = 0;
    ImageInfo info;
    std::string bad;       // why the entry cannot be packed; reported in archive order by the consumer
    std::string repaired;  // what the repair did, when it did
};

// Distinct strings stored once, named by a u32: a record's group and archive are each one of
// about a thousand values, and at 1.28M records a std::string apiece cost ~250 B per record.
class StringPool {
public:
    uint32_t add(std::string&& s) {
        auto [it, added] = index_.try_emplace(s, static_cast<uint32_t>(values_.size()));
        if (added) values_.push_back(std::move(s));
        return it->second;
    }
    const std::string& operator[](uint32_t id) const { return values_[id]; }

private:
    std::vector<std::string> values_;
    std::unordered_map<std::string, uint32_t> index_;
};

struct PendingSplit {
    std::vector<RecordDef> records;  // in archive order until sorted
    std::vector<uint32_t> groups;    // each record's folder or per-class tar (a WNID), or "": in `pool`
    std::vector<uint32_t> wheres;    // each record's archive, for messages: in `pool`
    std::vector<bool> from_patch;    // test: the record came from the patch archive
    StringPool pool;

    const std::string& group(size_t i) const { return pool[groups[i]]; }
    const std::string& where(size_t i) const { return pool[wheres[i]]; }
};

void log(const ConvertOptions& o, const std::string& line) {
    if (o.log) o.log(line);
}

bool all_digits(std::string_view s, size_t min, size_t max) {
    if (s.size() < min || s.size() > max) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// ImageNet's own file names; anything else in its archives means the wrong archive, or damage.
std::string naming_problem(SplitId split, const Member& m) {
    std::string_view n = m.name;
    auto numbered = [&](std::string_view prefix, size_t min_digits, size_t max_digits) {
        return n.size() > prefix.size() + 5 && n.substr(0, prefix.size()) == prefix && n.ends_with(".JPEG") &&
               all_digits(n.substr(prefix.size(), n.size() - prefix.size() - 5), min_digits, max_digits);
    };
    if (!m.group.empty() && !looks_like_wnid(m.group))
        return "'" + m.group + "' is not a WNID (n + 8 digits), so it cannot name a class";
    switch (split) {
        case kTrain:
            if (m.group.empty()) return "a train image must be inside a per-class <WNID>.tar or <WNID>/ folder";
            if (!numbered(m.group + "_", 1, 9)) return "a train file name must be " + m.group + "_<number>.JPEG";
            return "";
        case kValidation:
            return numbered("ILSVRC2012_val_", 8, 8) ? "" : "a validation file name must be ILSVRC2012_val_<8 digits>.JPEG";
        case kTest:
            if (!m.group.empty()) return "test images are unlabeled: they cannot be in class folders";
            return numbered("ILSVRC2012_test_", 8, 8) ? "" : "a test file name must be ILSVRC2012_test_<8 digits>.JPEG";
    }
    return "";
}

// Sorts by file name. Of records with the same name: a patch record replaces the one record it
// patches; otherwise the first in archive order is kept and each later one is reported to
// `duplicate` (which throws, or records it as skipped). Returns the number of patched records.
template <class OnDuplicate>
uint64_t sort_split(PendingSplit& p, OnDuplicate&& duplicate) {
    std::vector<size_t> order(p.records.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return p.records[a].name < p.records[b].name; });
    const bool patches = !p.from_patch.empty();
    PendingSplit sorted;
    sorted.records.reserve(order.size());
    uint64_t patched = 0;
    for (size_t k = 0; k < order.size();) {
        size_t end = k + 1;
        while (end < order.size() && p.records[order[end]].name == p.records[order[k]].name) ++end;
        size_t keep = order[k];
        if (patches && end - k == 2 && !p.from_patch[order[k]] && p.from_patch[order[k + 1]]) {
            keep = order[k + 1];  // the patched image
            ++patched;
        } else {
            for (size_t d = k + 1; d < end; ++d)
                duplicate(p.where(order[d]) + ": " + p.records[order[d]].name,
                          "the file name appears twice in the split (first in " + p.where(keep) + ")");
        }
        sorted.records.push_back(std::move(p.records[keep]));
        sorted.wheres.push_back(p.wheres[keep]);
        sorted.groups.push_back(p.groups[keep]);
        k = end;
    }
    sorted.pool = std::move(p.pool);
    p = std::move(sorted);
    return patched;
}

bool valid_subset_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
    return true;
}

void require_file(const std::filesystem::path& p, const char* what) {
    if (!p.empty() && !std::filesystem::is_regular_file(p))
        throw std::runtime_error("imgpack: " + p.string() + ": no such file (" + what + ")");
}

void check_options(const ConvertOptions& o) {
    if (o.train.empty() && o.val.empty() && o.test.empty())
        throw std::runtime_error("imgpack: nothing to convert: give at least one of --train, --val, --test");
    if (!o.val_labels.empty() && o.val.empty()) throw std::runtime_error("imgpack: --val-labels needs --val");
    if (!o.test_patch.empty() && o.test.empty()) throw std::runtime_error("imgpack: --test-patch needs --test");
    if (!o.subsets.empty() && o.train.empty())
        throw std::runtime_error("imgpack: subsets are subsets of the train split: --subset needs --train");
    if (o.output.empty()) throw std::runtime_error("imgpack: no output file given");
    for (const auto& p : {o.train, o.val, o.test})
        if (!p.empty() && !std::filesystem::exists(p)) throw std::runtime_error("imgpack: " + p.string() + ": no such file");
    for (const auto& [p, what] : {std::pair{o.val_labels, "--val-labels"}, std::pair{o.class_names, "--class-names"}})
        if (!p.empty() && !std::filesystem::exists(p))
            throw std::runtime_error("imgpack: " + p.string() + ": no such file or folder (" + what + ")");
    require_file(o.test_patch, "--test-patch");
    require_file(o.classes, "--classes");
    for (size_t i = 0; i < o.subsets.size(); ++i) {
        const SubsetRequest& r = o.subsets[i];
        if (!valid_subset_name(r.name))
            throw std::runtime_error("imgpack: subset name '" + r.name +
                                     "' must be 1-64 characters of letters, digits, '_', '-', '.'");
        if (r.list.empty() && !(r.fraction > 0 && r.fraction <= 1))
            throw std::runtime_error("imgpack: subset '" + r.name + "': a fraction must be in (0, 1]");
        if (!r.list.empty() && !std::filesystem::is_regular_file(r.list))
            throw std::runtime_error("imgpack: subset '" + r.name + "': " + r.list.string() + ": no such file");
        for (size_t j = 0; j < i; ++j)
            if (o.subsets[j].name == r.name) throw std::runtime_error("imgpack: subset '" + r.name + "' given twice");
    }
}

// The class table: --classes when given, else the sorted WNIDs of the train split's classes,
// else the sorted WNIDs that label the validation split (its folders or its labels file).
std::vector<std::string> resolve_classes(const ConvertOptions& o, const PendingSplit (&pending)[3],
                                         const std::vector<std::string>& val_wnids) {
    if (!o.classes.empty()) return read_class_list(o.classes);
    std::set<std::string> found;
    if (!o.train.empty()) {
        const PendingSplit& train = pending[kTrain];
        std::vector<bool> seen;
        for (uint32_t g : train.groups) {
            if (g >= seen.size()) seen.resize(g + 1);
            if (!seen[g]) found.insert(train.pool[g]);
            seen[g] = true;
        }
    }
    else found.insert(val_wnids.begin(), val_wnids.end());
    found.erase("");
    return {found.begin(), found.end()};
}

// The WNID of each validation record (sorted by name), or an empty list when unlabeled.
std::vector<std::string> validation_wnids(const ConvertOptions& o, const PendingSplit& val, std::vector<std::string>& notes) {
    const bool in_folders = std::any_of(val.groups.begin(), val.groups.end(), [&](uint32_t g) { return !val.pool[g].empty(); });
    if (in_folders) {
        if (!o.val_labels.empty())
            throw std::runtime_error("imgpack: " + o.val.string() +
                                     " holds class folders, which label it already: drop --val-labels");
        std::vector<std::string> wnids;
        for (size_t i = 0; i < val.groups.size(); ++i) {
            if (val.group(i).empty())
                throw std::runtime_error("imgpack: " + val.where(i) + ": " + val.records[i].name +
                                         " is outside the class folders of a labeled validation folder");
            wnids.push_back(val.group(i));
        }
        return wnids;
    }
    if (o.val_labels.empty()) return {};
    ValLabels labels = read_val_labels(o.val_labels);
    notes.push_back("validation labels: " + labels.description + ": " + o.val_labels.string());
    std::vector<std::string> names;
    names.reserve(val.records.size());
    for (const RecordDef& r : val.records) names.push_back(r.name);
    return labels.for_files(names);
}

}  // namespace

ConvertSummary convert(const ConvertOptions& o) {
    const auto started = std::chrono::steady_clock::now();
    check_options(o);
    PackWriter writer(o.output, o.overwrite);
    ConvertSummary summary;

    unsigned jobs = o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::unique_ptr<ImageInspector>> inspectors;
    std::vector<std::unique_ptr<ImageRepairer>> repairers;
    struct WorkerTimes {  // one per worker: no sharing, no atomics on the hot path
        double hashing = 0, parsing = 0, repairing = 0;
    };
    std::vector<WorkerTimes> worker_times(jobs);
    for (unsigned i = 0; i < jobs; ++i) {
        inspectors.push_back(std::make_unique<ImageInspector>());
        repairers.push_back(std::make_unique<ImageRepairer>());
    }

    PendingSplit pending[3];
    const std::filesystem::path sources[3] = {o.train, o.val, o.test};
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

    // Progress of the source being read, reported from the consumer about ten times a second.
    Progress progress;
    std::chrono::steady_clock::time_point source_started, last_report;
    auto report = [&](bool force) {
        if (!o.progress) return;
        auto now = std::chrono::steady_clock::now();
        if (!force && now - last_report < std::chrono::milliseconds(100)) return;
        last_report = now;
        progress.seconds = std::chrono::duration<double>(now - source_started).count();
        o.progress(progress);
    };

    // Hash and header parsing run on the workers; blobs are appended in archive order.
    OrderedPipeline<Item> pipeline(
        jobs, kMaxBytesInFlight,
        [&](Item& it, unsigned w) {
            it.bad = !it.member.problem.empty() ? it.member.problem : naming_problem(it.split, it.member);
            if (!it.bad.empty()) return;
            using clock = std::chrono::steady_clock;
            auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
            auto t0 = clock::now();
            try {
                it.info = inspectors[w]->inspect(it.member.bytes);
                if (o.repair && it.info.needs_repair()) {
                    auto t1 = clock::now();
                    RepairResult fixed = repairers[w]->repair(it.member.bytes, it.info);
                    it.member.bytes = std::move(fixed.jpeg);
                    it.repaired = std::move(fixed.what);
                    it.info = inspectors[w]->inspect(it.member.bytes);
                    worker_times[w].repairing += seconds_since(t1);
                }
            } catch (const BadImage& e) {
                it.bad = e.what();
                return;
            }
            worker_times[w].parsing += seconds_since(t0);
            auto t2 = clock::now();
            it.xxh3 = XXH3_64bits(it.member.bytes.data(), it.member.bytes.size());
            worker_times[w].hashing += seconds_since(t2);
        },
        [&](Item&& it) {
            progress.source_done = std::max(progress.source_done, it.member.position);
            report(false);
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
            if (!it.repaired.empty()) {
                r.flags |= fmt::kRecordRepaired;
                summary.repaired.push_back(std::string(kSplitNames[it.split]) + "/" + r.name + " (" + it.repaired + ")");
            } else if (it.info.needs_repair()) {
                summary.needs_repair.push_back(std::string(kSplitNames[it.split]) + "/" + r.name + " (" +
                                               codec_name(it.info.codec) + ", " +
                                               color_space_name(it.info.color_space) + ")");
            }
            PendingSplit& p = pending[it.split];
            p.groups.push_back(p.pool.add(std::move(it.member.group)));
            p.wheres.push_back(p.pool.add(std::move(it.member.where)));
            if (it.split == kTest) p.from_patch.push_back(it.from_patch);
            progress.images++;
            progress.image_bytes += r.blob_size;
            p.records.push_back(std::move(r));
        });

    auto feed = [&](SplitId id, bool patch) {
        return [&pipeline, id, patch](Member&& m) {
            size_t bytes = m.bytes.size();
            pipeline.push(Item{id, patch, std::move(m), 0, {}, {}, {}}, bytes);
        };
    };
    // Sources are read one after another; the pipeline is drained between them so that each
    // source's progress ends where it should.
    auto read_one = [&](const char* split, const std::filesystem::path& source, auto&& read) {
        pipeline.wait_idle();
        progress = Progress{split, 0, 0, 0, std::filesystem::is_regular_file(source) ? std::filesystem::file_size(source) : 0};
        source_started = last_report = std::chrono::steady_clock::now();
        log(o, std::string("reading ") + split + " from " + source.string());
        read();
        pipeline.wait_idle();
        progress.done = true;
        if (progress.source_total) progress.source_done = progress.source_total;
        report(true);
    };
    timespec cpu0{}, cpu1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    for (SplitId id : {kTrain, kValidation, kTest})
        if (!sources[id].empty())
            read_one(kSplitNames[id], sources[id], [&] { read_source(sources[id], id == kTrain, feed(id, false)); });
    if (!o.test_patch.empty())
        read_one("test patch", o.test_patch, [&] { read_flat_archive(o.test_patch, feed(kTest, true), /*one_folder=*/true); });
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    pipeline.finish();
    summary.times.reading = double(cpu1.tv_sec - cpu0.tv_sec) + double(cpu1.tv_nsec - cpu0.tv_nsec) * 1e-9;
    summary.times.workers = pipeline.worker_cpu_seconds();
    summary.times.writing = pipeline.consumer_cpu_seconds();
    for (const WorkerTimes& t : worker_times) {
        summary.times.hashing += t.hashing;
        summary.times.parsing += t.parsing - t.repairing;
        summary.times.repairing += t.repairing;
    }

    for (SplitId id : {kTrain, kValidation, kTest}) {
        if (sources[id].empty()) continue;
        uint64_t patched = sort_split(pending[id], [&](std::string where, std::string why) {
            bad_entry(kSplitNames[id], std::move(where), std::move(why));
        });
        if (id == kTest && !o.test_patch.empty()) {
            summary.patched = patched;
            summary.notes.push_back("the test patch replaced " + std::to_string(patched) + " test image(s)");
        }
    }

    // Classes and labels.
    const std::vector<std::string> val_wnids = validation_wnids(o, pending[kValidation], summary.notes);
    std::map<std::string, int32_t> class_index;
    for (const std::string& wnid : resolve_classes(o, pending, val_wnids)) {
        class_index.emplace(wnid, static_cast<int32_t>(contents.classes.size()));
        contents.classes.push_back({wnid, ""});
    }
    if (!o.class_names.empty()) {
        std::map<std::string, std::string> names = read_class_names(o.class_names);
        size_t unnamed = 0;
        for (ClassDef& c : contents.classes) {
            auto it = names.find(c.wnid);
            if (it != names.end()) c.name = it->second;
            else ++unnamed;
        }
        if (unnamed)
            summary.notes.push_back(std::to_string(unnamed) + " class(es) have no name in " + o.class_names.string());
    }
    // `where` names the record for the message: a callable, so no string is built per record.
    auto label_of = [&](const std::string& wnid, auto&& where) {
        auto it = class_index.find(wnid);
        if (it == class_index.end())
            throw std::runtime_error("imgpack: " + where() + ": class " + wnid + " is not in the class list" +
                                     (o.classes.empty() ? std::string(" (the classes of the train split)")
                                                        : " (" + o.classes.string() + ")"));
        return it->second;
    };
    PendingSplit& train = pending[kTrain];
    for (size_t i = 0; i < train.records.size(); ++i)
        train.records[i].label = label_of(train.group(i), [&] { return train.where(i) + ": " + train.records[i].name; });
    PendingSplit& val = pending[kValidation];
    for (size_t i = 0; i < val_wnids.size(); ++i)
        val.records[i].label = label_of(val_wnids[i], [&] {
            return o.val_labels.empty() ? val.where(i) + ": " + val.records[i].name
                                        : o.val_labels.string() + " line " + std::to_string(i + 1) + " (for " +
                                              val.records[i].name + ")";
        });
    if (!o.val.empty() && val_wnids.empty())
        summary.notes.push_back("no validation labels (--val-labels or class folders): validation records are unlabeled");

    for (const SubsetRequest& r : o.subsets) {
        std::vector<std::string> missing;
        contents.subsets.push_back(r.list.empty() ? balanced_subset(r.name, r.fraction, o.seed, pending[kTrain].records,
                                                                    contents.classes)
                                                  : subset_from_list(r.name, r.list, pending[kTrain].records,
                                                                     o.allow_missing, missing));
        if (!missing.empty())
            summary.notes.push_back("subset '" + r.name + "': left out " + std::to_string(missing.size()) +
                                    " listed name(s) not in the train split, e.g. " + missing[0]);
        summary.subsets.emplace_back(r.name, contents.subsets.back().indices.size());
    }
    for (SplitId id : {kTrain, kValidation, kTest}) {
        if (sources[id].empty()) continue;
        SplitSummary s{kSplitNames[id], pending[id].records.size(), 0};
        for (const RecordDef& r : pending[id].records) s.bytes += r.blob_size;
        summary.splits.push_back(s);
        contents.splits.push_back({kSplitNames[id], std::move(pending[id].records)});
    }
    summary.classes = contents.classes.size();
    for (const std::string& n : summary.notes) log(o, "note: " + n);

    const auto finishing = std::chrono::steady_clock::now();
    writer.finish(contents);
    summary.times.finishing = std::chrono::duration<double>(std::chrono::steady_clock::now() - finishing).count();
    summary.pack_bytes = std::filesystem::file_size(o.output);
    summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return summary;
}

}  // namespace imgpack
