#include "verify_pass.hpp"

#include <imgpack/unique_fd.hpp>

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace imgpack::cli {

namespace {

// A record's place in the file.
struct Ref {
    uint64_t offset;
    uint64_t end;
    uint32_t split;
    uint32_t index;
};

// Records sorted by file offset, cut into chunks of about kChunkBytes: the unit of work.
constexpr uint64_t kChunkBytes = 4u << 20;
// The section hash advances this much at a time, so that it sees the record checks' progress.
constexpr uint64_t kHashStep = 1u << 20;
// How many chunks ahead of the pass the kernel is asked to read (about 32 MiB).
constexpr size_t kReadAheadChunks = 8;

class OnePass {
public:
    OnePass(const Pack& pack, size_t blob_section)
        : pack_(pack), section_index_(blob_section), section_(pack.sections()[blob_section]) {
        for (const Split& split : pack.splits()) splits_.push_back(split);
        for (size_t s = 0; s < splits_.size(); ++s) {
            for (size_t i = 0; i < splits_[s].size(); ++i) {
                Record r = splits_[s][i];
                refs_.push_back({r.offset, r.offset + r.data.size(), uint32_t(s), uint32_t(i)});
                // Open proved every record's bytes to lie inside the section, in the one mapping.
                if (!section_bytes_ && !r.data.empty()) section_bytes_ = r.data.data() - (r.offset - section_.offset);
            }
        }
        // The converter writes blobs in input order and splits sort by name, so this is nearly
        // sorted already.
        std::sort(refs_.begin(), refs_.end(), [](const Ref& a, const Ref& b) { return a.offset < b.offset; });
        uint64_t reach = section_.offset;
        for (size_t b = 0; b < refs_.size();) {
            size_t e = b;
            for (uint64_t start = refs_[b].offset; e < refs_.size() && (e == b || refs_[e].end - start <= kChunkBytes); ++e)
                reach = std::max(reach, refs_[e].end);
            chunks_.push_back({b, e, refs_[b].offset, reach - section_.offset});
            b = e;
        }
        XXH3_64bits_reset(&hash_);
        // Read-ahead advice goes through a descriptor of its own: advice only, so should the file
        // have been replaced since open, nothing is read wrong, only the advice is wasted.
        advice_ = UniqueFd(::open(pack.path().c_str(), O_RDONLY | O_CLOEXEC));
    }

    BlobCheck run(unsigned threads) {
        for (size_t c = 0; c < kReadAheadChunks; ++c) read_ahead(c);
        std::vector<std::thread> helpers;
        for (unsigned t = 1; t < threads; ++t) helpers.emplace_back([this] { work(); });
        work();
        for (auto& t : helpers) t.join();
        BlobCheck result;
        std::sort(failures_.begin(), failures_.end());
        result.corrupt = std::move(failures_);
        result.record_bytes = bytes_.load();
        // Without a record's bytes to find the section by, it is hashed on its own (it then holds
        // no image bytes, only what a writer put there besides them).
        result.section_ok = section_bytes_ ? XXH3_64bits_digest(&hash_) == section_.xxh3 : pack_.verify_section(section_index_);
        return result;
    }

private:
    struct Chunk {
        size_t begin, end;  // into refs_
        uint64_t offset;    // file offset of its first record
        uint64_t reach;     // section-relative end of the furthest record up to this chunk's end
    };

    // Asks the kernel to read chunk c into the page cache now, in large requests, as read()
    // would, instead of one page fault's read-around at a time when the pass reaches it. (Measured
    // on this project's VM: a pass in file order that faulted its pages in took 4-5x the time of
    // a read() of the file, cold; docs/performance.md.)
    void read_ahead(size_t c) const {
        if (!advice_ || c >= chunks_.size()) return;
        const uint64_t end = section_.offset + chunks_[c].reach;
        (void)::posix_fadvise(advice_.get(), static_cast<off_t>(chunks_[c].offset),
                              static_cast<off_t>(end - chunks_[c].offset), POSIX_FADV_WILLNEED);
    }

    void work() {
        uint64_t mine = 0;
        std::vector<RecordFailure> bad;
        for (size_t c; (c = next_.fetch_add(1)) < chunks_.size();) {
            read_ahead(c + kReadAheadChunks);
            raise_frontier(chunks_[c].reach);
            for (size_t k = chunks_[c].begin; k < chunks_[c].end; ++k) {
                const Ref& ref = refs_[k];
                Record r = splits_[ref.split][ref.index];
                mine += r.data.size();
                if (!r.verify()) bad.push_back({ref.split, ref.index});
            }
            hash_while_behind(/*wait=*/false);
        }
        bytes_ += mine;
        {
            std::lock_guard lock(failures_mutex_);
            failures_.insert(failures_.end(), bad.begin(), bad.end());
        }
        // Every chunk is taken: the section's end (padding after the last blob) is in reach.
        raise_frontier(section_.length);
        hash_while_behind(/*wait=*/true);
    }

    void raise_frontier(uint64_t to) {
        uint64_t now = frontier_.load();
        while (now < to && !frontier_.compare_exchange_weak(now, to)) {
        }
    }

    // Brings the section hash up to the frontier. Without `wait`, only if no other thread holds
    // it: then this thread goes back to checking records instead of waiting.
    void hash_while_behind(bool wait) {
        if (!section_bytes_) return;
        std::unique_lock lock(hash_mutex_, std::defer_lock);
        if (wait) lock.lock();
        else if (!lock.try_lock()) return;
        for (uint64_t to; hashed_ < (to = frontier_.load());) {
            const uint64_t step = std::min(to - hashed_, kHashStep);
            XXH3_64bits_update(&hash_, section_bytes_ + hashed_, step);
            hashed_ += step;
        }
    }

    const Pack& pack_;
    const size_t section_index_;
    const SectionInfo& section_;
    std::vector<Split> splits_;
    const unsigned char* section_bytes_ = nullptr;  // the mapped section, found through a record
    std::vector<Ref> refs_;
    std::vector<Chunk> chunks_;
    UniqueFd advice_;
    std::atomic<size_t> next_{0};
    std::atomic<uint64_t> frontier_{0};  // section-relative: the record checks have claimed [0, frontier)
    std::atomic<uint64_t> bytes_{0};
    std::mutex hash_mutex_;  // guards hash_ and hashed_
    XXH3_state_t hash_;
    uint64_t hashed_ = 0;
    std::mutex failures_mutex_;
    std::vector<RecordFailure> failures_;
};

}  // namespace

BlobCheck check_blobs(const Pack& pack, size_t blob_section, unsigned threads) {
    return OnePass(pack, blob_section).run(std::max(1u, threads));
}

}  // namespace imgpack::cli
