// The convert pipeline, in stages:
//   1. read inputs:      every list the user gave is read and checked; nothing of the archives yet
//                        (inputs.hpp);
//   2. stream train:     the reading thread feeds the workers (header parse, repair, hash), whose
//                        results the consumer appends to the pack in archive order;
//   3. resolve train:    sort, class table, train labels, subsets (so a subset list that names
//                        files train lacks fails before validation and test are read);
//   4. stream validation, test and the test patch, each then sorted;
//   5. resolve labels:   validation labels (and the class table when there is no train);
//   6. write:            the metadata, fsync and rename.
#include <imgpack/convert.hpp>

#include "archive_source.hpp"
#include "image_info.hpp"
#include "image_repair.hpp"
#include "inputs.hpp"
#include "label_sources.hpp"
#include "ordered_pipeline.hpp"
#include "subsets.hpp"

#include <imgpack/balanced_subset.hpp>
#include <imgpack/pack_writer.hpp>

#include <xxhash.h>

#include <algorithm>
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
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bytes of images read but not yet written: bounds the converter's memory.
constexpr size_t kMaxBytesInFlight = 256u << 20;

enum SplitId { kTrain = 0, kValidation = 1, kTest = 2 };
constexpr SplitId kSplits[] = {kTrain, kValidation, kTest};
constexpr const char* kSplitNames[] = {"train", "validation", "test"};

// --- stage timing (StageTimes): scoped, so the stages themselves carry no bookkeeping ----------

// Adds the wall seconds of its scope to `total`.
class WallTimer {
public:
    explicit WallTimer(double& total) : total_(total), start_(Clock::now()) {}
    ~WallTimer() { total_ += std::chrono::duration<double>(Clock::now() - start_).count(); }
    WallTimer(const WallTimer&) = delete;
    WallTimer& operator=(const WallTimer&) = delete;

private:
    double& total_;
    Clock::time_point start_;
};

// Adds the CPU seconds the calling thread spends in its scope to `total`.
class ThreadCpuTimer {
public:
    explicit ThreadCpuTimer(double& total) : total_(total), start_(now()) {}
    ~ThreadCpuTimer() { total_ += now() - start_; }
    ThreadCpuTimer(const ThreadCpuTimer&) = delete;
    ThreadCpuTimer& operator=(const ThreadCpuTimer&) = delete;

private:
    static double now() {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
    }
    double& total_;
    double start_;
};

// --- what the stream stages produce ----------------------------------------------------------

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

// Progress of the source being read: reported from the consumer about ten times a second, and
// once when the source is done.
class SourceProgress {
public:
    explicit SourceProgress(const std::function<void(const Progress&)>& sink) : sink_(sink) {}

    void start(const char* split, const fs::path& source) {
        std::error_code ec;
        now_ = Progress{split, 0, 0, 0, fs::is_regular_file(source, ec) ? fs::file_size(source, ec) : 0};
        started_ = last_ = Clock::now();
    }
    void advance(uint64_t position, const RecordDef* packed) {
        now_.source_done = std::max(now_.source_done, position);
        if (packed) {
            now_.images++;
            now_.image_bytes += packed->blob_size;
        }
        report(false);
    }
    void done() {
        now_.done = true;
        if (now_.source_total) now_.source_done = now_.source_total;
        report(true);
    }

private:
    void report(bool force) {
        if (!sink_) return;
        auto t = Clock::now();
        if (!force && t - last_ < std::chrono::milliseconds(100)) return;
        last_ = t;
        now_.seconds = std::chrono::duration<double>(t - started_).count();
        sink_(now_);
    }
    const std::function<void(const Progress&)>& sink_;
    Progress now_;
    Clock::time_point started_, last_;
};

// --- the conversion's stages -----------------------------------------------------------------

class Conversion {
public:
    Conversion(const ConvertOptions& o, Inputs inputs)
        : o_(o),
          in_(std::move(inputs)),
          sources_{o.train, o.val, o.test},
          writer_(o.output, o.overwrite),
          jobs_(o.jobs ? o.jobs : std::max(1u, std::thread::hardware_concurrency())),
          worker_times_(jobs_),
          progress_(o.progress) {
        for (unsigned i = 0; i < jobs_; ++i) {
            inspectors_.push_back(std::make_unique<ImageInspector>());
            repairers_.push_back(std::make_unique<ImageRepairer>());
        }
        pipeline_.emplace(
            jobs_, kMaxBytesInFlight, [this](Item& it, unsigned w) { inspect(it, w); },
            [this](Item&& it) { collect(std::move(it)); });
    }

