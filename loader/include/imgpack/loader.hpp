// imgpack's loader: decoded, transformed, fixed-size batches from a pack, made by a pool of
// threads ahead of the training loop, in an order that depends only on (seed, epoch, rank).
//
//   imgpack::Loader loader(imgpack::Pack::open("imagenet.imgpack"), imgpack::LoaderSource::split("train"), options);
//   for (uint64_t epoch = 0; epoch < 90; ++epoch) {
//       loader.start_epoch(epoch);                 // or start_epoch(epoch, batches_done) to resume
//       while (std::optional<imgpack::Batch> batch = loader.next())
//           step(batch->images(), batch->labels());   // the buffer is the caller's until `batch` dies
//   }
//
// Batches. The loader owns a ring of `buffers` batch buffers, allocated and touched once at
// construction. next() hands one out as a Batch, a lease: from next() until the Batch (and every
// Batch moved from it) is destroyed or release()d, the loader never writes that buffer; after,
// it may refill it at once. The memory itself is freed only when the Loader and every Batch are
// gone, so a Batch outliving its Loader stays readable. A consumer that keeps several batches
// (a pin-memory thread, a Python tensor) holds several leases; the loader works with the rest,
// and next() throws instead of waiting forever when the caller holds every buffer.
//
// Threads. `threads` workers take the epoch's samples one at a time in order (so the batch due
// next fills first) and write each image straight into its place in the batch buffer; per
// worker, one Decoder, whose buffers are reused: no allocation per image once warm. A sample's
// pixels depend only on (seed, epoch, record), so batches are identical with any number of
// threads.
//
// Order: see epoch_order.hpp (permutation per (seed, epoch), strided rank shares, Remainder).
// A sample's augmentation is drawn from sample_seed(seed, epoch, record index in the split), the
// same draw `imgpack decode --seed S --epoch E --index I` makes.
//
// Larger than memory: the loader tells the kernel which records the next `readahead_batches`
// batches read (madvise MADV_WILLNEED on their bytes in the mapping), so their pages are read in
// large requests ahead of the workers instead of faulted in 4 KiB at a time when a worker
// touches them.
//
// Bad data (a record whose bytes are intact but do not decode): BadData::fail makes next()
// throw LoaderError at the batch that holds the record, naming the pack, split, record index and
// file name, after stopping and joining the workers; BadData::skip puts another record in its
// place (drawn from (seed, epoch, position), so the batch stays full and the same with any number
// of threads), counts it and lists it in skipped_records().
#pragma once

#include <imgpack/decode.hpp>
#include <imgpack/epoch_order.hpp>
#include <imgpack/reader.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgpack {

// A failure the loader reports to its consumer: a record that did not decode under
// BadData::fail, or a worker's failure. The message names the pack, split, record and file.
class LoaderError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class BadData { fail, skip };

// NHWC: a batch is [batch, height, width, 3]; NCHW: [batch, 3, height, width] (each image in planes).
enum class Layout { nhwc, nchw };

// Which records an epoch draws from: a whole split, a named subset, or the caller's list of
// record indices into a split (kept in the caller's order, repeats allowed).
struct LoaderSource {
    std::string split;
    std::string subset;               // empty: not a subset
    std::vector<uint32_t> indices;    // used when `explicit_indices`
    bool explicit_indices = false;

    static LoaderSource whole_split(std::string split_name) { return {std::move(split_name), {}, {}, false}; }
    static LoaderSource named_subset(std::string subset_name) { return {{}, std::move(subset_name), {}, false}; }
    static LoaderSource index_list(std::string split_name, std::vector<uint32_t> record_indices) {
        return {std::move(split_name), {}, std::move(record_indices), true};
    }
};

