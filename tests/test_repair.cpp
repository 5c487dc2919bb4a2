// ImageRepairer: ImageNet's quirks (CMYK/YCCK JPEGs, a PNG) become baseline RGB JPEGs whose
// pixels are what TensorFlow's decoders make of the source. Every source image here is built
// from known pixels, so the expected RGB is computed independently of the code under test.
//
// Tolerances. The repaired JPEG is lossy (even at quality 100: 8-bit YCbCr cannot hold every
// RGB triple, and the DCT rounds), and so is a JPEG source. Measured on these smooth test
// images with libjpeg-turbo 2.1.5 (max / mean absolute error per sample against the expected RGB):
//   PNG source, default (q100, 4:4:4) ........................ max 4, mean 0.40
//   PNG source, TFDS's settings (q100, 4:2:0) ................ max 3, mean 0.50
//   CMYK/YCCK source (itself q100), IFAST decode, either ..... max 5-6, mean 0.83-0.92
// The checks allow 1.5-2x that (kMax*, kMean*): a wrong conversion (an uninverted K, a
// missed Adobe marker, swapped channels, alpha composited instead of dropped) is off by tens of
// levels on average and fails, while another libjpeg-turbo build's rounding passes. The PNG
// transformations are also checked exactly: a 16-bit, RGBA, gray+alpha or palette PNG must give
// the very JPEG bytes that the 8-bit RGB (or gray) PNG of the expected pixels gives.
#include "helpers.hpp"
#include "jpeg_encode.hpp"

#include "image_info.hpp"
#include "image_repair.hpp"
#include <imgpack/synth.hpp>

#include <doctest/doctest.h>
#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;
namespace fmt = imgpack::format;

constexpr int kMaxPng = 6, kMaxCmyk = 10;
constexpr double kMeanPng = 1.0, kMeanCmyk = 1.6;

// ---------------------------------------------------------------- known pixels

// Smooth, distinct per channel, covering most of 0..255: a sample of channel ch at (x, y).
int smooth(int x, int y, int w, int h, int ch) {
    const int fx = x * 255 / std::max(1, w - 1), fy = y * 255 / std::max(1, h - 1);
    switch (ch % 4) {
        case 0: return fx;
        case 1: return fy;
        case 2: return (fx + fy) / 2;
        default: return 255 - (fx + 2 * fy) / 3;
    }
}

Bytes paint(int w, int h, int channels, const std::function<int(int, int, int)>& f) {
    Bytes px(size_t(w) * h * channels);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c) px[(size_t(y) * w + x) * channels + c] = uint8_t(f(x, y, c));
    return px;
}

// ---------------------------------------------------------------- JPEG helpers (TurboJPEG)

struct TjDecompressor {
    tjhandle h = tjInitDecompress();
    TjDecompressor() { REQUIRE(h); }
    ~TjDecompressor() { tjDestroy(h); }
};

Bytes tj_compress(const Bytes& px, int w, int h, int pf, int subsamp, int quality = 100) {
    return test::encode_jpeg(px.data(), w, h, pf, subsamp, quality, TJFLAG_ACCURATEDCT);
}

struct Decoded {
    int w = 0, h = 0, subsamp = -1, colorspace = -1;
    Bytes rgb;
};

Decoded decode_rgb(const Bytes& jpeg) {
    TjDecompressor tj;
    Decoded d;
    REQUIRE(tjDecompressHeader3(tj.h, jpeg.data(), jpeg.size(), &d.w, &d.h, &d.subsamp, &d.colorspace) == 0);
    d.rgb.resize(size_t(d.w) * d.h * 3);
    REQUIRE(tjDecompress2(tj.h, jpeg.data(), jpeg.size(), d.rgb.data(), d.w, 0, d.h, TJPF_RGB, 0) == 0);
    return d;
}

// Walks the marker segments up to the first SOS: f(marker, data, data length).
void for_each_segment(Bytes& j, const std::function<void(unsigned char, unsigned char*, size_t)>& f) {
    size_t i = 2;
    while (i + 4 <= j.size() && j[i] == 0xFF) {
        const unsigned char m = j[i + 1];
        const size_t len = size_t(j[i + 2]) << 8 | j[i + 3];
        REQUIRE(i + 2 + len <= j.size());
        f(m, j.data() + i + 4, len - 2);
        if (m == 0xDA) return;
        i += 2 + len;
    }
    FAIL("no SOS marker");
}

