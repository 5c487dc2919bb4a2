// The Loader: a ring of batch buffers, a pool of workers that fill them sample by sample in the
// epoch's order, and a consumer that takes them in order (the contract is in loader.hpp).
//
// Everything shared lives in one LoaderCore behind a shared_ptr: the Loader holds it, and so does
// every Batch it hands out, so a Batch never outlives the memory it points into. One mutex guards
// the bookkeeping; the pixels are written outside it, each image by the one worker that claimed
// its place.
#include <imgpack/loader.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

namespace imgpack {

namespace detail {

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

// One image's work: which place of which batch, and which record goes there.
struct Claim {
    size_t slot = 0, item = 0, sample = 0;  // sample: the rank's j-th sample of the epoch
    uint32_t record = 0;                    // index in the split
    uint64_t generation = 0, epoch = 0;
    size_t advise_from = 0, advise_to = 0;  // batches to advise WILLNEED before decoding
};

// What became of one claim.
struct Outcome {
    uint32_t record = 0;               // the record that went into the batch
    bool replaced = false;             // BadData::skip put `record` in place of claim.record
    std::string error;                 // non-empty: the batch fails with this message
};

struct FreeDeleter {
    void operator()(unsigned char* p) const { std::free(p); }
};

}  // namespace

struct LoaderCore : std::enable_shared_from_this<LoaderCore> {
    enum class SlotState { free, filling, ready, leased };
    struct Slot {
        SlotState state = SlotState::free;
        uint64_t epoch = 0;
        size_t number = 0, remaining = 0, valid = 0, replaced = 0;
        size_t error_item = kNone;
        std::string error;
    };

    // Fixed at construction.
    Pack pack;
    Split split;  // the split the source reads (a view that shares the pack)
    std::vector<uint32_t> source;  // source position -> record index in the split
    LoaderOptions opt;
    int thread_count = 1;
    int out_height = 0, out_width = 0;
    size_t image_bytes = 0;        // one image in a batch; 0 with TransformKind::none
    size_t batches_per_epoch = 0, samples_per_epoch = 0;  // the same every epoch
    size_t page = 4096;
    std::unique_ptr<unsigned char, FreeDeleter> pixels;  // buffers * batch_size images
    std::vector<int64_t> labels, indices;                // buffers * batch_size each

    std::mutex m;
    std::condition_variable work_cv;   // workers: work may be there, or stop
    std::condition_variable ready_cv;  // consumer: a batch finished, or a buffer came back
    std::condition_variable idle_cv;   // start_epoch: the last image in flight finished
    std::vector<std::thread> workers;
    bool stopping = false;

    // The epoch, under m.
    std::vector<Slot> slots;
    std::vector<size_t> free_slots;    // a stack, reserved to slots.size(): never allocates
    std::vector<size_t> slot_of;       // batch k -> its slot, at k % slots.size(), for k in [next_batch, fill_batch)
    EpochOrder order;
    bool active = false;
    uint64_t generation = 0;           // bumped by start_epoch; stale claims are discarded
    size_t next_batch = 0;             // the consumer's next batch
    size_t fill_batch = 0;             // the next batch to get a buffer
    size_t fill_slot = kNone, fill_item = 0;
    size_t advised_until = 0;          // batches before this one were advised
    size_t in_flight = 0;              // claims being worked on
    bool failed = false;
    std::string failure;
    uint64_t replaced_total = 0;
    std::map<uint32_t, SkippedRecord> skipped;

    LoaderCore(Pack p, Split s) : pack(std::move(p)), split(std::move(s)) {}
    ~LoaderCore() { shutdown(); }

    size_t batch() const { return opt.batch_size; }
    unsigned char* image_at(size_t slot, size_t item) const {
        return pixels.get() + (slot * batch() + item) * image_bytes;
    }

    std::string describe(uint32_t record, std::string_view what) const {
        return "imgpack: " + pack.path() + ": split '" + std::string(split.name()) + "' record " +
               std::to_string(record) + " (" + std::string(split.name_at(record)) + "): " + std::string(what);
    }