struct LoaderOptions : OrderOptions {
    // From OrderOptions: seed, shuffle, batch_size, rank, world_size, remainder.
    TransformOptions transform;    // train or eval; `none` decodes only (see Batch::images)
    Layout layout = Layout::nhwc;
    int threads = 0;               // workers; 0: one per core (std::thread::hardware_concurrency)
    size_t buffers = 3;            // batch buffers in the ring (>= 2): the caller's and those filling
    size_t readahead_batches = 4;  // batches ahead whose records are advised WILLNEED; 0: none
    BadData on_bad_data = BadData::fail;
    uint32_t max_replacement_tries = 100;  // BadData::skip: draws before giving up on a sample
    // When the caller holds every buffer, next() cannot make a batch until one comes back. false:
    // it throws LoaderError (one consumer thread: waiting would never end); true: it waits for
    // another thread to release one (a consumer that hands batches to, e.g., a copy thread).
    bool wait_for_buffers = false;
};

namespace detail {
struct LoaderCore;
}

// One batch buffer, leased to the caller (see the top of this file for the reuse rule).
class Batch {
public:
    Batch() = default;
    Batch(Batch&&) noexcept;
    Batch& operator=(Batch&&) noexcept;
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    ~Batch();

    explicit operator bool() const { return core_ != nullptr; }
    // Gives the buffer back to the loader now; the Batch is empty after.
    void release();

    uint64_t epoch() const { return epoch_; }
    size_t number() const { return number_; }   // the batch's index in this rank's epoch
    size_t size() const;                        // batch_size
    // Samples [0, valid()) are the epoch's records; [valid(), size()) are padding (Remainder::pad,
    // the epoch's last batches only): an evaluation loop counts only the first valid().
    size_t valid() const { return valid_; }
    // Samples whose record did not decode and were replaced by another (BadData::skip).
    size_t replaced() const { return replaced_; }

    Layout layout() const;
    int height() const;
    int width() const;
    static constexpr int channels = 3;
    // uint8 pixels, size() * height() * width() * 3, in layout(); empty with TransformKind::none.
    std::span<unsigned char> images() const;
    std::span<int64_t> labels() const;   // class index; -1 for an unlabeled record
    std::span<int64_t> indices() const;  // the record's index in the split

private:
    friend struct detail::LoaderCore;
    friend class Loader;
    std::shared_ptr<detail::LoaderCore> core_;
    size_t slot_ = 0, number_ = 0, valid_ = 0, replaced_ = 0;
    uint64_t epoch_ = 0;
};

// A record that did not decode and was replaced (BadData::skip), listed once per record.
struct SkippedRecord {
    uint32_t index;       // in the split
    std::string name;     // file name
    std::string error;    // what the decoder said
};

// Loader's methods are called from one consumer thread (Batches may be released from any).
class Loader {
public:
    // Opens nothing: the Pack is shared (held by value). Checks the source and the options and
    // starts the workers, which wait for start_epoch. Throws Error or std::invalid_argument.
    Loader(Pack pack, LoaderSource source, LoaderOptions options);
    Loader(Loader&&) noexcept;
    Loader& operator=(Loader&&) noexcept;
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;
    ~Loader();  // stops and joins the workers; leased Batches stay valid

    // Begins (or resumes) an epoch: the next batch next() returns is batch `batches_done` of
    // `epoch`, the same batch an uninterrupted run reads there. Abandons an epoch in progress
    // (waits for images being decoded to finish); Batches the caller holds stay valid.
    void start_epoch(uint64_t epoch, size_t batches_done = 0);

    // The next batch of the epoch in order, or nullopt after the epoch's last. Waits while the
    // batch is being made. Throws LoaderError (BadData::fail, or once failed, on every later call).
    std::optional<Batch> next();

    size_t batches_per_epoch() const;   // per rank, the same on every rank
    size_t samples_per_epoch() const;   // per rank: batches_per_epoch() * batch_size
    size_t source_size() const;         // records the epoch draws from
    const LoaderOptions& options() const;
    int threads() const;

    // BadData::skip's tally: samples replaced since construction, and each bad record once.
    uint64_t replaced_samples() const;
    std::vector<SkippedRecord> skipped_records() const;

private:
    std::shared_ptr<detail::LoaderCore> core_;
};

}  // namespace imgpack