// Frame header of a JPEG: SOF marker and component count.
std::pair<unsigned char, int> frame_of(Bytes j) {
    std::pair<unsigned char, int> r{0, 0};
    for_each_segment(j, [&](unsigned char m, unsigned char* d, size_t) {
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) r = {m, d[5]};
    });
    return r;
}

// TurboJPEG writes CMYK pixels as an Adobe YCCK JPEG; setting the APP14 transform to 0 makes it a
// plain Adobe CMYK JPEG whose stored C, M, Y planes are the YCCK file's Y, Cb, Cr planes.
Bytes relabel_as_cmyk(Bytes j) {
    bool done = false;
    for_each_segment(j, [&](unsigned char m, unsigned char* d, size_t n) {
        if (m == 0xEE && n >= 12 && std::memcmp(d, "Adobe", 5) == 0) {
            CHECK(d[11] == 2);
            d[11] = 0;
            done = true;
        }
    });
    REQUIRE(done);
    return j;
}

// Removes the APP14 segment: libjpeg then reads the 4 components as plain, uninverted CMYK.
Bytes strip_adobe(Bytes j) {
    size_t at = 0, len = 0;
    for_each_segment(j, [&](unsigned char m, unsigned char* d, size_t n) {
        if (m == 0xEE) {
            at = size_t(d - j.data()) - 4;
            len = n + 4;
        }
    });
    REQUIRE(len > 0);
    j.erase(j.begin() + long(at), j.begin() + long(at + len));
    return j;
}

// libjpeg's RGB -> YCbCr (jccolor.c, ITU-R BT.601 full range), rounded.
std::array<int, 3> rgb_to_ycc(int r, int g, int b) {
    auto clamp = [](double v) { return std::clamp(int(std::lround(v)), 0, 255); };
    return {clamp(0.299 * r + 0.587 * g + 0.114 * b), clamp(-0.168735892 * r - 0.331264108 * g + 0.5 * b + 128),
            clamp(0.5 * r - 0.418687589 * g - 0.081312411 * b + 128)};
}

// ---------------------------------------------------------------- PNG helpers (libpng)

struct PngOut {
    Bytes bytes;
};

void png_write_cb(png_structp png, png_bytep data, size_t n) {
    auto* out = static_cast<PngOut*>(png_get_io_ptr(png));
    out->bytes.insert(out->bytes.end(), data, data + n);
}
void png_flush_cb(png_structp) {}

struct PngSpec {
    int w = 0, h = 0, color_type = PNG_COLOR_TYPE_RGB, bit_depth = 8;
    bool interlaced = false;
    std::vector<png_color> palette;
    std::vector<png_byte> trans_alpha;  // palette tRNS
    bool gray_trns = false;             // a tRNS colour for a gray image
    Bytes rows;                         // packed rows as libpng wants them (16-bit big-endian)
};

bool png_write_all(png_structp png, png_infop info, PngOut* out, PngSpec* s, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_write_fn(png, out, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, png_uint_32(s->w), png_uint_32(s->h), s->bit_depth, s->color_type,
                 s->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!s->palette.empty()) png_set_PLTE(png, info, s->palette.data(), int(s->palette.size()));
    if (!s->trans_alpha.empty()) png_set_tRNS(png, info, s->trans_alpha.data(), int(s->trans_alpha.size()), nullptr);
    png_color_16 trns{};
    if (s->gray_trns) png_set_tRNS(png, info, nullptr, 0, &trns);  // gray 0 is "transparent"
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, nullptr);
    return true;
}

Bytes encode_png(PngSpec s) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    REQUIRE(png);
    png_infop info = png_create_info_struct(png);
    REQUIRE(info);
    const size_t rowbytes = s.rows.size() / size_t(s.h);
    std::vector<png_bytep> rows(size_t(s.h));
    for (size_t y = 0; y < rows.size(); ++y) rows[y] = s.rows.data() + y * rowbytes;
    PngOut out;
    const bool ok = png_write_all(png, info, &out, &s, rows.data());
    png_destroy_write_struct(&png, &info);
    REQUIRE(ok);
    return out.bytes;
}