    void start_workers() {
        workers.reserve(size_t(thread_count));
        for (int t = 0; t < thread_count; ++t) workers.emplace_back([this] { work(); });
    }

    void shutdown() {
        {
            std::lock_guard lock(m);
            stopping = true;
        }
        work_cv.notify_all();
        ready_cv.notify_all();
        for (std::thread& t : workers)
            if (t.joinable()) t.join();
    }

    // --- workers ------------------------------------------------------------------------------

    bool has_work() const {
        if (!active || failed) return false;
        if (fill_slot != kNone && fill_item < batch()) return true;
        return fill_batch < order.batches() && !free_slots.empty();
    }

    Claim claim() {  // under m, has_work()
        Claim c;
        if (fill_slot == kNone || fill_item == batch()) {
            size_t s = free_slots.back();
            free_slots.pop_back();
            Slot& slot = slots[s];
            slot.state = SlotState::filling;
            slot.epoch = order.epoch();
            slot.number = fill_batch;
            slot.remaining = batch();
            slot.valid = order.valid_in_batch(fill_batch);
            slot.replaced = 0;
            slot.error_item = kNone;
            slot.error.clear();
            slot_of[fill_batch % slots.size()] = s;
            fill_slot = s;
            fill_item = 0;
            if (opt.readahead_batches > 0) {
                size_t to = std::min(order.batches(), fill_batch + 1 + opt.readahead_batches);
                c.advise_from = std::max(advised_until, fill_batch);
                c.advise_to = std::max(c.advise_from, to);
                advised_until = c.advise_to;
            }
            ++fill_batch;
        }
        c.slot = fill_slot;
        c.item = fill_item++;
        c.sample = slots[c.slot].number * batch() + c.item;
        c.record = source[order.source_position(c.sample)];
        c.generation = generation;
        c.epoch = order.epoch();
        ++in_flight;
        return c;
    }

    void work() {
        Decoder decoder;
        std::vector<unsigned char> scratch;  // TransformKind::none: the full image, grown to the largest
        std::unique_lock lock(m);
        for (;;) {
            work_cv.wait(lock, [&] { return stopping || has_work(); });
            if (stopping) return;
            Claim c = claim();
            lock.unlock();
            // `order` and the slot stay put while this claim is in flight (start_epoch waits for it).
            advise(c.advise_from, c.advise_to);
            Outcome o = fill(c, decoder, scratch);
            lock.lock();
            complete(c, o);
        }
    }

    // Asks the kernel to read the records of batches [from, to) now, in as few requests as it
    // likes, so that the workers find them in the page cache instead of faulting them in.
    void advise(size_t from, size_t to) const {
        for (size_t j = from * batch(); j < to * batch(); ++j) {
            std::span<const unsigned char> data = split[source[order.source_position(j)]].data;
            if (data.empty()) continue;
            auto start = reinterpret_cast<uintptr_t>(data.data()) & ~(uintptr_t(page) - 1);
            auto end = reinterpret_cast<uintptr_t>(data.data() + data.size());
            (void)::madvise(reinterpret_cast<void*>(start), end - start, MADV_WILLNEED);  // advice only
        }
    }

    void decode_into(Decoder& decoder, std::vector<unsigned char>& scratch, uint32_t record, uint64_t epoch,
                     size_t slot, size_t item) {
        Record r = split[record];
        const uint64_t seed = sample_seed(opt.seed, epoch, record);
        if (opt.transform.kind == TransformKind::none) {
            Decoder::Header h = decoder.header(r.data);
            size_t need = size_t(h.width) * size_t(h.height) * 3;
            if (scratch.size() < need) scratch.resize(need);
            decoder.decode(r.data, opt.transform, seed, {scratch.data(), h.width, h.height, 3 * std::ptrdiff_t(h.width), 3, 1});
        } else {
            const std::ptrdiff_t w = out_width, h = out_height;
            ImageView view = opt.layout == Layout::nhwc
                                 ? ImageView{image_at(slot, item), out_width, out_height, 3 * w, 3, 1}
                                 : ImageView{image_at(slot, item), out_width, out_height, w, 1, w * h};
            decoder.decode(r.data, opt.transform, seed, view);
        }
        labels[slot * batch() + item] = r.label == format::kUnlabeled ? -1 : int64_t{r.label};
        indices[slot * batch() + item] = int64_t{record};
    }

