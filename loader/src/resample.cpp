#include "resample.hpp"

#include <algorithm>
#include <cmath>

namespace imgpack::detail {
namespace {

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's clip8: the sum carries 22 fraction bits and a half for rounding.
inline unsigned char clip8(int32_t sum) {
    const int32_t v = sum >> Axis::kWeightBits;
    return static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v);
}

constexpr int32_t kHalf = int32_t{1} << (Axis::kWeightBits - 1);

}  // namespace

void Axis::build(int in_size, double in0, double in1, int out_size, int out_first, int out_count) {
    // Pillow passes the box as float: exact for the integer boxes of crops and whole images.
    const double scale = static_cast<double>(static_cast<float>(in1) - static_cast<float>(in0)) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = 1.0 * filterscale;  // the triangle's support is 1
    count = out_count;
    ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
    first.assign(count, 0);
    taps.assign(count, 0);
    weights.assign(static_cast<size_t>(count) * ksize, 0);
    scratch_.resize(ksize);
    const double ss = 1.0 / filterscale;
    for (int i = 0; i < count; ++i) {
        const int xx = out_first + i;
        const double center = static_cast<float>(in0) + (xx + 0.5) * scale;
        int xmin = static_cast<int>(center - support + 0.5);  // truncation, as Pillow's cast
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            const double w = triangle((x + xmin - center + 0.5) * ss);
            scratch_[x] = w;
            ww += w;
        }
        int32_t* k = &weights[static_cast<size_t>(i) * ksize];
        for (int x = 0; x < xmax; ++x) {
            const double w = ww != 0.0 ? scratch_[x] / ww : scratch_[x];
            // Pillow's normalize_coeffs_8bpc; the triangle's weights are never negative.
            k[x] = static_cast<int32_t>(0.5 + w * (1 << kWeightBits));
        }
        first[i] = xmin;
        taps[i] = std::max(xmax, 0);
    }
}

void Axis::reverse() {
    std::reverse(first.begin(), first.end());
    std::reverse(taps.begin(), taps.end());
    for (int i = 0, j = count - 1; i < j; ++i, --j)
        std::swap_ranges(weights.begin() + static_cast<ptrdiff_t>(i) * ksize,
                         weights.begin() + static_cast<ptrdiff_t>(i + 1) * ksize,
                         weights.begin() + static_cast<ptrdiff_t>(j) * ksize);
}

int Axis::lowest() const {
    int lo = 0;
    bool any = false;
    for (int i = 0; i < count; ++i)
        if (taps[i] > 0 && (!any || first[i] < lo)) lo = first[i], any = true;
    return lo;
}

int Axis::highest() const {
    int hi = 0;
    for (int i = 0; i < count; ++i)
        if (taps[i] > 0) hi = std::max(hi, first[i] + taps[i]);
    return hi;
}

bool Axis::identity() const {
    for (int i = 0; i < count; ++i) {
        const int32_t* k = &weights[static_cast<size_t>(i) * ksize];
        if (taps[i] < 1 || first[i] != first[0] + i || k[0] != (1 << kWeightBits)) return false;
        for (int t = 1; t < taps[i]; ++t)
            if (k[t] != 0) return false;
    }
    return true;
}

void resample_row(const unsigned char* in, const Axis& axis, unsigned char* out) {
    for (int i = 0; i < axis.count; ++i) {
        const unsigned char* p = in + static_cast<ptrdiff_t>(axis.first[i]) * 3;
        const int32_t* k = &axis.weights[static_cast<size_t>(i) * axis.ksize];
        int32_t r = kHalf, g = kHalf, b = kHalf;
        for (int t = 0, n = axis.taps[i]; t < n; ++t) {
            r += p[3 * t] * k[t];
            g += p[3 * t + 1] * k[t];
            b += p[3 * t + 2] * k[t];
        }
        out[3 * i] = clip8(r);
        out[3 * i + 1] = clip8(g);
        out[3 * i + 2] = clip8(b);
    }
}

void resample_column_row(const unsigned char* in, std::ptrdiff_t in_stride, int width, const Axis& axis, int y,
                         unsigned char* out) {
    const int32_t* k = &axis.weights[static_cast<size_t>(y) * axis.ksize];
    const unsigned char* rows = in + static_cast<ptrdiff_t>(axis.first[y]) * in_stride;
    const int n = axis.taps[y];
    for (int x = 0; x < width * 3; ++x) {
        int32_t s = kHalf;
        for (int t = 0; t < n; ++t) s += rows[t * in_stride + x] * k[t];
        out[x] = clip8(s);
    }
}

}  // namespace imgpack::detail