// ---------------------------------------------------------------- checks

struct Error {
    int max = 0;
    double mean = 0;
};

Error compare(const Bytes& got, const Bytes& want) {
    REQUIRE(got.size() == want.size());
    Error e;
    double sum = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const int d = std::abs(int(got[i]) - int(want[i]));
        e.max = std::max(e.max, d);
        sum += d;
    }
    e.mean = sum / double(got.size());
    return e;
}

imgpack::ImageInfo inspect(const Bytes& b) {
    imgpack::ImageInspector inspector;
    return inspector.inspect(b);
}

// Repairs `src` and checks the result is a baseline 3-component JPEG of the same size, with
// JFIF density 300 dpi like tf.image.encode_jpeg, whose pixels are within the tolerance of
// `want_rgb`. Returns the error for the caller to report.
Error check_repair(imgpack::ImageRepairer& repairer, const Bytes& src, const Bytes& want_rgb, int max_err,
                   double mean_err, int want_subsamp = TJSAMP_444) {
    const imgpack::ImageInfo info = inspect(src);
    REQUIRE(info.needs_repair());
    const imgpack::RepairResult r = repairer.repair(src, info);
    CHECK(r.width == info.width);
    CHECK(r.height == info.height);
    CHECK(r.what.find("-> RGB JPEG") != std::string::npos);

    const imgpack::ImageInfo out = inspect(r.jpeg);
    CHECK(out.codec == fmt::Codec::jpeg);
    CHECK(out.color_space == fmt::ColorSpace::ycbcr);
    CHECK_FALSE(out.needs_repair());
    CHECK(frame_of(r.jpeg) == std::pair<unsigned char, int>{0xC0, 3});  // SOF0: baseline, 3 components
    REQUIRE(r.jpeg.size() > 18);
    CHECK(std::memcmp(r.jpeg.data() + 6, "JFIF", 5) == 0);
    CHECK(r.jpeg[13] == 1);  // dots per inch
    CHECK((r.jpeg[14] << 8 | r.jpeg[15]) == 300);
    CHECK((r.jpeg[16] << 8 | r.jpeg[17]) == 300);

    const Decoded d = decode_rgb(r.jpeg);
    CHECK(d.w == info.width);
    CHECK(d.h == info.height);
    CHECK(d.subsamp == want_subsamp);
    const Error e = compare(d.rgb, want_rgb);
    INFO(r.what << ": max error " << e.max << ", mean " << e.mean);
    CHECK(e.max <= max_err);
    CHECK(e.mean <= mean_err);
    return e;
}

// Expected RGB of a CMYK source with known stored planes, by TensorFlow's formula.
Bytes expected_from_cmyk(const Bytes& cmyk, bool adobe) {
    Bytes rgb(cmyk.size() / 4 * 3);
    for (size_t i = 0; i < cmyk.size() / 4; ++i) {
        const int c = cmyk[4 * i], m = cmyk[4 * i + 1], y = cmyk[4 * i + 2], k = cmyk[4 * i + 3];
        if (adobe) {
            rgb[3 * i] = uint8_t(k * c / 255);
            rgb[3 * i + 1] = uint8_t(k * m / 255);
            rgb[3 * i + 2] = uint8_t(k * y / 255);
        } else {
            rgb[3 * i] = uint8_t((255 - k) * (255 - c) / 255);
            rgb[3 * i + 1] = uint8_t((255 - k) * (255 - m) / 255);
            rgb[3 * i + 2] = uint8_t((255 - k) * (255 - y) / 255);
        }
    }
    return rgb;
}

// The planes a CMYK-relabelled TurboJPEG YCCK file stores: YCbCr of the inverted C, M, Y; K.
Bytes stored_planes_of_relabelled(const Bytes& cmyk) {
    Bytes q(cmyk.size());
    for (size_t i = 0; i < cmyk.size() / 4; ++i) {
        const auto ycc = rgb_to_ycc(255 - cmyk[4 * i], 255 - cmyk[4 * i + 1], 255 - cmyk[4 * i + 2]);
        for (int c = 0; c < 3; ++c) q[4 * i + c] = uint8_t(ycc[c]);
        q[4 * i + 3] = cmyk[4 * i + 3];
    }
    return q;
}

