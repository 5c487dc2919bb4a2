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
#include "image_decode.hpp"
#include "image_info.hpp"
#include "image_repair.hpp"
#include "inputs.hpp"
#include "label_sources.hpp"
#include "memory_budget.hpp"
#include "ordered_pipeline.hpp"
#include "subsets.hpp"

#include <imgpack/pack_writer.hpp>

#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace imgpack {

namespace {

namespace fmt = imgpack::format;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bytes of images read but not yet written: bounds the converter's memory (with one image over
// it, alone in the window).
constexpr size_t kMaxBytesInFlight = 256u << 20;

// What whole-image decodes (repairs, --decode) hold at once, whatever the number of workers:
// twice TensorFlow's limit for one image's samples (image_repair.cpp and image_decode.cpp refuse
// larger images), so the largest images take turns, and one that needs more (a progressive CMYK
// JPEG near the limit, with its coefficients: 1.5 GiB) runs alone.
constexpr uint64_t kDecodeBudget = 2 * kMaxRepairDecodedBytes;

// Workers: what was asked (0: one per core), but at most 4 per core and kMaxJobs.
unsigned most_workers() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return cores > kMaxJobs / 4 ? kMaxJobs : 4 * cores;
}
unsigned worker_count(unsigned requested) {
    if (requested == 0) return std::min(std::max(1u, std::thread::hardware_concurrency()), kMaxJobs);
    return std::min(requested, most_workers());
}

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
    // The id of `s`, or UINT32_MAX when it was never added.
    uint32_t find(const std::string& s) const {
        auto it = index_.find(s);
        return it == index_.end() ? UINT32_MAX : it->second;
    }

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
    // The classes the source holds, whether or not any of their images were packed: every
    // per-class tar or class folder with a WNID name, in input order. An empty
    // class keeps its place in the label order.
    std::vector<std::string> classes;
    // Validation: the names of skipped entries that name a validation file, so that each keeps
    // its line of a labels file (whose lines follow the sorted names of every file).
    std::vector<std::string> skipped_names;

    const std::string& group(size_t i) const { return pool[groups[i]]; }
    const std::string& where(size_t i) const { return pool[wheres[i]]; }
};

