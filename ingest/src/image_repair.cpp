// ImageNet quirk repair (see image_repair.hpp for what is reproduced from TensorFlow and why).
#include "image_repair.hpp"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace imgpack {

namespace {


void check_size(int width, int height, int channels) {
    if (width <= 0 || height <= 0 || width > 65535 || height > 65535)
        throw BadImage("image size " + std::to_string(width) + "x" + std::to_string(height) + " is outside 1..65535");
    if (uint64_t(width) * uint64_t(height) * uint64_t(channels) >= kMaxRepairDecodedBytes)
        throw BadImage("image " + std::to_string(width) + "x" + std::to_string(height) +
                       " is too large to repair (TensorFlow's 2^29-byte decode limit)");
}

// ---------------------------------------------------------------- JPEG markers

// Walks the marker segments before the first SOS; calls f(marker, segment data, data length)
// for each segment with a length. Returns false if the stream is malformed before the SOS.
template <class F>
bool for_each_header_segment(std::span<const unsigned char> b, F&& f) {
    if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return false;
    size_t i = 2;
    while (i + 2 <= b.size()) {
        if (b[i] != 0xFF) return false;
        const unsigned char m = b[i + 1];
        if (m == 0xFF) { ++i; continue; }                                  // fill byte
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { i += 2; continue; }  // no length
        if (m == 0xD9 || i + 4 > b.size()) return false;                  // EOI / truncated
        const size_t len = size_t(b[i + 2]) << 8 | b[i + 3];
        if (len < 2 || i + 2 + len > b.size()) return false;
        f(m, b.data() + i + 4, len - 2);
        if (m == 0xDA) return true;  // SOS: entropy-coded data follows
        i += 2 + len;
    }
    return false;
}

// ---------------------------------------------------------------- TurboJPEG

struct TjFree {
    void operator()(unsigned char* p) const { tjFree(p); }
};

tjhandle tj(void* h) { return static_cast<tjhandle>(h); }

std::string tj_error(void* h) { return tjGetErrorStr2(tj(h)); }

// With libjpeg-turbo 2.1.5, a handle whose last call failed can fail the next image too ("two
// SOI markers"): after a failure, start over with a fresh handle.
void renew(void*& handle, bool compressor) {
    tjhandle fresh = compressor ? tjInitCompress() : tjInitDecompress();
    if (!fresh) throw std::runtime_error(std::string("imgpack: TurboJPEG init failed: ") + tjGetErrorStr2(nullptr));
    tjDestroy(tj(handle));
    handle = fresh;
}

// ---------------------------------------------------------------- libpng

struct PngSource {
    const unsigned char* data;
    size_t left;
    char error[200];
};

void png_read_cb(png_structp png, png_bytep out, size_t n) {
    auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
    if (n > src->left) png_error(png, "unexpected end of PNG data");
    std::memcpy(out, src->data, n);
    src->data += n;
    src->left -= n;
}

[[noreturn]] void png_error_cb(png_structp png, png_const_charp msg) {
    auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
    std::snprintf(src->error, sizeof src->error, "%s", msg);
    std::longjmp(png_jmpbuf(png), 1);
}

void png_warning_cb(png_structp, png_const_charp) {}  // TensorFlow only logs warnings

struct PngHeader {
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    size_t rowbytes = 0;
    int channels = 0;
};

// Reads the header and sets up the transformations of TensorFlow's CommonInitDecode()
// (tensorflow/core/lib/png/png_io.cc) for desired_channels = 3, desired_channel_bits = 8, in
// the same order. The setjmp lives in frames without objects that have destructors, so
// libpng's longjmp skips no C++ cleanup.
bool png_begin(png_structp png, png_infop info, PngSource* src, PngHeader* h) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_read_fn(png, src, png_read_cb);
    png_read_info(png, info);
    png_get_IHDR(png, info, &h->width, &h->height, &h->bit_depth, &h->color_type, &h->interlace, nullptr,
                 nullptr);
    const bool has_tRNS = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    const bool has_alpha = (h->color_type & PNG_COLOR_MASK_ALPHA) != 0;
    if (has_alpha || has_tRNS) png_set_strip_alpha(png);  // dropped, not composited
    if (h->bit_depth > 8) png_set_strip_16(png);         // high byte, not rounded
    png_set_packing(png);
    png_set_interlace_handling(png);
    if (h->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    const bool is_gray = (h->color_type & PNG_COLOR_MASK_COLOR) == 0;
    if (is_gray) {
        if (h->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    png_read_update_info(png, info);
    h->rowbytes = png_get_rowbytes(png, info);
    h->channels = png_get_channels(png, info);
    return true;
}

bool png_finish(png_structp png, png_infop info, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_image(png, rows);
    png_read_end(png, info);  // TensorFlow reads to IEND too: a damaged tail is an error
    return true;
}

std::string png_kind(int color_type, int bit_depth, bool trns) {
    std::string s;
    switch (color_type) {
        case PNG_COLOR_TYPE_GRAY: s = "gray"; break;
        case PNG_COLOR_TYPE_GRAY_ALPHA: s = "gray+alpha"; break;
        case PNG_COLOR_TYPE_PALETTE: s = "palette"; break;
        case PNG_COLOR_TYPE_RGB: s = "RGB"; break;
        case PNG_COLOR_TYPE_RGB_ALPHA: s = "RGBA"; break;
        default: s = "colour type " + std::to_string(color_type); break;
    }
    if (trns) s += "+tRNS";
    return s + ", " + std::to_string(bit_depth) + "-bit";
}

}  // namespace

bool jpeg_has_adobe_marker(std::span<const unsigned char> jpeg) {
    bool adobe = false;
    for_each_header_segment(jpeg, [&](unsigned char m, const unsigned char* d, size_t n) {
        if (m == 0xEE && n >= 12 && std::memcmp(d, "Adobe", 5) == 0) adobe = true;
    });
    return adobe;
}

uint64_t repair_memory(const ImageInfo& info) {
    const uint64_t pixels = uint64_t(info.width) * info.height;
    return info.codec == format::Codec::png ? 3 * pixels : (4 + 2 * 4) * pixels;
}

ImageRepairer::ImageRepairer(int quality, JpegChroma chroma)
    : decompressor_(nullptr), compressor_(nullptr), quality_(quality), chroma_(chroma) {
    if (quality < 1 || quality > 100)
        throw std::invalid_argument("imgpack: JPEG quality " + std::to_string(quality) + " is outside 1..100");
    decompressor_ = tjInitDecompress();
    compressor_ = tjInitCompress();
    if (!decompressor_ || !compressor_) {
        const std::string msg = tjGetErrorStr2(nullptr);
        if (decompressor_) tjDestroy(tj(decompressor_));
        if (compressor_) tjDestroy(tj(compressor_));
        throw std::runtime_error("imgpack: TurboJPEG init failed: " + msg);
    }
}

ImageRepairer::~ImageRepairer() {
    tjDestroy(tj(decompressor_));
    tjDestroy(tj(compressor_));
}

RepairResult ImageRepairer::repair(std::span<const unsigned char> bytes, const ImageInfo& info) {
    if (!info.needs_repair())
        throw std::invalid_argument(std::string("imgpack: a ") + color_space_name(info.color_space) +
                                    " JPEG needs no repair");
    if (info.codec == format::Codec::png) return repair_png(bytes, info);
    if (info.codec == format::Codec::jpeg) return repair_cmyk_jpeg(bytes, info);
    throw std::invalid_argument(std::string("imgpack: cannot repair an image of codec ") + codec_name(info.codec));
}

RepairResult ImageRepairer::repair_cmyk_jpeg(std::span<const unsigned char> bytes, const ImageInfo& info) {
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(tj(decompressor_), bytes.data(), static_cast<unsigned long>(bytes.size()), &w, &h,
                            &subsamp, &cs) != 0) {
        const std::string msg = tj_error(decompressor_);
        renew(decompressor_, false);
        throw BadImage("JPEG header does not parse: " + msg);
    }
    const bool ycck = cs == TJCS_YCCK;
    if ((cs != TJCS_CMYK && !ycck) || info.color_space != (ycck ? format::ColorSpace::ycck : format::ColorSpace::cmyk) ||
        w != info.width || h != info.height)
        throw std::invalid_argument("imgpack: the ImageInfo given to repair() does not describe these JPEG bytes");
    check_size(w, h, 4);

    // libjpeg's JCS_CMYK output: the stored samples (YCCK transformed back to CMYK), never
    // inverted. FASTDCT = JDCT_IFAST, TensorFlow's decode_jpeg default; fancy upsampling stays
    // on, as in TensorFlow.
    // Allocated per repair, not kept: a large image's buffer must not stay with the worker.
    std::vector<unsigned char> pixels(size_t(w) * size_t(h) * 4);
    if (tjDecompress2(tj(decompressor_), bytes.data(), static_cast<unsigned long>(bytes.size()), pixels.data(), w,
                      0, h, TJPF_CMYK, TJFLAG_FASTDCT) != 0) {
        // TurboJPEG also fails on libjpeg warnings. TensorFlow tolerates those (e.g. "Corrupt
        // JPEG data: N extraneous bytes before marker") but not a truncated file, which its
        // source manager turns into a failed read ("Premature end of JPEG file" here).
        const std::string msg = tj_error(decompressor_);
        const bool fatal = tjGetErrorCode(tj(decompressor_)) != TJERR_WARNING;
        renew(decompressor_, false);
        if (fatal || msg.find("Premature end") != std::string::npos) throw BadImage("JPEG does not decode: " + msg);
    }

    const bool adobe = jpeg_has_adobe_marker(bytes);
    const size_t n = size_t(w) * size_t(h);
    unsigned char* p = pixels.data();
    for (size_t i = 0; i < n; ++i) {  // in place: pixel i's RGB never overtakes pixel i's CMYK
        const auto rgb = tf_cmyk_to_rgb(p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3], adobe);
        std::memcpy(p + 3 * i, rgb.data(), 3);
    }
    pixels.resize(n * 3);