constexpr int W = 67, H = 45;  // not multiples of the 16x16 MCU: partial blocks at the edges

}  // namespace

TEST_CASE("repair: TensorFlow's CMYK -> RGB formula") {
    using imgpack::tf_cmyk_to_rgb;
    using A = std::array<uint8_t, 3>;
    // Adobe (inverted) CMYK: 255 is no ink, so all-255 is white and K = 0 is black.
    CHECK(tf_cmyk_to_rgb(255, 255, 255, 255, true) == A{255, 255, 255});
    CHECK(tf_cmyk_to_rgb(255, 255, 255, 0, true) == A{0, 0, 0});
    CHECK(tf_cmyk_to_rgb(200, 100, 50, 128, true) == A{100, 50, 25});  // 25600/255 = 100.4 -> 100
    CHECK(tf_cmyk_to_rgb(1, 254, 128, 254, true) == A{0, 253, 127});   // truncation, not rounding
    // Plain CMYK: 0 is no ink.
    CHECK(tf_cmyk_to_rgb(0, 0, 0, 0, false) == A{255, 255, 255});
    CHECK(tf_cmyk_to_rgb(0, 0, 0, 255, false) == A{0, 0, 0});
    CHECK(tf_cmyk_to_rgb(55, 155, 205, 127, false) == A{100, 50, 25});
}

TEST_CASE("repair: Adobe marker detection") {
    const Bytes cmyk = paint(16, 16, 4, [](int x, int y, int c) { return smooth(x, y, 16, 16, c); });
    const Bytes ycck = tj_compress(cmyk, 16, 16, TJPF_CMYK, TJSAMP_444);
    CHECK(imgpack::jpeg_has_adobe_marker(ycck));
    CHECK(imgpack::jpeg_has_adobe_marker(relabel_as_cmyk(ycck)));
    CHECK_FALSE(imgpack::jpeg_has_adobe_marker(strip_adobe(ycck)));
    const Bytes rgb = tj_compress(paint(16, 16, 3, [](int, int, int) { return 9; }), 16, 16, TJPF_RGB, TJSAMP_420);
    CHECK_FALSE(imgpack::jpeg_has_adobe_marker(rgb));
    CHECK_FALSE(imgpack::jpeg_has_adobe_marker(Bytes{0xFF, 0xD8}));
    CHECK_FALSE(imgpack::jpeg_has_adobe_marker(Bytes{}));
}

TEST_CASE("repair: YCCK JPEG -> RGB JPEG") {
    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes want = expected_from_cmyk(cmyk, true);  // TurboJPEG's YCCK has an Adobe marker
    imgpack::ImageRepairer repairer, tfds(100, imgpack::JpegChroma::subsampled_420);
    for (int subsamp : {TJSAMP_444, TJSAMP_420}) {  // 4:2:0 YCCK is what Photoshop writes
        CAPTURE(subsamp);
        const Bytes src = tj_compress(cmyk, W, H, TJPF_CMYK, subsamp);
        REQUIRE(inspect(src).color_space == fmt::ColorSpace::ycck);
        check_repair(repairer, src, want, kMaxCmyk, kMeanCmyk);
        check_repair(tfds, src, want, kMaxCmyk, kMeanCmyk, TJSAMP_420);
        CHECK(repairer.repair(src, inspect(src)).what == "YCCK JPEG -> RGB JPEG");
    }
}

TEST_CASE("repair: plain Adobe CMYK JPEG -> RGB JPEG") {
    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes src = relabel_as_cmyk(tj_compress(cmyk, W, H, TJPF_CMYK, TJSAMP_444));
    REQUIRE(inspect(src).color_space == fmt::ColorSpace::cmyk);
    const Bytes want = expected_from_cmyk(stored_planes_of_relabelled(cmyk), true);
    imgpack::ImageRepairer repairer;
    check_repair(repairer, src, want, kMaxCmyk, kMeanCmyk);
    CHECK(repairer.repair(src, inspect(src)).what == "CMYK JPEG -> RGB JPEG");
    // Read as inverted CMYK: the uninverted formula would be far off.
    const Decoded d = decode_rgb(repairer.repair(src, inspect(src)).jpeg);
    CHECK(compare(d.rgb, expected_from_cmyk(stored_planes_of_relabelled(cmyk), false)).mean > 30);
}