std::string format_fraction(double f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", f);
    return buf;
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
    if (m.kind == Member::Kind::group_end) {  // a class tar or folder, checked for itself when empty
        if (!looks_like_wnid(m.group)) return "'" + m.group + "' is not a WNID (n + 8 digits), so it cannot name a class";
        if (split == kTest) return "test images are unlabeled: they cannot be in class folders";
        return "";
    }
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
// `duplicate` (which throws, or records it as skipped). A patch record that replaces nothing is
// reported to `added` (which throws, or lets it stay). Returns the number of patched records.
template <class OnDuplicate, class OnAdded>
uint64_t sort_split(PendingSplit& p, OnDuplicate&& duplicate, OnAdded&& added) {
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
            if (patches && p.from_patch[keep]) added(p.where(keep) + ": " + p.records[keep].name);
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
    sorted.classes = std::move(p.classes);
    sorted.skipped_names = std::move(p.skipped_names);
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
          jobs_(worker_count(o.jobs)),
          worker_times_(jobs_),
          progress_(o.progress) {
        summary_.jobs = jobs_;
        if (o.jobs > jobs_)
            summary_.notes.push_back("-j " + std::to_string(o.jobs) + " is more than " + std::to_string(jobs_) + " (" +
                                     (jobs_ == kMaxJobs ? "the most imgpack starts" : "4 per core") + "): using " +
                                     std::to_string(jobs_) + " worker threads");
        for (unsigned i = 0; i < jobs_; ++i) {
            inspectors_.push_back(std::make_unique<ImageInspector>());
            repairers_.push_back(std::make_unique<ImageRepairer>());
            if (o.decode) decoders_.push_back(std::make_unique<DecodeCheck>());
        }
        pipeline_.emplace(
            jobs_, kMaxBytesInFlight, [this](Item& it, unsigned w) { inspect(it, w); },
            [this](Item&& it) { collect(std::move(it)); });
    }

    ConvertSummary run() {
        for (const std::string& n : summary_.notes) log("note: " + n);  // the ones known before the stream
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

    // On a worker: the entry's header, its repair, its hash. Hard links and the ends of class
    // groups have no bytes: the consumer resolves them.
    void inspect(Item& it, unsigned w) {
        switch (it.member.kind) {
            case Member::Kind::problem: it.bad = it.member.problem; return;
            case Member::Kind::group_end: return;
            case Member::Kind::hard_link: it.bad = naming_problem(it.split, it.member); return;
            case Member::Kind::file: break;
        }
        it.bad = naming_problem(it.split, it.member);
        if (!it.bad.empty()) return;
        WorkerTimes& t = worker_times_[w];
        try {
            {
                WallTimer timer(t.parsing);
                it.info = inspectors_[w]->inspect(it.member.bytes);
            }
            if (o_.decode) decode_whole(it, w);
            if (o_.repair && it.info.needs_repair()) {
                WallTimer timer(t.repairing);
                MemoryBudget::Lease lease(decode_budget_, repair_memory(it.info));
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

    // --decode: every image decoded whole (a JPEG by DecodeCheck, on its original bytes; a PNG
    // by the repair, which decodes it whole anyway, or by a repair whose result is dropped when
    // repair is off). Throws BadImage.
    void decode_whole(Item& it, unsigned w) {
        const bool jpeg = it.info.codec == fmt::Codec::jpeg;
        if (!jpeg && o_.repair) return;  // repaired below
        WallTimer timer(worker_times_[w].decoding);
        MemoryBudget::Lease lease(decode_budget_, jpeg ? DecodeCheck::memory(it.info) : repair_memory(it.info));
        if (jpeg) decoders_[w]->check(it.member.bytes, it.info);
        else repairers_[w]->repair(it.member.bytes, it.info);
    }

    // On the consumer, in archive order: the blob into the pack, the record into its split.
    void collect(Item&& it) {
        if (it.member.kind == Member::Kind::group_end) return end_group(it);
        if (it.bad.empty() && it.member.kind == Member::Kind::hard_link) return resolve_link(it);
        if (!it.bad.empty()) {
            progress_.advance(it.member.position, nullptr);
            // A validation file keeps its line of the labels file: it is dropped with the file.
            if (it.split == kValidation && naming_problem(kValidation, it.member).empty())
                pending_[kValidation].skipped_names.push_back(it.member.name);
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
        add_record(it, std::move(r));
    }

    void add_record(Item& it, RecordDef&& r) {
        PendingSplit& p = pending_[it.split];
        p.groups.push_back(p.pool.add(std::move(it.member.group)));
        p.wheres.push_back(p.pool.add(std::move(it.member.where)));
        if (it.split == kTest) p.from_patch.push_back(it.from_patch);
        progress_.advance(it.member.position, &r);
        p.records.push_back(std::move(r));
    }

    // A per-class tar or class folder has ended: its class keeps its place even when it held
    // no image (or every image was skipped). One whose name cannot name a class was reported
    // through its members; when it has none, it is reported itself.
    void end_group(const Item& it) {
        const Member& m = it.member;
        std::string problem = naming_problem(it.split, m);
        if (problem.empty()) pending_[it.split].classes.push_back(m.group);
        else if (m.entries == 0) bad_entry(it.split, m.where + ": " + m.name, "empty, and " + problem);
    }

    // A tar hard link is a second name for an earlier member of the same archive, and extracts
    // as a copy of it: its record is that member's record under the link's name, sharing its
    // bytes in the pack (FORMAT.md lets records share bytes). A folder holding the extraction
    // packs the same records.
    void resolve_link(Item& it) {
        PendingSplit& p = pending_[it.split];
        const uint32_t where = p.pool.add(std::string(it.member.where));
        if (links_.split != it.split || links_.where != where) {
            links_ = LinkIndex{it.split, where, {}, p.records.size()};
            while (links_.indexed > 0 && p.wheres[links_.indexed - 1] == where) --links_.indexed;  // this archive's records
        }
        for (; links_.indexed < p.records.size(); ++links_.indexed)
            links_.records.emplace(p.records[links_.indexed].name, links_.indexed);
        auto target = links_.records.find(it.member.link_target);
        if (target == links_.records.end()) {
            progress_.advance(it.member.position, nullptr);
            if (it.split == kValidation) p.skipped_names.push_back(it.member.name);
            bad_entry(it.split, it.member.where + ": " + it.member.name,
                      "a hard link to '" + it.member.link_target +
                          "', which is not an image packed before it from this archive");
            return;
        }
        RecordDef r = p.records[target->second];
        r.name = std::move(it.member.name);
        add_record(it, std::move(r));
    }

    // Reads one split's source (and, for test, the patch after it). Sources are read one after
    // another; the pipeline is drained after each, so each source's progress ends where it should.
    void stream(SplitId id) {
        ThreadCpuTimer timer(summary_.times.reading);
        SourceOptions options;
        options.max_image_bytes = o_.max_image_bytes;
        read_through_pipeline(kSplitNames[id], sources_[id],
                              [&] { read_source(sources_[id], id == kTrain, feed(id, false), options); });
        if (id == kTest && !o_.test_patch.empty()) {
            options.one_folder = true;
            const size_t before = pending_[kTest].records.size();
            read_through_pipeline("test patch", o_.test_patch,
                                  [&] { read_flat_archive(o_.test_patch, feed(kTest, true), options); });
            if (pending_[kTest].records.size() == before && !o_.allow_empty)
                throw std::runtime_error("imgpack: " + o_.test_patch.string() +
                                         ": the test patch holds no image to apply (--allow-empty accepts that)");
        }
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

    // A streamed split sorted by name; duplicates reported, the test patch applied. An empty
    // split stops the conversion unless asked for.
    void settle(SplitId id) {
        std::vector<std::string> added;
        uint64_t patched = sort_split(
            pending_[id], [&](std::string where, std::string why) { bad_entry(id, std::move(where), std::move(why)); },
            [&](std::string where) { added.push_back(std::move(where)); });
        if (id == kTest && !o_.test_patch.empty()) {
            if (!added.empty() && !o_.test_patch_adds) {
                std::string first;
                for (size_t i = 0; i < added.size() && i < 5; ++i) first += (i ? ", " : "") + added[i];
                throw std::runtime_error("imgpack: " + std::to_string(added.size()) +
                                         " image(s) of the test patch replace no test image (the test split has no "
                                         "file of that name): " + first + (added.size() > 5 ? ", ..." : "") +
                                         " (--test-patch-adds adds them to the test split)");
            }
            summary_.patched = patched;
            summary_.patch_added = added;
            std::string note = "the test patch replaced " + std::to_string(patched) + " test image(s)";
            if (!added.empty()) note += " and added " + std::to_string(added.size()) + " (--test-patch-adds)";
            summary_.notes.push_back(note);
        }
        if (pending_[id].records.empty() && !o_.allow_empty) {
            size_t skipped = 0;
            for (const SkippedDef& k : contents_.skipped) skipped += k.split == kSplitNames[id];
            throw std::runtime_error("imgpack: " + sources_[id].string() + ": the " + kSplitNames[id] +
                                     " split would be empty: " +
                                     (skipped ? std::to_string(skipped) + " entries were skipped and none packed"
                                              : std::string("the source holds no image")) +
                                     " (--allow-empty writes an empty split)");
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
            summary_.times.decoding += t.decoding;
        }
    }

    // --- 3 and 5: classes, labels, subsets ---

    // The class table: --classes when given, else the sorted WNIDs of the train split's classes
    // (its per-class tars or class folders, empty ones too), else the sorted WNIDs that label the
    // validation split (its class folders, empty ones too, or its labels file).
    void resolve_classes() {
        const SplitId source = given(kTrain) ? kTrain : kValidation;
        const std::vector<std::string>& folders = pending_[source].classes;
        std::vector<std::string> wnids = in_.classes;
        if (wnids.empty()) {
            std::set<std::string> found(folders.begin(), folders.end());
            if (source == kValidation) found.insert(val_wnids_.begin(), val_wnids_.end());
            wnids.assign(found.begin(), found.end());
        }
        for (const std::string& wnid : wnids) {
            class_index_.emplace(wnid, static_cast<int32_t>(contents_.classes.size()));
            contents_.classes.push_back({wnid, ""});
        }
        // A class the source holds is in the table, or the conversion stops naming it; so is one
        // whose images were all left out, which no record names.
        const PendingSplit& p = pending_[source];
        std::vector<bool> has_records;  // by the group's id in p.pool
        for (uint32_t g : p.groups) {
            if (g >= has_records.size()) has_records.resize(g + 1);
            has_records[g] = true;
        }
        std::vector<std::string> empty;
        for (const std::string& wnid : folders) {
            const uint32_t id = p.pool.find(wnid);
            if (id >= has_records.size() || !has_records[id]) empty.push_back(wnid);
        }
        require_listed(source, folders);
        if (!empty.empty()) {
            std::string list;
            for (const std::string& w : empty)
                list += (list.empty() ? "" : ", ") + w + " (label " + std::to_string(class_index_.at(w)) + ")";
            summary_.notes.push_back(std::to_string(empty.size()) + " class(es) of the " + kSplitNames[source] +
                                     " source have no " + kSplitNames[source] + " image (an empty tar or folder, or " +
                                     "every image skipped); each keeps its place in the class table: " + list);
        }
        name_classes();
        // Validation labels that name a class outside the table fail now, before validation is read.
        if (in_.val_labels && in_.classes.empty() && given(kTrain))
            in_.val_labels->require_classes([&](const std::string& w) { return class_index_.count(w) != 0; },
                                            "the classes of the train split");
    }

    // Every class a source holds (its per-class tars or class folders, with images or not) is in
    // the class table, or the conversion stops naming them.
    void require_listed(SplitId source, const std::vector<std::string>& classes) const {
        std::set<std::string> missing;
        for (const std::string& wnid : classes)
            if (!class_index_.count(wnid)) missing.insert(wnid);
        if (missing.empty()) return;
        std::string list;
        for (const std::string& w : missing) list += (list.empty() ? "" : ", ") + w;
        throw std::runtime_error("imgpack: the " + std::string(kSplitNames[source]) + " source " +
                                 sources_[source].string() + " holds " + std::to_string(missing.size()) +
                                 " class(es) not in the class list (" +
                                 (o_.classes.empty() ? std::string("the classes of the train split") : o_.classes.string()) +
                                 "): " + list);
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
                r.list.empty() ? balanced_subset(r.name, r.fraction, o_.seed, train, contents_.classes)
                               : subset_from_list(r.name, r.list, in_.subset_lists[k], train, o_.allow_missing, missing));
            if (!missing.empty()) {
                summary_.notes.push_back("subset '" + r.name + "': left out " + std::to_string(missing.size()) +
                                         " listed name(s) not in the train split (--allow-missing), e.g. " + missing[0]);
                for (const std::string& name : missing) summary_.left_out.push_back("subset '" + r.name + "': " + name);
            }
            const size_t size = contents_.subsets.back().indices.size();
            if (size == 0 && !o_.allow_empty)
                throw std::runtime_error(
                    "imgpack: subset '" + r.name + "' would be empty: " +
                    (r.list.empty() ? "a fraction of " + format_fraction(r.fraction) + " of " +
                                          std::to_string(train.size()) + " train records rounds to 0"
                                    : "none of the names " + r.list.string() + " lists is in the train split") +
                    " (--allow-empty writes an empty subset)");
            summary_.subsets.emplace_back(r.name, size);
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
        // The labels are those of every validation file the source holds, skipped ones too: a
        // skipped file's label is dropped with it, and every later label stays with its file.
        std::vector<std::pair<std::string, bool>> files;  // sorted name, packed
        files.reserve(val.records.size() + val.skipped_names.size());
        for (const RecordDef& r : val.records) files.emplace_back(r.name, true);
        for (const std::string& n : val.skipped_names) files.emplace_back(n, false);
        std::sort(files.begin(), files.end());
        files.erase(std::unique(files.begin(), files.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    files.end());  // a name both packed and skipped (a duplicate) has one label
        std::vector<std::string> names;
        names.reserve(files.size());
        for (const auto& f : files) names.push_back(f.first);
        std::vector<std::string> all = in_.val_labels->for_files(names);
        std::vector<std::string> wnids;
        wnids.reserve(val.records.size());
        for (size_t i = 0; i < files.size(); ++i)
            if (files[i].second) wnids.push_back(std::move(all[i]));
        return wnids;
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
        require_listed(kValidation, val.classes);  // its class folders, empty ones too
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
        double hashing = 0, parsing = 0, repairing = 0, decoding = 0;
    };

    const ConvertOptions& o_;
    Inputs in_;
    const fs::path sources_[3];
    PackWriter writer_;
    const unsigned jobs_;
    std::vector<std::unique_ptr<ImageInspector>> inspectors_;
    std::vector<std::unique_ptr<ImageRepairer>> repairers_;
    std::vector<std::unique_ptr<DecodeCheck>> decoders_;  // with --decode
    std::vector<WorkerTimes> worker_times_;
    MemoryBudget decode_budget_{kDecodeBudget};
    SourceProgress progress_;
    PendingSplit pending_[3];
    // Hard links: the names of the archive being read, built on its first link.
    struct LinkIndex {
        SplitId split = kTrain;
        uint32_t where = UINT32_MAX;  // in pending_[split].pool
        std::unordered_map<std::string, size_t> records;  // name -> index in pending_[split].records
        size_t indexed = 0;           // records before this one are in `records` (or of other archives)
    } links_;
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
    try {
        Inputs inputs = read_inputs(o);  // before the output is created or any archive opened
        ConvertSummary summary = Conversion(o, std::move(inputs)).run();
        summary.seconds = std::chrono::duration<double>(Clock::now() - started).count();
        return summary;
    } catch (const std::system_error& e) {
        // A thread that cannot start outside the pipeline (the writer's): said as the pipeline says it.
        if (e.code() != std::errc::resource_unavailable_try_again) throw;
        throw std::runtime_error(std::string("imgpack: cannot start a thread: ") + e.what() +
                                 ". A limit on processes or threads (ulimit -u, a container's pid limit)?");
    } catch (const std::bad_alloc&) {
        // Every input size is checked against a limit before allocating, so this is the machine
        // (or a ulimit -v) short of what the limits allow; the temporary file is gone by now.
        throw std::runtime_error("imgpack: out of memory while converting to " + o.output.string() +
                                 " (peak memory is bounded by --max-image-bytes and the in-flight window: "
                                 "docs/integrity.md)");
    }
}

}  // namespace imgpack
