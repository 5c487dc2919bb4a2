// Repairs ImageNet's known image quirks the way TensorFlow Datasets does (imagenet2012 >= 3.0.0):
// 4-component JPEGs (CMYK, YCCK) are converted to RGB, and non-JPEG images (one PNG named .JPEG
// in train) are decoded; either way the result is re-encoded as a baseline RGB JPEG. What needs
// repair is decided from the bytes (ImageInfo::needs_repair), never from a list of file names.
//
// Fidelity to TFDS. TFDS calls tf.image.decode_jpeg / tf.image.decode_png(channels=3) and then
// tf.image.encode_jpeg(format='rgb', quality=100) (tensorflow_datasets/core/utils/image_utils.py).
// This class reproduces each step with the same library, libjpeg-turbo (which TensorFlow bundles)
// and libpng, and the same settings:
//  - CMYK/YCCK decode: out_color_space CMYK, IFAST inverse DCT (TensorFlow's decode_jpeg default,
//    dct_method=''), fancy upsampling, then TensorFlow's own CMYK -> RGB formula (tf_cmyk_to_rgb).
//  - PNG decode: the libpng transformations of TensorFlow's png_io.cc for channels=3, uint8:
//    alpha and tRNS are stripped (not composited), 16-bit samples keep their high byte, palette
//    and gray are expanded to RGB.
//  So the RGB pixels handed to the encoder are those TensorFlow computes: same library, same
//  settings, same arithmetic (not checked against TensorFlow itself, which is not installable
//  where imgpack is built).
//  - Encode: baseline, ISLOW forward DCT (libjpeg's default), standard Huffman tables, and a JFIF
//    header saying 300 dpi like encode_jpeg's defaults, at a quality and chroma subsampling of
//    the caller's choice. TFDS uses quality 100 with 4:2:0 (encode_jpeg's chroma_downsampling=
//    True); ImageRepairer(100, JpegChroma::subsampled_420) is expected to write the very JPEG
//    that TFDS stores (same library, same settings; not verified against TensorFlow itself).
//  - The default, quality 100 with 4:4:4, keeps the source's colours: on natural-looking images
//    the decoded repair is within 3-4 levels of the source (PSNR ~50 dB) where 4:2:0 loses up to
//    ~140 levels at saturated colour edges (PSNR 31-37 dB), for 1.5-1.8x the bytes, which for 23
//    of ImageNet's 1.28 million images is nothing (measurements in the project's docs).
#pragma once

#include "image_info.hpp"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace imgpack {

struct RepairResult {
    std::vector<unsigned char> jpeg;  // baseline JFIF JPEG, 3 components (YCbCr from RGB)
    uint16_t width = 0, height = 0;   // always the source's
    std::string what;                 // e.g. "YCCK JPEG -> RGB JPEG", "PNG (RGBA, 8-bit) -> RGB JPEG"
};

enum class JpegChroma {
    full_444,        // no chroma subsampling: the default, closest to the source
    subsampled_420,  // TFDS's (tf.image.encode_jpeg's default): byte-compatible with TFDS
};

// TFDS re-encodes at quality 100.
inline constexpr int kTfdsJpegQuality = 100;

// One per thread: owns a TurboJPEG decompressor and a compressor (baseline only; it never makes
// a progressive JPEG, which with libjpeg-turbo 2.1.5 would corrupt the handle's later output).
class ImageRepairer {
public:
    // Throws std::invalid_argument unless 1 <= quality <= 100.
    explicit ImageRepairer(int quality = kTfdsJpegQuality, JpegChroma chroma = JpegChroma::full_444);
    ~ImageRepairer();
    ImageRepairer(const ImageRepairer&) = delete;
    ImageRepairer& operator=(const ImageRepairer&) = delete;

    // `info` is what ImageInspector::inspect said about `bytes`. Repairs a CMYK or YCCK JPEG or a
    // PNG. Throws BadImage (reason only; the caller names the file) when the image cannot be
    // decoded: a fatal decoder error, a truncated JPEG (TensorFlow rejects those too; other
    // libjpeg warnings are tolerated, as TensorFlow does), a libpng error, or more than 2^29
    // bytes of decoded RGB (TensorFlow's limit). Throws std::invalid_argument when the image
    // needs no repair (!info.needs_repair(): a YCbCr, gray or RGB JPEG) or `info` does not
    // describe `bytes`: both are the caller's mistake, never the image's.
    RepairResult repair(std::span<const unsigned char> bytes, const ImageInfo& info);

private:
    RepairResult repair_cmyk_jpeg(std::span<const unsigned char> bytes, const ImageInfo& info);
    RepairResult repair_png(std::span<const unsigned char> bytes, const ImageInfo& info);
    // Frees `rgb` once it is encoded, before the JPEG is copied out: the two are not held at once.
    std::vector<unsigned char> encode_rgb(std::vector<unsigned char>&& rgb, int width, int height);

    void* decompressor_;  // tjhandle
    void* compressor_;    // tjhandle, baseline only
    int quality_;
    JpegChroma chroma_;
};

// TensorFlow refuses to decode images whose output (width * height * channels) reaches 2^29
// bytes (jpeg_mem.cc); anything that large is not an ImageNet image, so repair() refuses it too
// rather than allocate gigabytes for a hostile header.
inline constexpr uint64_t kMaxRepairDecodedBytes = uint64_t{1} << 29;

// What repair() holds for an image `info` describes, for callers that bound the memory repairs
// take at once: its decoded samples (CMYK: 4 bytes per pixel, PNG: 3) and, for a JPEG, libjpeg's
// coefficients (2 bytes per sample, all held for a progressive JPEG). Not counted: the JPEG it
// writes, a few bytes per pixel at most.
uint64_t repair_memory(const ImageInfo& info);

// TensorFlow's CMYK -> RGB conversion for one pixel, as in UncompressLow() in
// tensorflow/core/lib/jpeg/jpeg_mem.cc, applied to libjpeg's JCS_CMYK output (the samples as
// stored, YCCK already transformed back to CMYK; libjpeg never inverts them):
//   with an Adobe APP14 marker (Photoshop's inverted CMYK, 255 = no ink):
//       R = K * C / 255,  G = K * M / 255,  B = K * Y / 255
//   without one (plain CMYK, 0 = no ink):
//       R = (255 - K) * (255 - C) / 255,  likewise G from M and B from Y
// in int arithmetic, so the divisions truncate.
inline std::array<uint8_t, 3> tf_cmyk_to_rgb(uint8_t c, uint8_t m, uint8_t y, uint8_t k, bool adobe) {
    const int ci = c, mi = m, yi = y, ki = k;
    if (adobe)
        return {uint8_t(ki * ci / 255), uint8_t(ki * mi / 255), uint8_t(ki * yi / 255)};
    return {uint8_t((255 - ki) * (255 - ci) / 255), uint8_t((255 - ki) * (255 - mi) / 255),
            uint8_t((255 - ki) * (255 - yi) / 255)};
}

// Whether libjpeg would set saw_Adobe_marker for this JPEG: an APP14 segment of at least 12 data
// bytes starting with "Adobe" before the first SOS (jdmarker.c, examine_app14).
bool jpeg_has_adobe_marker(std::span<const unsigned char> jpeg);

}  // namespace imgpack