TEST_CASE("repair: CMYK JPEG without an Adobe marker is read as uninverted CMYK, as TensorFlow does") {
    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes src = strip_adobe(tj_compress(cmyk, W, H, TJPF_CMYK, TJSAMP_444));
    REQUIRE(inspect(src).color_space == fmt::ColorSpace::cmyk);  // libjpeg: 4 components, no Adobe
    const Bytes want = expected_from_cmyk(stored_planes_of_relabelled(cmyk), false);
    imgpack::ImageRepairer repairer;
    check_repair(repairer, src, want, kMaxCmyk, kMeanCmyk);
    CHECK(repairer.repair(src, inspect(src)).what == "CMYK JPEG (no Adobe marker) -> RGB JPEG");
}

TEST_CASE("repair: PNG -> RGB JPEG, decoded as tf.image.decode_png(channels=3)") {
    imgpack::ImageRepairer repairer;
    const Bytes rgb = paint(W, H, 3, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    // The JPEG that a plain 8-bit RGB PNG of these pixels becomes.
    auto reference = [&](const Bytes& pixels) {
        const Bytes png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, pixels});
        return repairer.repair(png, inspect(png)).jpeg;
    };
    auto repaired = [&](const Bytes& png) { return repairer.repair(png, inspect(png)).jpeg; };

    SUBCASE("RGB, 8-bit, and interlaced") {
        for (bool interlaced : {false, true}) {
            PngSpec s{W, H, PNG_COLOR_TYPE_RGB, 8, interlaced, {}, {}, false, rgb};
            check_repair(repairer, encode_png(s), rgb, kMaxPng, kMeanPng);
            CHECK(repaired(encode_png(s)) == reference(rgb));
        }
    }
    SUBCASE("RGBA: alpha is dropped, not composited") {
        const Bytes rgba = paint(W, H, 4, [](int x, int y, int c) { return c < 3 ? smooth(x, y, W, H, c) : (x * 7) % 256; });
        PngSpec s{W, H, PNG_COLOR_TYPE_RGB_ALPHA, 8, false, {}, {}, false, rgba};
        check_repair(repairer, encode_png(s), rgb, kMaxPng, kMeanPng);
        CHECK(repaired(encode_png(s)) == reference(rgb));
    }
    SUBCASE("RGB, 16-bit: the high byte of each sample") {
        Bytes rows(size_t(W) * H * 6);
        for (size_t i = 0; i < rgb.size(); ++i) {
            rows[2 * i] = rgb[i];
            rows[2 * i + 1] = 0xFF;  // rounding instead of truncating would add 1
        }
        PngSpec s{W, H, PNG_COLOR_TYPE_RGB, 16, false, {}, {}, false, rows};
        const Bytes png = encode_png(s);
        check_repair(repairer, png, rgb, kMaxPng, kMeanPng);
        CHECK(repairer.repair(png, inspect(png)).what == "PNG (RGB, 16-bit) -> RGB JPEG");
        CHECK(repaired(png) == reference(rgb));
    }
    SUBCASE("gray and gray+alpha become RGB JPEGs with R = G = B") {
        const Bytes gray = paint(W, H, 1, [](int x, int y, int) { return smooth(x, y, W, H, 2); });
        const Bytes want = paint(W, H, 3, [](int x, int y, int) { return smooth(x, y, W, H, 2); });
        PngSpec g{W, H, PNG_COLOR_TYPE_GRAY, 8, false, {}, {}, true, gray};  // with a tRNS colour
        check_repair(repairer, encode_png(g), want, kMaxPng, kMeanPng);
        CHECK(repaired(encode_png(g)) == reference(want));
        const Bytes ga = paint(W, H, 2, [](int x, int y, int c) { return c == 0 ? smooth(x, y, W, H, 2) : y; });
        PngSpec s{W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, {}, {}, false, ga};
        const Bytes png = encode_png(s);
        check_repair(repairer, png, want, kMaxPng, kMeanPng);
        CHECK(repairer.repair(png, inspect(png)).what == "PNG (gray+alpha, 8-bit) -> RGB JPEG");
        CHECK(repaired(png) == reference(want));
    }
    SUBCASE("gray, 2-bit: samples scale to 0, 85, 170, 255") {
        Bytes rows(size_t((W * 2 + 7) / 8) * H);
        Bytes want(size_t(W) * H * 3);
        for (int y = 0; y < H; ++y)
            for (int x = 0; x < W; ++x) {
                const int v = (x / 17 + y / 12) % 4;  // flat 4-level bands
                rows[size_t(y) * ((W * 2 + 7) / 8) + size_t(x) / 4] |= uint8_t(v << (6 - 2 * (x % 4)));
                std::fill_n(want.begin() + (long(y) * W + x) * 3, 3, uint8_t(v * 85));
            }
        PngSpec s{W, H, PNG_COLOR_TYPE_GRAY, 2, false, {}, {}, false, rows};
        // Sharp edges between flat bands: a gray image has no chroma, so 4:2:0 costs nothing,
        // but the edges ring a little more than smooth content.
        check_repair(repairer, encode_png(s), want, 2 * kMaxPng, kMeanPng);
        CHECK(repaired(encode_png(s)) == reference(want));
    }
    SUBCASE("palette with tRNS: colours from the palette, transparency dropped") {
        std::vector<png_color> pal;
        for (int i = 0; i < 256; ++i) pal.push_back({uint8_t(i), uint8_t(255 - i), uint8_t(i / 2 + 64)});
        const Bytes idx = paint(W, H, 1, [](int x, int, int) { return x * 255 / (W - 1); });
        const Bytes want = paint(W, H, 3, [&](int x, int, int c) {
            const png_color p = pal[size_t(x * 255 / (W - 1))];
            return c == 0 ? p.red : c == 1 ? p.green : p.blue;
        });
        PngSpec s{W, H, PNG_COLOR_TYPE_PALETTE, 8, false, pal, std::vector<png_byte>(256, 0), false, idx};
        const Bytes png = encode_png(s);
        check_repair(repairer, png, want, kMaxPng, kMeanPng);
        CHECK(repairer.repair(png, inspect(png)).what == "PNG (palette+tRNS, 8-bit) -> RGB JPEG");
        CHECK(repaired(png) == reference(want));
    }
    SUBCASE("TFDS's settings: quality 100, 4:2:0") {
        imgpack::ImageRepairer tfds(100, imgpack::JpegChroma::subsampled_420);
        PngSpec s{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, rgb};
        check_repair(tfds, encode_png(s), rgb, kMaxPng, kMeanPng, TJSAMP_420);
    }
}

