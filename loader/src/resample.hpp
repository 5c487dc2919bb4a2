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
    std::vector<double> scratch_;
};

// Horizontal pass: one RGB row (pixel 0 at `in`, indices as in the axis) to axis.count RGB pixels.
void resample_row(const unsigned char* in, const Axis& axis, unsigned char* out);

// Vertical pass: output row `y` of the axis from rows of `width` RGB pixels (row r at
// in + r * in_stride, r as in the axis), into `out` (width * 3 bytes).
void resample_column_row(const unsigned char* in, std::ptrdiff_t in_stride, int width, const Axis& axis, int y,
                         unsigned char* out);

}  // namespace imgpack::detail
