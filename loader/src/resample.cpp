#include "resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define IMGPACK_X86 1
#endif

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
        // Taps of weight 0 at either end add nothing: drop them (fewer pixels read, same sums).
        int lead = 0;
        while (lead < xmax && k[lead] == 0) ++lead;
        while (xmax > lead && k[xmax - 1] == 0) --xmax;
        if (lead > 0) std::copy(k + lead, k + xmax, k), std::fill(k + xmax - lead, k + xmax, 0);
        first[i] = xmin + lead;
        taps[i] = std::max(xmax - lead, 0);
    }
    pair_up();
}

void Axis::pair_up() {
    int most = 0;
    for (int i = 0; i < count; ++i) most = std::max(most, taps[i]);
    pairs_per_output = (most + 1) / 2;
    pair_weights.assign(static_cast<size_t>(count) * pairs_per_output * 8, 0);
    steps.resize(count);
    const int end = highest();
    for (int i = 0; i < count; ++i)
        steps[i] = first[i] + 2 * pairs_per_output <= end ? pairs_per_output : (taps[i] + 1) / 2;
    for (int i = 0; i < count; ++i)
        for (int t = 0; t < taps[i]; ++t) {
            int32_t* lanes = &pair_weights[(static_cast<size_t>(i) * pairs_per_output + t / 2) * 8 + (t % 2) * 3];
            lanes[0] = lanes[1] = lanes[2] = weights[static_cast<size_t>(i) * ksize + t];
        }
}

void Axis::reverse() {
    std::reverse(first.begin(), first.end());
    std::reverse(taps.begin(), taps.end());
    for (int i = 0, j = count - 1; i < j; ++i, --j)
        std::swap_ranges(weights.begin() + static_cast<ptrdiff_t>(i) * ksize,
                         weights.begin() + static_cast<ptrdiff_t>(i + 1) * ksize,
                         weights.begin() + static_cast<ptrdiff_t>(j) * ksize);
    pair_up();
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

namespace {

void resample_row_scalar(const unsigned char* in, const Axis& axis, unsigned char* out) {
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

void column_bytes_scalar(const unsigned char* rows, std::ptrdiff_t stride, int bytes, const int32_t* weights, int taps,
                         unsigned char* out) {
    for (int x = 0; x < bytes; ++x) {
        int32_t s = kHalf;
        for (int t = 0; t < taps; ++t) s += rows[t * stride + x] * weights[t];
        out[x] = clip8(s);
    }
}

#if IMGPACK_X86
// AVX2, chosen at run time (the build targets baseline x86-64). The same integer arithmetic as
// the scalar code, so the same bytes.

// Two taps per step: 8 bytes at the pair's first pixel widened to 8 int32 lanes, times
// (w0 w0 w0 w1 w1 w1 0 0); the even taps gather in lanes 0-2, the odd ones in lanes 3-5. Pairs is
// the step count when it is fixed for the axis (the loop is then unrolled), 0 where it varies.
__attribute__((target("avx2"), always_inline)) inline __m256i add_pair(__m256i acc, const unsigned char* p,
                                                                     const int32_t* w) {
    int64_t bytes;
    std::memcpy(&bytes, p, 8);
    const __m256i px = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bytes));
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(px, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))));
}

template <int Pairs>
__attribute__((target("avx2"), always_inline)) inline __m256i taps_of(const Axis& axis, const unsigned char* in, int i,
                                                                     const int32_t* w) {
    const unsigned char* p = in + static_cast<ptrdiff_t>(axis.first[i]) * 3;
    __m256i acc = _mm256_setr_epi32(kHalf, kHalf, kHalf, 0, 0, 0, 0, 0);  // lanes 0-2: even taps and the half
    const int n = axis.steps[i];
    if (Pairs > 0 && n == Pairs) {
        for (int k = 0; k < Pairs; ++k) acc = add_pair(acc, p + 6 * k, w + 8 * k);  // unrolled
    } else {
        for (int k = 0; k < n; ++k) acc = add_pair(acc, p + 6 * k, w + 8 * k);
    }
    return acc;
}