TEST_CASE("repair: output is a pure function of the input, and a repairer can be reused") {
    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes ycck = tj_compress(cmyk, W, H, TJPF_CMYK, TJSAMP_420);
    const Bytes rgb = paint(W, H, 3, [](int x, int y, int c) { return smooth(x, y, W, H, c + 1); });
    const Bytes png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, rgb});
    imgpack::ImageRepairer a, b, tfds(100, imgpack::JpegChroma::subsampled_420);
    CHECK(tfds.repair(png, inspect(png)).jpeg != a.repair(png, inspect(png)).jpeg);
    const Bytes first = a.repair(ycck, inspect(ycck)).jpeg;
    const Bytes first_png = a.repair(png, inspect(png)).jpeg;
    for (int i = 0; i < 3; ++i) {
        CHECK(a.repair(ycck, inspect(ycck)).jpeg == first);
        CHECK(a.repair(png, inspect(png)).jpeg == first_png);
    }
    CHECK(b.repair(png, inspect(png)).jpeg == first_png);
    CHECK(b.repair(ycck, inspect(ycck)).jpeg == first);
}

TEST_CASE("repair: images that cannot be decoded throw BadImage") {
    imgpack::ImageRepairer repairer;
    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes ycck = tj_compress(cmyk, W, H, TJPF_CMYK, TJSAMP_444);
    const imgpack::ImageInfo ycck_info = inspect(ycck);

    SUBCASE("truncated JPEG") {
        const Bytes cut(ycck.begin(), ycck.begin() + long(ycck.size() / 2));
        CHECK_THROWS_AS(repairer.repair(cut, ycck_info), imgpack::BadImage);
    }
    SUBCASE("JPEG cut right after its headers") {
        Bytes j = ycck;
        size_t sos_end = 0;
        for_each_segment(j, [&](unsigned char m, unsigned char* d, size_t n) {
            if (m == 0xDA) sos_end = size_t(d - j.data()) + n;
        });
        j.resize(sos_end);
        CHECK_THROWS_AS(repairer.repair(j, ycck_info), imgpack::BadImage);
    }
    SUBCASE("JPEG with a broken frame header") {
        Bytes j = ycck;
        for_each_segment(j, [&](unsigned char m, unsigned char* d, size_t) {
            if (m == 0xC0) d[7] = 0x99;  // first component's sampling factors 9x9: invalid
        });
        CHECK_THROWS_AS(repairer.repair(j, ycck_info), imgpack::BadImage);
    }

    const Bytes rgb = paint(W, H, 3, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, rgb});
    const imgpack::ImageInfo png_info = inspect(png);
    SUBCASE("truncated PNG") {
        const Bytes cut(png.begin(), png.begin() + long(png.size() * 2 / 3));
        CHECK_THROWS_AS(repairer.repair(cut, png_info), imgpack::BadImage);
    }
    SUBCASE("PNG with a damaged image stream") {
        Bytes p = png;
        // The IDAT chunk follows the 8-byte signature and the 25-byte IHDR; flip bytes in its data.
        REQUIRE(std::memcmp(p.data() + 37, "IDAT", 4) == 0);
        for (size_t i = 45; i < 60; ++i) p[i] ^= 0x5A;
        CHECK_THROWS_AS(repairer.repair(p, png_info), imgpack::BadImage);
    }
    SUBCASE("PNG without IEND") {
        const Bytes cut(png.begin(), png.end() - 12);
        CHECK_THROWS_AS(repairer.repair(cut, png_info), imgpack::BadImage);
    }
    SUBCASE("but a libjpeg warning that TensorFlow tolerates is tolerated") {
        // Junk between the entropy-coded data and EOI: "Corrupt JPEG data: 93 extraneous bytes
        // before marker 0xd9", a warning, on which TurboJPEG returns -1.
        Bytes j = ycck;
        REQUIRE(j[j.size() - 2] == 0xFF);
        j.insert(j.end() - 2, 100, 0x12);
        const Decoded want = decode_rgb(repairer.repair(ycck, ycck_info).jpeg);
        CHECK(decode_rgb(repairer.repair(j, ycck_info).jpeg).rgb == want.rgb);
    }
    // A failure leaves the repairer usable.
    CHECK(repairer.repair(ycck, ycck_info).width == W);
    CHECK(repairer.repair(png, png_info).height == H);
}