    Outcome fill(const Claim& c, Decoder& decoder, std::vector<unsigned char>& scratch) {
        Outcome o;
        o.record = c.record;
        try {
            decode_into(decoder, scratch, c.record, c.epoch, c.slot, c.item);
            return o;
        } catch (const DecodeError& e) {
            if (opt.on_bad_data == BadData::fail) {
                o.error = describe(c.record, e.what());
                return o;
            }
            note_skipped(c.record, e.what());
        } catch (const std::exception& e) {
            o.error = describe(c.record, e.what());
            return o;
        }
        // BadData::skip: the replacement draws depend only on (seed, epoch, position).
        for (uint32_t attempt = 0; attempt < opt.max_replacement_tries; ++attempt) {
            uint32_t other = source[order.replacement(c.sample, attempt)];
            try {
                decode_into(decoder, scratch, other, c.epoch, c.slot, c.item);
                o.record = other;
                o.replaced = true;
                return o;
            } catch (const DecodeError& e) {
                note_skipped(other, e.what());
            } catch (const std::exception& e) {
                o.error = describe(other, e.what());
                return o;
            }
        }
        o.error = describe(c.record, "does not decode, nor did any of the " +
                                         std::to_string(opt.max_replacement_tries) + " records drawn to replace it");
        return o;
    }

    void note_skipped(uint32_t record, const char* what) {
        std::lock_guard lock(m);
        if (!skipped.count(record))
            skipped.emplace(record, SkippedRecord{record, std::string(split.name_at(record)), what});
    }

    void complete(const Claim& c, Outcome& o) {  // under m
        --in_flight;
        if (c.generation == generation) {
            Slot& s = slots[c.slot];
            if (!o.error.empty() && c.item < s.error_item) {
                s.error_item = c.item;
                s.error = std::move(o.error);
            }
            if (o.replaced) {
                ++s.replaced;
                ++replaced_total;
            }
            if (--s.remaining == 0) {
                s.state = SlotState::ready;
                ready_cv.notify_all();
            }
        }
        if (in_flight == 0) idle_cv.notify_all();
    }

    // --- the consumer -------------------------------------------------------------------------

    void release(size_t slot) {
        {
            std::lock_guard lock(m);
            slots[slot].state = SlotState::free;
            free_slots.push_back(slot);
        }
        work_cv.notify_all();
        ready_cv.notify_all();
    }
};

}  // namespace detail

using detail::LoaderCore;

// --- Batch -------------------------------------------------------------------------------------

Batch::Batch(Batch&& o) noexcept
    : core_(std::move(o.core_)), slot_(o.slot_), number_(o.number_), valid_(o.valid_), replaced_(o.replaced_),
      epoch_(o.epoch_) {}

Batch& Batch::operator=(Batch&& o) noexcept {
    if (this != &o) {
        release();
        core_ = std::move(o.core_);
        slot_ = o.slot_;
        number_ = o.number_;
        valid_ = o.valid_;
        replaced_ = o.replaced_;
        epoch_ = o.epoch_;
    }
    return *this;
}

Batch::~Batch() { release(); }

void Batch::release() {
    if (core_) {
        core_->release(slot_);
        core_.reset();
    }
}

size_t Batch::size() const { return core_ ? core_->batch() : 0; }
Layout Batch::layout() const { return core_ ? core_->opt.layout : Layout::nhwc; }
int Batch::height() const { return core_ ? core_->out_height : 0; }
int Batch::width() const { return core_ ? core_->out_width : 0; }

