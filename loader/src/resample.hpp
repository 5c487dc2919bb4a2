// Antialiased resize: Pillow's convolution resampling (Resample.c) with its BILINEAR (triangle)
// filter, the one torchvision 0.14 uses on PIL images. Separable: a horizontal pass on each source
// row, then a vertical pass; the filter's support grows with the downscale factor, so every
// source pixel under an output pixel counts (antialiasing). The arithmetic is Pillow's: double
// coefficients normalised per output pixel, rounded to 22-bit fixed point, 32-bit integer sums,
// and an 8-bit intermediate between the passes, so the result is bit-identical to PIL's resize.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace imgpack::detail {

// One axis of a resize: for each output pixel, the first source pixel, the number of taps and
// their weights (sum 1 << kWeightBits, give or take rounding).
struct Axis {
    static constexpr int kWeightBits = 22;  // Pillow's PRECISION_BITS for 8-bit images

    int count = 0;  // output pixels
    int ksize = 0;  // weights stored per output pixel (the largest tap count, padded)
    std::vector<int32_t> first, taps, weights;
    // The weights again, laid out for the vectorised horizontal pass: for each output pixel,
    // pairs_per_output pairs of taps, each as 8 int32 lanes (w0 w0 w0 w1 w1 w1 0 0) that multiply
    // 8 bytes loaded at the pair's first pixel (R G B R G B, and 2 bytes ignored).
    int pairs_per_output = 0;
    std::vector<int32_t> pair_weights;
    // Pairs to step through per output: pairs_per_output wherever that reads no further than the
    // last pixel any output uses (a fixed trip count: no mispredicted loop exits), else just
    // enough for the output's own taps (near the right edge).
    std::vector<int32_t> steps;

    // Pillow's precompute_coeffs for an input of in_size pixels of which [in0, in1) (source
    // coordinates, may be fractional) is resized to out_size pixels; taps never leave
    // [0, in_size). Keeps only outputs [out_first, out_first + out_count).
    void build(int in_size, double in0, double in1, int out_size, int out_first, int out_count);
    // Mirror the outputs (a horizontal flip of the result).
    void reverse();
    // The source pixels the outputs read: [lowest(), highest()).
    int lowest() const;
    int highest() const;
    // Whether every output copies one source pixel at `offset + i` (no resampling needed).
    bool identity() const;

private:
    void pair_up();
    std::vector<double> scratch_;
};

// Bytes that the passes may read past the last pixel they use, and write past the last byte of
// their output: buffers they read or write need this much slack at the end.
constexpr int kResampleSlack = 32;

// Horizontal pass: one RGB row (pixel 0 at `in`, indices as in the axis) to axis.count RGB pixels.
void resample_row(const unsigned char* in, const Axis& axis, unsigned char* out);

// Vertical pass: one output row of `width` RGB pixels from `taps` rows (the first at `rows`, the
// next ones `stride` bytes apart) with the given weights.
void resample_column(const unsigned char* rows, std::ptrdiff_t stride, int width, const int32_t* weights, int taps,
                     unsigned char* out);

// Which code the passes run: "avx2" where the CPU has it (chosen at run time), else "scalar".
const char* resample_kernel();

}  // namespace imgpack::detail