TEST_CASE("repair: an image that needs no repair, or a wrong ImageInfo, is the caller's error") {
    imgpack::ImageRepairer repairer;
    const Bytes rgb = paint(W, H, 3, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes ycbcr = tj_compress(rgb, W, H, TJPF_RGB, TJSAMP_420);
    const Bytes gray = tj_compress(rgb, W, H, TJPF_RGB, TJSAMP_GRAY);
    CHECK_THROWS_AS(repairer.repair(ycbcr, inspect(ycbcr)), std::invalid_argument);
    CHECK_THROWS_AS(repairer.repair(gray, inspect(gray)), std::invalid_argument);

    const Bytes cmyk = paint(W, H, 4, [](int x, int y, int c) { return smooth(x, y, W, H, c); });
    const Bytes ycck = tj_compress(cmyk, W, H, TJPF_CMYK, TJSAMP_444);
    const Bytes png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, rgb});
    CHECK_THROWS_AS(repairer.repair(ycbcr, inspect(ycck)), std::invalid_argument);  // info of another image
    CHECK_THROWS_AS(repairer.repair(ycck, inspect(png)), std::invalid_argument);
    imgpack::ImageInfo smaller = inspect(ycck);
    smaller.width = W - 1;
    CHECK_THROWS_AS(repairer.repair(ycck, smaller), std::invalid_argument);

    CHECK_THROWS_AS(imgpack::ImageRepairer(0), std::invalid_argument);
    CHECK_THROWS_AS(imgpack::ImageRepairer(101), std::invalid_argument);
}