std::span<unsigned char> Batch::images() const {
    if (!core_) return {};
    return {core_->image_at(slot_, 0), core_->batch() * core_->image_bytes};
}
std::span<int64_t> Batch::labels() const {
    if (!core_) return {};
    return {core_->labels.data() + slot_ * core_->batch(), core_->batch()};
}
std::span<int64_t> Batch::indices() const {
    if (!core_) return {};
    return {core_->indices.data() + slot_ * core_->batch(), core_->batch()};
}

// --- Loader ------------------------------------------------------------------------------------

namespace {

LoaderCore& live(const std::shared_ptr<LoaderCore>& core) {
    if (!core) throw std::logic_error("imgpack: this Loader was moved from");
    return *core;
}

}  // namespace

namespace {

// The split a source reads, and its records in the source's order (position -> record index).
Split resolve_source(const Pack& pack, LoaderSource& source, std::vector<uint32_t>& records) {
    if (!source.subset.empty()) {
        const Subset subset = source.split.empty() ? pack.subset(source.subset)
                                                   : pack.split(source.split).subset(source.subset);
        records.reserve(subset.size());
        for (size_t i = 0; i < subset.size(); ++i) records.push_back(subset.index(i));
        return subset.split();
    }
    auto split = pack.split(source.split);
    if (source.explicit_indices) {
        for (size_t i = 0; i < source.indices.size(); ++i)
            if (source.indices[i] >= split.size())
                throw std::invalid_argument("imgpack: index list entry " + std::to_string(i) + " is record " +
                                            std::to_string(source.indices[i]) + ", outside split '" + source.split +
                                            "' (" + std::to_string(split.size()) + " records)");
        records = std::move(source.indices);
    } else {
        records.resize(split.size());
        for (size_t i = 0; i < records.size(); ++i) records[i] = uint32_t(i);
    }
    return split;
}

}  // namespace

Loader::Loader(Pack pack, LoaderSource source, LoaderOptions options) {
    std::vector<uint32_t> records;
    Split split = resolve_source(pack, source, records);
    auto core = std::make_shared<LoaderCore>(std::move(pack), std::move(split));
    LoaderCore& c = *core;
    c.source = std::move(records);
    c.opt = std::move(options);
    const LoaderOptions& o = c.opt;

    // Checks batch_size, rank, world_size and that an epoch has a batch; start_epoch draws the real one.
    c.order = EpochOrder(c.source.size(), o, 0);
    c.batches_per_epoch = c.order.batches();
    c.samples_per_epoch = c.order.samples();

    if (o.buffers < 2) throw std::invalid_argument("imgpack: a loader needs at least 2 batch buffers");
    if (o.transform.kind != TransformKind::none) {
        if (o.transform.size < 1 || o.transform.size > 8192)
            throw std::invalid_argument("imgpack: transform size " + std::to_string(o.transform.size) +
                                        " is outside [1, 8192]");
        c.out_height = c.out_width = o.transform.size;
        c.image_bytes = size_t(c.out_width) * size_t(c.out_height) * 3;
    }
    c.thread_count = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
    long page = ::sysconf(_SC_PAGESIZE);
    if (page > 0) c.page = size_t(page);

    // The ring: allocated and touched once, so that the epoch's resident memory is flat from here.
    const size_t images = o.buffers * o.batch_size;
    if (c.image_bytes > 0) {
        if (images > std::numeric_limits<size_t>::max() / c.image_bytes)
            throw std::invalid_argument("imgpack: the batch buffers would not fit in memory");
        size_t bytes = (images * c.image_bytes + c.page - 1) / c.page * c.page;
        c.pixels.reset(static_cast<unsigned char*>(std::aligned_alloc(c.page, bytes)));
        if (!c.pixels) throw std::bad_alloc();
        std::memset(c.pixels.get(), 0, bytes);
    }
    c.labels.assign(images, -1);
    c.indices.assign(images, -1);
    c.slots.resize(o.buffers);
    c.slot_of.assign(o.buffers, 0);
    c.free_slots.reserve(o.buffers);
    for (size_t s = o.buffers; s-- > 0;) c.free_slots.push_back(s);

    core_ = std::move(core);
    core_->start_workers();
}

Loader::Loader(Loader&&) noexcept = default;

