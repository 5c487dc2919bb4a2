// imgpack loader, decode side: one JPEG record to RGB uint8 pixels, with torchvision's train and
// eval transforms (RandomResizedCrop + horizontal flip; Resize + CenterCrop), decoding only the
// part of the image the crop needs and letting the IDCT downscale where the crop is large.
//
//   imgpack::Decoder dec;                                 // one per thread; reuses its buffers
//   imgpack::TransformOptions t;                          // train, 224, torchvision's defaults
//   dec.decode(record.data, t, imgpack::sample_seed(seed, epoch, i), view);   // view: 224x224x3
//
// docs/loader.md states the filter, the tolerances and what each transform matches exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>

namespace imgpack {

// A corrupt or truncated JPEG, or one the decoder cannot read. The message says what libjpeg
// said; the caller adds split, record and file name.
class DecodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Where pixels go: 3 channels (R, G, B), uint8, in memory the caller owns.
// NHWC: pixel_stride 3, channel_stride 1, row_stride 3*W.
// NCHW (one image's planes): pixel_stride 1, channel_stride H*W, row_stride W.
struct ImageView {
    unsigned char* data = nullptr;
    int width = 0, height = 0;
    std::ptrdiff_t row_stride = 0, pixel_stride = 0, channel_stride = 0;

    static ImageView hwc(unsigned char* data, int width, int height) {
        return {data, width, height, std::ptrdiff_t{3} * width, 3, 1};
    }
    static ImageView chw(unsigned char* data, int width, int height) {
        return {data, width, height, width, 1, std::ptrdiff_t{width} * height};
    }
};

enum class TransformKind { none, train, eval };

struct TransformOptions {
    TransformKind kind = TransformKind::train;
    int size = 224;    // the output's side for train and eval
    int resize = 256;  // eval: the shorter side before the centre crop
    double scale_min = 0.08, scale_max = 1.0;         // train: RandomResizedCrop's scale
    double ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;  // and ratio
    double flip_probability = 0.5;                    // train: horizontal flip
    // Let libjpeg's IDCT downscale (by 1/2, 1/4 or 1/8) when the crop is at least twice the
    // output's size; the result then differs slightly from a full decode (docs/loader.md).
    bool dct_scaling = true;
};

// SplitMix64's output function (Steele, Lea, Flood 2014): a bijection on 64 bits whose every
// input bit affects every output bit.
constexpr uint64_t splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The seed of one sample's augmentation: the same (seed, epoch, sample) always gives the same
// crop and flip, whichever thread or rank decodes it. `sample` is the record's index in its split.
constexpr uint64_t sample_seed(uint64_t seed, uint64_t epoch, uint64_t sample) {
    return splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ sample);
}

// One sample's train draw: torchvision's RandomResizedCrop.get_params (rows top..top+height,
// columns left..left+width of the image) and the flip coin, from the sample's seed.
struct TrainDraw {
    int top = 0, left = 0, height = 0, width = 0;
    bool flip = false;
};
TrainDraw draw_train(int image_width, int image_height, const TransformOptions&, uint64_t sample_seed);

// The eval geometry: torchvision's Resize(resize) of the shorter side, then CenterCrop(size).
struct EvalGeometry {
    int resized_width = 0, resized_height = 0;  // the whole image after Resize
    int top = 0, left = 0;                       // the crop's corner in the resized image
};
EvalGeometry eval_geometry(int image_width, int image_height, const TransformOptions&);

// Decodes JPEG records. One per thread (not thread-safe); keeps its libjpeg state and buffers
// between calls, so decoding allocates nothing of its own once warm.
class Decoder {
public:
    Decoder();
    ~Decoder();
    Decoder(Decoder&&) noexcept;
    Decoder& operator=(Decoder&&) noexcept;

    struct Header {
        int width = 0, height = 0;
    };
    // Reads the JPEG's header only. Throws DecodeError.
    Header header(std::span<const unsigned char> jpeg);

    // kind none: out must be the image's width x height (a full decode: RGB, grayscale and CMYK
    // converted). train and eval: out must be size x size. The sample seed matters for train only.
    // Throws DecodeError (bad data) or std::invalid_argument (a view of the wrong size); never
    // reads or writes out of bounds. On a throw, out's contents are unspecified.
    void decode(std::span<const unsigned char> jpeg, const TransformOptions&, uint64_t sample_seed,
                const ImageView& out);

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace imgpack