    RepairResult r;
    r.jpeg = encode_rgb(std::move(pixels), w, h);
    r.width = static_cast<uint16_t>(w);
    r.height = static_cast<uint16_t>(h);
    r.what = std::string(ycck ? "YCCK" : "CMYK") + " JPEG" + (adobe ? "" : " (no Adobe marker)") + " -> RGB JPEG";
    return r;
}

RepairResult ImageRepairer::repair_png(std::span<const unsigned char> bytes, const ImageInfo& info) {
    static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0)
        throw std::invalid_argument("imgpack: the ImageInfo given to repair() says PNG, the bytes are not one");

    PngSource src{bytes.data(), bytes.size(), "unknown libpng error"};
    struct Structs {  // png_destroy_read_struct accepts null members
        png_structp png = nullptr;
        png_infop info = nullptr;
        ~Structs() { png_destroy_read_struct(&png, &info, nullptr); }
    } s;
    s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_error_cb, png_warning_cb);
    if (!s.png) throw std::runtime_error("imgpack: png_create_read_struct failed");
    s.info = png_create_info_struct(s.png);
    if (!s.info) throw std::runtime_error("imgpack: png_create_info_struct failed");

    PngHeader h;
    if (!png_begin(s.png, s.info, &src, &h)) throw BadImage(std::string("PNG does not decode: ") + src.error);
    const int w = static_cast<int>(std::min<png_uint_32>(h.width, 1u << 30));
    const int ht = static_cast<int>(std::min<png_uint_32>(h.height, 1u << 30));
    check_size(w, ht, 3);
    if (w != info.width || ht != info.height)
        throw std::invalid_argument("imgpack: the ImageInfo given to repair() does not describe these PNG bytes");
    if (h.channels != 3 || h.rowbytes != size_t(w) * 3)
        throw BadImage("PNG did not decode to 8-bit RGB");  // cannot happen with the transformations above

    std::vector<unsigned char> pixels(size_t(w) * size_t(ht) * 3);  // per repair, not kept
    std::vector<png_bytep> rows(static_cast<size_t>(ht));
    for (size_t y = 0; y < rows.size(); ++y) rows[y] = pixels.data() + y * size_t(w) * 3;
    if (!png_finish(s.png, s.info, rows.data())) throw BadImage(std::string("PNG does not decode: ") + src.error);

    rows = {};
    RepairResult r;
    r.jpeg = encode_rgb(std::move(pixels), w, ht);
    r.width = static_cast<uint16_t>(w);
    r.height = static_cast<uint16_t>(ht);
    const bool trns = png_get_valid(s.png, s.info, PNG_INFO_tRNS) != 0;
    r.what = "PNG (" + png_kind(h.color_type, h.bit_depth, trns) + ") -> RGB JPEG";
    return r;
}

