// The train and eval geometry, torchvision 0.14's algorithms with their rounding, over any source
// of random numbers: the Decoder uses SampleRandom (from the sample's seed); the tests replay the
// numbers torchvision itself drew and must get the same crop.
#pragma once

#include <imgpack/decode.hpp>

#include <cmath>
#include <cstdint>

namespace imgpack::detail {

// Python's round() on a double: halves to even (the default floating-point rounding mode);
// std::round would take halves away from zero.
inline double round_half_even(double x) { return std::nearbyint(x); }

// What torch draws for RandomResizedCrop and RandomHorizontalFlip, made from a SplitMix64 stream:
// uniform(lo, hi) as torch's uniform_ on a float32 tensor (24 random bits, arithmetic in float),
// randint(n) in [0, n), rand() in [0, 1) as float32.
class SampleRandom {
public:
    explicit SampleRandom(uint64_t seed) : state_(seed) {}
    float uniform(float lo, float hi) { return unit() * (hi - lo) + lo; }
    int randint(int n) { return static_cast<int>(((next() >> 32) * static_cast<uint64_t>(n)) >> 32); }
    float rand() { return unit(); }

private:
    uint64_t next() {
        uint64_t r = splitmix64(state_);
        state_ += 0x9E3779B97F4A7C15ull;
        return r;
    }
    float unit() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
    uint64_t state_;
};

// RandomResizedCrop.get_params, then the flip: the same draws, in the same order, with the same
// float32/float64 steps as torchvision (transforms.py), so that the same random numbers give the
// same crop. Random needs uniform(lo, hi), randint(n) and rand() as SampleRandom has.
template <class Random>
TrainDraw draw_train_with(int width, int height, const TransformOptions& t, Random& random) {
    TrainDraw d;
    const double area = static_cast<double>(height) * width;
    // torch.log(torch.tensor(ratio)): float32 in, float32 out.
    const float log_lo = std::log(static_cast<float>(t.ratio_min));
    const float log_hi = std::log(static_cast<float>(t.ratio_max));
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
        const double target_area =
            area * static_cast<double>(random.uniform(static_cast<float>(t.scale_min), static_cast<float>(t.scale_max)));
        const double aspect = static_cast<double>(std::exp(random.uniform(log_lo, log_hi)));  // float32 exp
        const double w = round_half_even(std::sqrt(target_area * aspect));
        const double h = round_half_even(std::sqrt(target_area / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            d.width = static_cast<int>(w);
            d.height = static_cast<int>(h);
            d.top = random.randint(height - d.height + 1);
            d.left = random.randint(width - d.width + 1);
            found = true;
        }
    }
    if (!found) {  // torchvision's fallback: the largest centred crop within the ratio range
        const double in_ratio = static_cast<double>(width) / height;
        const double rmin = std::fmin(t.ratio_min, t.ratio_max), rmax = std::fmax(t.ratio_min, t.ratio_max);
        if (in_ratio < rmin) {
            d.width = width;
            d.height = static_cast<int>(round_half_even(d.width / rmin));
        } else if (in_ratio > rmax) {
            d.height = height;
            d.width = static_cast<int>(round_half_even(d.height * rmax));
        } else {
            d.width = width;
            d.height = height;
        }
        d.top = (height - d.height) / 2;  // both non-negative: Python's // is C++'s / here
        d.left = (width - d.width) / 2;
    }
    d.flip = random.rand() < t.flip_probability;
    return d;
}

}  // namespace imgpack::detail