Loader& Loader::operator=(Loader&& other) noexcept {
    if (this != &other) {
        if (core_) core_->shutdown();
        core_ = std::move(other.core_);
    }
    return *this;
}

Loader::~Loader() {
    if (core_) core_->shutdown();
}

void Loader::start_epoch(uint64_t epoch, size_t batches_done) {
    LoaderCore& c = live(core_);
    EpochOrder fresh(c.source.size(), c.opt, epoch);  // drawn before taking the lock: workers go on meanwhile
    if (batches_done > fresh.batches())
        throw std::invalid_argument("imgpack: cannot resume after batch " + std::to_string(batches_done) +
                                    ": the epoch has " + std::to_string(fresh.batches()) + " batches");
    std::unique_lock lock(c.m);
    if (c.failed) throw LoaderError(c.failure);
    ++c.generation;
    c.active = false;
    c.idle_cv.wait(lock, [&] { return c.in_flight == 0; });
    for (size_t s = 0; s < c.slots.size(); ++s) {
        auto& slot = c.slots[s];
        if (slot.state == LoaderCore::SlotState::filling || slot.state == LoaderCore::SlotState::ready) {
            slot.state = LoaderCore::SlotState::free;
            c.free_slots.push_back(s);
        }
    }
    c.order = std::move(fresh);
    c.next_batch = c.fill_batch = c.advised_until = batches_done;
    c.fill_slot = detail::kNone;
    c.fill_item = 0;
    c.active = true;
    lock.unlock();
    c.work_cv.notify_all();
}

std::optional<Batch> Loader::next() {
    LoaderCore& c = live(core_);
    std::unique_lock lock(c.m);
    if (c.failed) throw LoaderError(c.failure);
    if (!c.active) throw std::logic_error("imgpack: Loader::next before start_epoch");
    if (c.next_batch == c.order.batches()) return std::nullopt;
    size_t s = 0;
    for (;;) {
        if (c.next_batch < c.fill_batch) {
            s = c.slot_of[c.next_batch % c.slots.size()];
            if (c.slots[s].state == LoaderCore::SlotState::ready) break;
        } else if (c.free_slots.empty() && !c.opt.wait_for_buffers) {
            // Every buffer is leased and the next batch has none: only a release can make progress.
            throw LoaderError("imgpack: the caller holds all " + std::to_string(c.slots.size()) +
                              " batch buffers; release a Batch before asking for the next one, raise "
                              "LoaderOptions::buffers, or set wait_for_buffers when another thread releases them");
        }
        c.ready_cv.wait(lock);
    }
    LoaderCore::Slot& slot = c.slots[s];
    if (!slot.error.empty()) {
        c.failed = true;
        c.failure = slot.error;
        slot.state = LoaderCore::SlotState::free;
        c.free_slots.push_back(s);
        lock.unlock();
        c.shutdown();
        throw LoaderError(c.failure);
    }
    slot.state = LoaderCore::SlotState::leased;
    ++c.next_batch;
    Batch b;
    b.core_ = core_;
    b.slot_ = s;
    b.number_ = slot.number;
    b.valid_ = slot.valid;
    b.replaced_ = slot.replaced;
    b.epoch_ = slot.epoch;
    return b;
}

size_t Loader::batches_per_epoch() const { return live(core_).batches_per_epoch; }
size_t Loader::samples_per_epoch() const { return live(core_).samples_per_epoch; }
size_t Loader::source_size() const { return live(core_).source.size(); }
const LoaderOptions& Loader::options() const { return live(core_).opt; }
int Loader::threads() const { return live(core_).thread_count; }

uint64_t Loader::replaced_samples() const {
    LoaderCore& c = live(core_);
    std::lock_guard lock(c.m);
    return c.replaced_total;
}

std::vector<SkippedRecord> Loader::skipped_records() const {
    LoaderCore& c = live(core_);
    std::lock_guard lock(c.m);
    std::vector<SkippedRecord> out;
    for (const auto& [index, record] : c.skipped) out.push_back(record);
    return out;
}

}  // namespace imgpack