    ConvertSummary run() {
        if (given(kTrain)) {
            stream(kTrain);
            settle(kTrain);
            resolve_classes();
            label_train();
            make_subsets();
        }
        if (given(kValidation)) {
            stream(kValidation);
            settle(kValidation);
        }
        if (given(kTest)) {
            stream(kTest);
            settle(kTest);
        }
        finish_stream();
        label_validation();
        write();
        return std::move(summary_);
    }

private:
    bool given(SplitId id) const { return !sources_[id].empty(); }

    void log(const std::string& line) const {
        if (o_.log) o_.log(line);
    }

    // An entry that cannot be packed: stop, or leave it out and say so.
    void bad_entry(SplitId split, std::string where, std::string reason) {
        if (o_.on_bad_image == ConvertOptions::OnBadImage::fail)
            throw std::runtime_error("imgpack: " + where + ": " + reason + " (--on-bad-image=skip leaves such entries out)");
        log("skipped " + where + ": " + reason);
        summary_.skipped.push_back(where + ": " + reason);
        contents_.skipped.push_back({kSplitNames[split], std::move(where), std::move(reason)});
    }

    // --- 2 and 4: streaming a source through the pipeline ---

    // On a worker: the entry's header, its repair, its hash.
    void inspect(Item& it, unsigned w) {
        it.bad = !it.member.problem.empty() ? it.member.problem : naming_problem(it.split, it.member);
        if (!it.bad.empty()) return;
        WorkerTimes& t = worker_times_[w];
        try {
            {
                WallTimer timer(t.parsing);
                it.info = inspectors_[w]->inspect(it.member.bytes);
            }
            if (o_.repair && it.info.needs_repair()) {
                WallTimer timer(t.repairing);
                RepairResult fixed = repairers_[w]->repair(it.member.bytes, it.info);
                it.member.bytes = std::move(fixed.jpeg);
                it.repaired = std::move(fixed.what);
                it.info = inspectors_[w]->inspect(it.member.bytes);
            }
        } catch (const BadImage& e) {
            it.bad = e.what();
            return;
        }
        WallTimer timer(t.hashing);
        it.xxh3 = XXH3_64bits(it.member.bytes.data(), it.member.bytes.size());
    }

    // On the consumer, in archive order: the blob into the pack, the record into its split.
    void collect(Item&& it) {
        if (!it.bad.empty()) {
            progress_.advance(it.member.position, nullptr);
            bad_entry(it.split, it.member.where + ": " + it.member.name, std::move(it.bad));
            return;
        }
        RecordDef r;
        r.name = std::move(it.member.name);
        r.blob_offset = writer_.append_blob(it.member.bytes);
        r.blob_size = static_cast<uint32_t>(it.member.bytes.size());
        r.xxh3 = it.xxh3;
        r.width = it.info.width;
        r.height = it.info.height;
        r.codec = it.info.codec;
        r.color_space = it.info.color_space;
        if (!it.repaired.empty()) {
            r.flags |= fmt::kRecordRepaired;
            summary_.repaired.push_back(std::string(kSplitNames[it.split]) + "/" + r.name + " (" + it.repaired + ")");
        } else if (it.info.needs_repair()) {
            summary_.needs_repair.push_back(std::string(kSplitNames[it.split]) + "/" + r.name + " (" +
                                            codec_name(it.info.codec) + ", " + color_space_name(it.info.color_space) + ")");
        }
        PendingSplit& p = pending_[it.split];
        p.groups.push_back(p.pool.add(std::move(it.member.group)));
        p.wheres.push_back(p.pool.add(std::move(it.member.where)));
        if (it.split == kTest) p.from_patch.push_back(it.from_patch);
        progress_.advance(it.member.position, &r);
        p.records.push_back(std::move(r));
    }

    // Reads one split's source (and, for test, the patch after it). Sources are read one after
    // another; the pipeline is drained after each, so each source's progress ends where it should.
    void stream(SplitId id) {
        ThreadCpuTimer timer(summary_.times.reading);
        read_through_pipeline(kSplitNames[id], sources_[id], [&] { read_source(sources_[id], id == kTrain, feed(id, false)); });
        if (id == kTest && !o_.test_patch.empty())
            read_through_pipeline("test patch", o_.test_patch,
                                  [&] { read_flat_archive(o_.test_patch, feed(kTest, true), /*one_folder=*/true); });
    }

