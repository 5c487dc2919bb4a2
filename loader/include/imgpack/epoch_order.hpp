// Which records a rank reads in an epoch, in which order: a permutation drawn from (seed, epoch),
// cut into equal shares for world_size ranks and into fixed-size batches. Pure arithmetic on
// positions; the Loader maps positions to records. Independent of threads, by construction.
//
// The rule, as PyTorch's DistributedSampler states its own:
//   1. perm = a permutation of the N source positions drawn from (seed, epoch) (Fisher-Yates over
//      SplitMix64, specified in epoch_order.cpp so that any port draws the same one), or the
//      identity when shuffle is off.
//   2. The epoch's global sequence has T = W * B * batches positions, where W = world_size,
//      B = batch_size and batches = N / (W * B), rounded down (Remainder::drop: the last N - T
//      positions of perm are not read this epoch) or up (Remainder::pad: positions N..T-1 repeat
//      perm from its start, perm[g mod N], so every record is read at least once and the first
//      T - N of perm twice).
//   3. Rank r reads global positions r, r + W, r + 2W, ... (strided, as DistributedSampler): its
//      j-th sample is g = j * W + r, its batch b holds its samples b*B .. b*B + B - 1. Batch b of
//      all ranks together is the contiguous run perm[b*W*B .. (b+1)*W*B).
// Padding therefore sits at the end of each rank's sequence: in a batch, samples [valid, B) are
// padding and [0, valid) are not, which lets an evaluation loop count every record exactly once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace imgpack {

// What happens to the N mod (world_size * batch_size) records that do not fill a batch on every rank.
enum class Remainder {
    pad,   // read them, and fill up the last batches with records from the start of the epoch
    drop,  // skip them this epoch (a different set each epoch when shuffled)
};

struct OrderOptions {
    uint64_t seed = 0;
    bool shuffle = true;       // off: every epoch reads the source in its own order
    size_t batch_size = 256;
    int rank = 0;              // 0 <= rank < world_size
    int world_size = 1;
    Remainder remainder = Remainder::pad;
};

class EpochOrder {
public:
    EpochOrder() = default;
    // Throws std::invalid_argument on a bad rank/world_size/batch_size, an empty source, or an
    // epoch with no batch (Remainder::drop with N < world_size * batch_size).
    EpochOrder(size_t source_size, const OrderOptions& options, uint64_t epoch);

    uint64_t epoch() const { return epoch_; }
    size_t source_size() const { return perm_.size(); }
    size_t batches() const { return batches_; }              // per rank, the same on every rank
    size_t batch_size() const { return batch_size_; }
    size_t samples() const { return batches_ * batch_size_; } // per rank
    size_t global_size() const { return total_; }             // T, all ranks together
    size_t padding() const { return total_ > perm_.size() ? total_ - perm_.size() : 0; }  // all ranks

    // This rank's j-th sample (j < samples()): its global position g and the source position
    // it reads, perm[g mod N].
    size_t global_position(size_t j) const { return j * world_ + rank_; }
    size_t source_position(size_t j) const {
        size_t g = global_position(j);
        return perm_[g < perm_.size() ? g : g % perm_.size()];
    }
    bool is_padding(size_t j) const { return global_position(j) >= perm_.size(); }
    // How many samples of batch b are not padding; they come first in the batch.
    size_t valid_in_batch(size_t b) const;

    // The source position that stands in for sample j when its record cannot be decoded
    // (BadData::skip): the attempt-th draw from (seed, epoch, global position), uniform over the
    // source. Deterministic, so the batch is the same with any number of threads.
    size_t replacement(size_t j, uint32_t attempt) const;

    // The whole permutation (source positions in global order, before padding or dropping).
    std::span<const uint32_t> permutation() const { return perm_; }

private:
    std::vector<uint32_t> perm_;
    uint64_t seed_ = 0, epoch_ = 0;
    size_t batch_size_ = 0, batches_ = 0, total_ = 0, rank_ = 0, world_ = 1;
};

}  // namespace imgpack