// RGB -> baseline JFIF JPEG, as tf.image.encode_jpeg(format='rgb') does with libjpeg: the
// defaults of jpeg_set_defaults() + jpeg_set_quality(q, TRUE), ISLOW forward DCT (TurboJPEG
// would pick IFAST below quality 96 without TJFLAG_ACCURATEDCT), standard Huffman tables.
// Gray sources become RGB (3-component) JPEGs too, as in TFDS, which decodes PNGs with
// channels=3 and encodes with format='rgb'.
std::vector<unsigned char> ImageRepairer::encode_rgb(std::vector<unsigned char>&& rgb, int width, int height) {
    unsigned char* raw = nullptr;
    unsigned long size = 0;
    const int subsamp = chroma_ == JpegChroma::full_444 ? TJSAMP_444 : TJSAMP_420;
    const int rc = tjCompress2(tj(compressor_), rgb.data(), width, 0, height, TJPF_RGB, &raw, &size, subsamp, quality_,
                               TJFLAG_ACCURATEDCT);
    std::unique_ptr<unsigned char, TjFree> owned(raw);
    std::vector<unsigned char>().swap(rgb);
    if (rc != 0) {
        const std::string msg = tj_error(compressor_);
        renew(compressor_, true);
        throw std::runtime_error("imgpack: JPEG encoding failed: " + msg);
    }
    std::vector<unsigned char> out(raw, raw + size);

    // JFIF APP0 right after SOI: FF E0, length 16, "JFIF\0", version(2), units(1), Xdensity(2),
    // Ydensity(2), ... libjpeg writes units 0, density 1:1; encode_jpeg's defaults are
    // density_unit='in', x_density = y_density = 300.
    if (out.size() > 18 && out[2] == 0xFF && out[3] == 0xE0 && std::memcmp(out.data() + 6, "JFIF", 5) == 0) {
        out[13] = 1;
        out[14] = 300 >> 8;
        out[15] = 300 & 0xFF;
        out[16] = 300 >> 8;
        out[17] = 300 & 0xFF;
    }
    return out;
}

}  // namespace imgpack