    MemberSink feed(SplitId id, bool patch) {
        return [this, id, patch](Member&& m) {
            size_t bytes = m.bytes.size();
            pipeline_->push(Item{id, patch, std::move(m), 0, {}, {}, {}}, bytes);
        };
    }

    template <class Read>
    void read_through_pipeline(const char* split, const fs::path& source, Read&& read) {
        pipeline_->wait_idle();
        progress_.start(split, source);
        log(std::string("reading ") + split + " from " + source.string());
        read();
        pipeline_->wait_idle();
        progress_.done();
    }

    // A streamed split sorted by name; duplicates reported, the test patch applied.
    void settle(SplitId id) {
        uint64_t patched = sort_split(pending_[id], [&](std::string where, std::string why) {
            bad_entry(id, std::move(where), std::move(why));
        });
        if (id == kTest && !o_.test_patch.empty()) {
            summary_.patched = patched;
            summary_.notes.push_back("the test patch replaced " + std::to_string(patched) + " test image(s)");
        }
    }

    // Every source is read: the workers stop, and their times are in.
    void finish_stream() {
        pipeline_->finish();
        summary_.times.workers = pipeline_->worker_cpu_seconds();
        summary_.times.writing = pipeline_->consumer_cpu_seconds();
        for (const WorkerTimes& t : worker_times_) {
            summary_.times.hashing += t.hashing;
            summary_.times.parsing += t.parsing;
            summary_.times.repairing += t.repairing;
        }
    }

    // --- 3 and 5: classes, labels, subsets ---

    // The class table: --classes when given, else the sorted WNIDs of the train split's classes,
    // else the sorted WNIDs that label the validation split (its folders or its labels file).
    void resolve_classes() {
        std::vector<std::string> wnids = in_.classes;
        if (wnids.empty()) {
            std::set<std::string> found;
            if (given(kTrain)) {
                const PendingSplit& train = pending_[kTrain];
                std::vector<bool> seen;
                for (uint32_t g : train.groups) {
                    if (g >= seen.size()) seen.resize(g + 1);
                    if (!seen[g]) found.insert(train.pool[g]);
                    seen[g] = true;
                }
            } else {
                found.insert(val_wnids_.begin(), val_wnids_.end());
            }
            found.erase("");
            wnids.assign(found.begin(), found.end());
        }
        for (const std::string& wnid : wnids) {
            class_index_.emplace(wnid, static_cast<int32_t>(contents_.classes.size()));
            contents_.classes.push_back({wnid, ""});
        }
        name_classes();
        // Validation labels that name a class outside the table fail now, before validation is read.
        if (in_.val_labels && in_.classes.empty() && given(kTrain))
            in_.val_labels->require_classes([&](const std::string& w) { return class_index_.count(w) != 0; },
                                            "the classes of the train split");
    }

    void name_classes() {
        if (o_.class_names.empty()) return;
        size_t unnamed = 0;
        for (ClassDef& c : contents_.classes) {
            auto it = in_.class_names.find(c.wnid);
            if (it != in_.class_names.end()) c.name = it->second;
            else ++unnamed;
        }
        if (unnamed)
            summary_.notes.push_back(std::to_string(unnamed) + " class(es) have no name in " + o_.class_names.string());
    }

    // `where` names the record for the message: a callable, so no string is built per record.
    template <class Where>
    int32_t label_of(const std::string& wnid, Where&& where) const {
        auto it = class_index_.find(wnid);
        if (it == class_index_.end())
            throw std::runtime_error("imgpack: " + where() + ": class " + wnid + " is not in the class list (" +
                                     (o_.classes.empty() ? std::string("the classes of the train split") : o_.classes.string()) +
                                     ")");
        return it->second;
    }

    void label_train() {
        PendingSplit& train = pending_[kTrain];
        for (size_t i = 0; i < train.records.size(); ++i)
            train.records[i].label = label_of(train.group(i), [&] { return train.where(i) + ": " + train.records[i].name; });
    }