// Two outputs per iteration: lanes 0-2 of the first's sums and lanes 3-5 of the second's make
// one vector, shifted, packed and stored as 6 bytes (8 written; the next 2 are rewritten next).
template <int Pairs>
__attribute__((target("avx2"))) void resample_row_avx2_n(const unsigned char* in, const Axis& axis,
                                                         unsigned char* out) {
    const __m256i to_low = _mm256_setr_epi32(3, 4, 5, 0, 0, 0, 0, 0);   // odd taps onto lanes 0-2
    const __m256i to_high = _mm256_setr_epi32(0, 0, 0, 0, 1, 2, 0, 0);  // even taps onto lanes 3-5
    const int stride = axis.pairs_per_output * 8;
    const int32_t* w = axis.pair_weights.data();
    int i = 0;
    for (; i + 2 <= axis.count; i += 2, w += 2 * stride) {
        const __m256i a = taps_of<Pairs>(axis, in, i, w), b = taps_of<Pairs>(axis, in, i + 1, w + stride);
        const __m256i sa = _mm256_add_epi32(a, _mm256_permutevar8x32_epi32(a, to_low));
        const __m256i sb = _mm256_add_epi32(b, _mm256_permutevar8x32_epi32(b, to_high));
        const __m256i v = _mm256_srai_epi32(_mm256_blend_epi32(sa, sb, 0x38), Axis::kWeightBits);
        const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + 3 * i), _mm_packus_epi16(s16, s16));
    }
    if (i < axis.count) {
        const __m256i a = taps_of<Pairs>(axis, in, i, w);
        const __m256i v = _mm256_srai_epi32(_mm256_add_epi32(a, _mm256_permutevar8x32_epi32(a, to_low)), Axis::kWeightBits);
        const __m128i s16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_castsi256_si128(v));
        const int32_t rgb = _mm_cvtsi128_si32(_mm_packus_epi16(s16, s16));
        std::memcpy(out + 3 * i, &rgb, 4);  // the 4th byte lies in the caller's slack
    }
}

__attribute__((target("avx2"))) void resample_row_avx2(const unsigned char* in, const Axis& axis, unsigned char* out) {
    switch (axis.pairs_per_output) {
    case 1: resample_row_avx2_n<1>(in, axis, out); break;
    case 2: resample_row_avx2_n<2>(in, axis, out); break;
    case 3: resample_row_avx2_n<3>(in, axis, out); break;
    case 4: resample_row_avx2_n<4>(in, axis, out); break;
    default: resample_row_avx2_n<0>(in, axis, out); break;
    }
}

// 32 bytes of the row per step, four accumulators of 8 int32 lanes.
__attribute__((target("avx2"))) void resample_column_avx2(const unsigned char* rows, std::ptrdiff_t stride, int width,
                                                          const int32_t* weights, int taps, unsigned char* out) {
    const int n = width * 3;
    const __m256i half = _mm256_set1_epi32(kHalf);
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        __m256i a0 = half, a1 = half, a2 = half, a3 = half;
        for (int t = 0; t < taps; ++t) {
            const __m256i w = _mm256_set1_epi32(weights[t]);
            const unsigned char* r = rows + t * stride + x;
            const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r));
            const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 16));
            a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(lo), w));
            a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), w));
            a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(hi), w));
            a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), w));
        }
        a0 = _mm256_srai_epi32(a0, Axis::kWeightBits);
        a1 = _mm256_srai_epi32(a1, Axis::kWeightBits);
        a2 = _mm256_srai_epi32(a2, Axis::kWeightBits);
        a3 = _mm256_srai_epi32(a3, Axis::kWeightBits);
        // packs work within 128-bit halves: put the bytes back in order with one permute
        const __m256i s01 = _mm256_packs_epi32(a0, a1), s23 = _mm256_packs_epi32(a2, a3);
        const __m256i bytes = _mm256_packus_epi16(s01, s23);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x),
                            _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
    if (x < n) column_bytes_scalar(rows + x, stride, n - x, weights, taps, out + x);
}
#endif

using RowKernel = void (*)(const unsigned char*, const Axis&, unsigned char*);
using ColumnKernel = void (*)(const unsigned char*, std::ptrdiff_t, int, const int32_t*, int, unsigned char*);

struct Kernels {
    RowKernel row = resample_row_scalar;
    ColumnKernel column = nullptr;
    const char* name = "scalar";
    Kernels() {
#if IMGPACK_X86
        // IMGPACK_LOADER_KERNEL=scalar forces the portable code (for its tests and comparisons).
        const char* force = std::getenv("IMGPACK_LOADER_KERNEL");
        if (__builtin_cpu_supports("avx2") && !(force && std::strcmp(force, "scalar") == 0)) {
            row = resample_row_avx2;
            column = resample_column_avx2;
            name = "avx2";
        }
#endif
    }
};

const Kernels& kernels() {
    static const Kernels k;
    return k;
}

}  // namespace

void resample_row(const unsigned char* in, const Axis& axis, unsigned char* out) { kernels().row(in, axis, out); }

void resample_column(const unsigned char* rows, std::ptrdiff_t stride, int width, const int32_t* weights, int taps,
                     unsigned char* out) {
    if (kernels().column) kernels().column(rows, stride, width, weights, taps, out);
    else column_bytes_scalar(rows, stride, width * 3, weights, taps, out);
}

const char* resample_kernel() { return kernels().name; }

}  // namespace imgpack::detail
