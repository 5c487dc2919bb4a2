// The epoch's permutation and its partition (the rule is in epoch_order.hpp). The generator is
// spelled out, not std::shuffle over std::mt19937: the standard leaves shuffle's algorithm to
// each library, and a run must draw the same order on every machine and in every port.
#include <imgpack/epoch_order.hpp>

#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace imgpack {

namespace {

__extension__ typedef unsigned __int128 u128;  // GCC and Clang; -Wpedantic knows no __int128

// SplitMix64 (Steele, Lea, Flood 2014): its output function mixes a counter into 64 random bits.
uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class SplitMix64 {
public:
    explicit SplitMix64(uint64_t state) : state_(state) {}
    uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }
    // Uniform in [0, range), range > 0: Lemire's multiply-shift with rejection (exact, no modulo bias).
    uint64_t below(uint64_t range) {
        u128 m = static_cast<u128>(next()) * range;
        uint64_t low = static_cast<uint64_t>(m);
        if (low < range) {
            uint64_t threshold = (0 - range) % range;
            while (low < threshold) {
                m = static_cast<u128>(next()) * range;
                low = static_cast<uint64_t>(m);
            }
        }
        return static_cast<uint64_t>(m >> 64);
    }

private:
    uint64_t state_;
};

// Distinct streams for the permutation and for replacements, so neither repeats the other.
constexpr uint64_t kPermutationStream = 0x7065726d75746521ULL;  // "permute!"
constexpr uint64_t kReplacementStream = 0x7265706c61636521ULL;  // "replace!"

uint64_t stream_seed(uint64_t stream, uint64_t seed, uint64_t epoch) {
    return mix64(mix64(stream ^ seed) ^ epoch);
}

}  // namespace

EpochOrder::EpochOrder(size_t source_size, const OrderOptions& o, uint64_t epoch)
    : seed_(o.seed), epoch_(epoch), batch_size_(o.batch_size) {
    if (o.world_size < 1) throw std::invalid_argument("imgpack: world_size must be at least 1");
    if (o.rank < 0 || o.rank >= o.world_size)
        throw std::invalid_argument("imgpack: rank " + std::to_string(o.rank) + " is outside [0, world_size " +
                                    std::to_string(o.world_size) + ")");
    if (o.batch_size == 0) throw std::invalid_argument("imgpack: batch_size must be at least 1");
    if (source_size == 0) throw std::invalid_argument("imgpack: the loader's source has no records");
    if (source_size > std::numeric_limits<uint32_t>::max())
        throw std::invalid_argument("imgpack: a source of more than 2^32 - 1 records");
    rank_ = size_t(o.rank);
    world_ = size_t(o.world_size);
    const size_t per_step = world_ * batch_size_;  // records one batch of every rank reads
    batches_ = o.remainder == Remainder::drop ? source_size / per_step : (source_size + per_step - 1) / per_step;
    if (batches_ == 0)
        throw std::invalid_argument("imgpack: " + std::to_string(source_size) + " records make no batch of " +
                                    std::to_string(batch_size_) + " on each of " + std::to_string(world_) +
                                    " ranks with Remainder::drop (use Remainder::pad)");
    total_ = batches_ * per_step;

    perm_.resize(source_size);
    std::iota(perm_.begin(), perm_.end(), uint32_t{0});
    if (o.shuffle) {
        // Fisher-Yates from the back: position i swaps with a uniform j in [0, i].
        SplitMix64 rng(stream_seed(kPermutationStream, seed_, epoch_));
        for (size_t i = source_size - 1; i > 0; --i) std::swap(perm_[i], perm_[rng.below(i + 1)]);
    }
}

size_t EpochOrder::valid_in_batch(size_t b) const {
    // Sample j is padding iff j * W + rank >= N; the first such j on this rank:
    const size_t n = perm_.size();
    const size_t first_pad = n > rank_ ? (n - rank_ + world_ - 1) / world_ : 0;
    const size_t begin = b * batch_size_, end = begin + batch_size_;
    if (first_pad <= begin) return 0;
    return (first_pad < end ? first_pad : end) - begin;
}

size_t EpochOrder::replacement(size_t j, uint32_t attempt) const {
    SplitMix64 rng(mix64(stream_seed(kReplacementStream, seed_, epoch_) ^ global_position(j)) + attempt);
    return size_t(rng.below(perm_.size()));
}

}  // namespace imgpack