    void make_subsets() {
        const std::vector<RecordDef>& train = pending_[kTrain].records;
        for (size_t k = 0; k < o_.subsets.size(); ++k) {
            const SubsetRequest& r = o_.subsets[k];
            std::vector<std::string> missing;
            contents_.subsets.push_back(
                r.list.empty() ? balanced_subset(r.name, "train", r.fraction, o_.seed, train, contents_.classes)
                               : subset_from_list(r.name, r.list, in_.subset_lists[k], train, o_.allow_missing, missing));
            if (!missing.empty()) {
                summary_.notes.push_back("subset '" + r.name + "': left out " + std::to_string(missing.size()) +
                                         " listed name(s) not in the train split (--allow-missing), e.g. " + missing[0]);
                for (const std::string& name : missing) summary_.left_out.push_back("subset '" + r.name + "': " + name);
            }
            summary_.subsets.emplace_back(r.name, contents_.subsets.back().indices.size());
        }
    }

    // The WNID of each validation record (sorted by name): from its folder, or from the labels.
    std::vector<std::string> validation_wnids() const {
        const PendingSplit& val = pending_[kValidation];
        if (std::any_of(val.groups.begin(), val.groups.end(), [&](uint32_t g) { return !val.pool[g].empty(); })) {
            std::vector<std::string> wnids;
            for (size_t i = 0; i < val.groups.size(); ++i) {
                if (val.group(i).empty())
                    throw std::runtime_error("imgpack: " + val.where(i) + ": " + val.records[i].name +
                                             " is outside the class folders of a labeled validation folder");
                wnids.push_back(val.group(i));
            }
            return wnids;
        }
        if (!in_.val_labels) return {};
        std::vector<std::string> names;
        names.reserve(val.records.size());
        for (const RecordDef& r : val.records) names.push_back(r.name);
        return in_.val_labels->for_files(names);
    }

    void label_validation() {
        if (!given(kValidation)) {
            if (!given(kTrain)) resolve_classes();  // test alone: an empty class table
            return;
        }
        val_wnids_ = validation_wnids();
        if (in_.val_labels)
            summary_.notes.push_back("validation labels: " + in_.val_labels->description + ": " + o_.val_labels.string());
        if (!given(kTrain)) resolve_classes();
        PendingSplit& val = pending_[kValidation];
        for (size_t i = 0; i < val_wnids_.size(); ++i)
            val.records[i].label = label_of(val_wnids_[i], [&] { return val.where(i) + ": " + val.records[i].name; });
        if (val_wnids_.empty())
            summary_.notes.push_back("no validation labels (--val-labels or class folders): validation records are unlabeled");
    }

    // --- 6: the pack ---

    void write() {
        for (SplitId id : kSplits) {
            if (!given(id)) continue;
            SplitSummary s{kSplitNames[id], pending_[id].records.size(), 0};
            for (const RecordDef& r : pending_[id].records) s.bytes += r.blob_size;
            summary_.splits.push_back(s);
            contents_.splits.push_back({kSplitNames[id], std::move(pending_[id].records)});
        }
        summary_.classes = contents_.classes.size();
        for (const std::string& n : summary_.notes) log("note: " + n);
        {
            WallTimer timer(summary_.times.finishing);
            writer_.finish(contents_);
        }
        summary_.pack_bytes = fs::file_size(o_.output);
    }

    struct WorkerTimes {  // one per worker: no sharing, no atomics on the hot path
        double hashing = 0, parsing = 0, repairing = 0;
    };

    const ConvertOptions& o_;
    Inputs in_;
    const fs::path sources_[3];
    PackWriter writer_;
    const unsigned jobs_;
    std::vector<std::unique_ptr<ImageInspector>> inspectors_;
    std::vector<std::unique_ptr<ImageRepairer>> repairers_;
    std::vector<WorkerTimes> worker_times_;
    SourceProgress progress_;
    PendingSplit pending_[3];
    std::vector<std::string> val_wnids_;
    std::map<std::string, int32_t> class_index_;
    PackContents contents_;
    ConvertSummary summary_;
    // Last: its threads call into the members above, so it is destroyed (joined) first.
    std::optional<OrderedPipeline<Item>> pipeline_;
};

}  // namespace

ConvertSummary convert(const ConvertOptions& o) {
    const auto started = Clock::now();
    Inputs inputs = read_inputs(o);  // before the output is created or any archive opened
    ConvertSummary summary = Conversion(o, std::move(inputs)).run();
    summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return summary;
}

}  // namespace imgpack