TEST_CASE("repair: quality and chroma settings") {
    const Bytes rgb = paint(W, H, 3, [](int x, int y, int c) { return (smooth(x, y, W, H, c) + x * y * 13) % 256; });
    const Bytes png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, rgb});
    const imgpack::ImageInfo info = inspect(png);
    auto size_at = [&](int q, imgpack::JpegChroma c) {
        imgpack::ImageRepairer r(q, c);
        return r.repair(png, info).jpeg.size();
    };
    CHECK(size_at(90, imgpack::JpegChroma::subsampled_420) < size_at(100, imgpack::JpegChroma::subsampled_420));
    CHECK(size_at(100, imgpack::JpegChroma::subsampled_420) < size_at(100, imgpack::JpegChroma::full_444));
    imgpack::ImageRepairer q90(90);
    CHECK(decode_rgb(q90.repair(png, info).jpeg).subsamp == TJSAMP_444);  // the default chroma

    // Sharp colour edges (a red/green checkerboard of 3-pixel squares): 4:2:0 averages the
    // chroma of 2x2 pixels across the edges, 4:4:4 does not.
    const Bytes edges = paint(W, H, 3, [](int x, int y, int c) { return c == 2 ? 0 : ((x / 3 + y / 3) % 2 == c) * 255; });
    const Bytes edges_png = encode_png(PngSpec{W, H, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, false, edges});
    imgpack::ImageRepairer sub(100, imgpack::JpegChroma::subsampled_420), full;
    const Error e420 = compare(decode_rgb(sub.repair(edges_png, inspect(edges_png)).jpeg).rgb, edges);
    const Error e444 = compare(decode_rgb(full.repair(edges_png, inspect(edges_png)).jpeg).rgb, edges);
    INFO("colour edges: 4:2:0 max " << e420.max << " mean " << e420.mean << "; 4:4:4 max " << e444.max
                                       << " mean " << e444.mean);
    CHECK(e444.mean * 4 < e420.mean);
    CHECK(e444.max <= kMaxPng);
}

TEST_CASE("repair: synth's quirk images, YCCK and plain CMYK, are repaired") {
    // synth draws the four-channel quirk's flavour from the seed: search a few seeds for both.
    test::TempDir dir;
    bool seen_ycck = false, seen_cmyk = false;
    imgpack::ImageRepairer repairer;
    for (uint64_t seed = 1; seed <= 32 && !(seen_ycck && seen_cmyk); ++seed) {
        imgpack::synth::Options o;
        o.out_dir = dir.path() / "s" / std::to_string(seed);
        o.classes = 2;
        o.per_class = 2;
        o.val = 0;
        o.test = 0;
        o.seed = seed;
        const imgpack::synth::Summary s = imgpack::synth::generate(o);
        REQUIRE_FALSE(s.cmyk_name.empty());
        REQUIRE_FALSE(s.png_name.empty());
        auto member = [&](const std::string& name) {  // <WNID>_<n>.JPEG is in <WNID>.tar
            const test::RunResult r = test::run("tar -xOf " + test::quote(s.train_tar.string()) + " " +
                                                test::quote(name.substr(0, 9) + ".tar") + " | tar -xOf - " +
                                                test::quote(name));
            REQUIRE(r.status == 0);
            return Bytes(r.out.begin(), r.out.end());
        };
        const Bytes four = member(s.cmyk_name);
        const imgpack::ImageInfo info = inspect(four);
        REQUIRE(info.needs_repair());
        if (info.color_space == fmt::ColorSpace::ycck) seen_ycck = true;
        if (info.color_space == fmt::ColorSpace::cmyk) seen_cmyk = true;
        CHECK(imgpack::jpeg_has_adobe_marker(four));
        const imgpack::RepairResult r = repairer.repair(four, info);
        CHECK(frame_of(r.jpeg) == std::pair<unsigned char, int>{0xC0, 3});
        CHECK(r.width == info.width);

        const Bytes png = member(s.png_name);
        const imgpack::ImageInfo png_info = inspect(png);
        REQUIRE(png_info.codec == fmt::Codec::png);
        const imgpack::RepairResult rp = repairer.repair(png, png_info);
        CHECK(rp.what == "PNG (RGB, 8-bit) -> RGB JPEG");
        CHECK(rp.height == png_info.height);
    }
    CHECK(seen_ycck);
    CHECK(seen_cmyk);
}
