// Test pictures for the loader: deterministic RGB images with what decoding and resizing care
// about (hard edges, fine texture, smooth shading, thin lines), and a libjpeg encoder with every
// knob the tests turn (chroma subsampling, progressive, restart markers, grayscale, CMYK, YCCK).
#pragma once

#include <imgpack/decode.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <jpeglib.h>

namespace test {

struct Picture {
    int width = 0, height = 0;
    std::vector<unsigned char> rgb;  // HWC
};

inline Picture make_picture(int width, int height, uint64_t seed) {
    uint64_t state = seed;
    auto next = [&] { return imgpack::splitmix64(state++); };
    auto unit = [&] { return static_cast<double>(next() >> 11) * 0x1.0p-53; };
    Picture p{width, height, std::vector<unsigned char>(static_cast<size_t>(width) * height * 3)};
    double base[3][3];  // a smooth field per channel: offset and two slow cosines
    for (auto& c : base)
        for (double& v : c) v = unit();
    struct Shape { double cx, cy, rx, ry; unsigned char color[3]; bool ellipse; };
    std::vector<Shape> shapes(8);
    for (Shape& s : shapes) {
        s = {unit() * width, unit() * height, (0.05 + 0.3 * unit()) * width, (0.05 + 0.3 * unit()) * height, {}, unit() < 0.5};
        for (unsigned char& c : s.color) c = static_cast<unsigned char>(next() % 256);
    }
    const double fx = 0.2 + 0.6 * unit(), fy = 0.2 + 0.6 * unit();  // a fine grating, cycles per pixel
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            double v[3];
            for (int c = 0; c < 3; ++c)
                v[c] = 255 * (0.3 + 0.4 * base[c][0] + 0.15 * std::cos(6.3 * x / width * (1 + 3 * base[c][1])) +
                              0.15 * std::cos(6.3 * y / height * (1 + 3 * base[c][2])));
            for (const Shape& s : shapes) {
                const double dx = (x - s.cx) / s.rx, dy = (y - s.cy) / s.ry;
                if (s.ellipse ? dx * dx + dy * dy < 1 : std::fabs(dx) < 1 && std::fabs(dy) < 1)
                    for (int c = 0; c < 3; ++c) v[c] = s.color[c];
            }
            const double texture = 24 * std::sin(x * fx * 6.283 + y * fy * 3.1) + static_cast<double>(next() % 17) - 8;
            const bool line = (x + 2 * y) % 97 == 0 || (3 * x - y + 1000003) % 131 == 0;
            for (int c = 0; c < 3; ++c) {
                const double value = line ? 255 - v[c] : v[c] + texture;
                p.rgb[(static_cast<size_t>(y) * width + x) * 3 + c] =
                    static_cast<unsigned char>(std::clamp(value, 0.0, 255.0));
            }
        }
    return p;
}

enum class JpegColor { ycbcr, gray, rgb, cmyk, ycck };

struct JpegOptions {
    int quality = 90;
    int h_samp = 2, v_samp = 2;  // luma sampling factors: 2x2 is 4:2:0, 2x1 4:2:2, 1x1 4:4:4
    bool progressive = false;
    int restart_rows = 0;        // a restart marker every N MCU rows (0: none)
    JpegColor color = JpegColor::ycbcr;
};

inline std::vector<unsigned char> encode_jpeg(const Picture& p, const JpegOptions& o) {
    jpeg_compress_struct c{};
    jpeg_error_mgr err{};
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buffer, &size);
    c.image_width = static_cast<JDIMENSION>(p.width);
    c.image_height = static_cast<JDIMENSION>(p.height);
    const bool four = o.color == JpegColor::cmyk || o.color == JpegColor::ycck;
    c.input_components = o.color == JpegColor::gray ? 1 : four ? 4 : 3;
    c.in_color_space = o.color == JpegColor::gray ? JCS_GRAYSCALE : four ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    if (o.color == JpegColor::rgb) jpeg_set_colorspace(&c, JCS_RGB);
    if (o.color == JpegColor::cmyk) jpeg_set_colorspace(&c, JCS_CMYK);
    if (o.color == JpegColor::ycck) jpeg_set_colorspace(&c, JCS_YCCK);
    jpeg_set_quality(&c, o.quality, TRUE);
    if (o.color != JpegColor::gray) {
        const bool luma = o.color == JpegColor::ycbcr || o.color == JpegColor::ycck;
        c.comp_info[0].h_samp_factor = luma ? o.h_samp : 1;
        c.comp_info[0].v_samp_factor = luma ? o.v_samp : 1;
        for (int i = 1; i < c.num_components; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
        if (o.color == JpegColor::ycck) c.comp_info[3].h_samp_factor = o.h_samp, c.comp_info[3].v_samp_factor = o.v_samp;
    }
    if (o.progressive) jpeg_simple_progression(&c);
    c.restart_in_rows = o.restart_rows;
    jpeg_start_compress(&c, TRUE);
    std::vector<unsigned char> row(static_cast<size_t>(p.width) * 4);
    while (c.next_scanline < c.image_height) {
        const unsigned char* src = &p.rgb[static_cast<size_t>(c.next_scanline) * p.width * 3];
        for (int x = 0; x < p.width; ++x) {
            const unsigned char* s = src + 3 * x;
            if (o.color == JpegColor::gray) {
                row[x] = static_cast<unsigned char>((77 * s[0] + 150 * s[1] + 29 * s[2]) >> 8);
            } else if (four) {  // a made-up ink split: enough to exercise the conversion
                const unsigned char k = static_cast<unsigned char>(255 - std::max({s[0], s[1], s[2]}));
                row[4 * x] = static_cast<unsigned char>(s[0] ^ 0x5a), row[4 * x + 1] = s[1], row[4 * x + 2] = s[2];
                row[4 * x + 3] = k;
            } else {
                row[3 * x] = s[0], row[3 * x + 1] = s[1], row[3 * x + 2] = s[2];
            }
        }
        JSAMPROW r = row.data();
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    std::vector<unsigned char> out(buffer, buffer + size);
    std::free(buffer);
    return out;
}

// PSNR in dB between two byte arrays of one size; +inf where equal.
inline double psnr(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
    if (a.size() != b.size() || a.empty()) throw std::invalid_argument("psnr: sizes differ");
    double se = 0;
    for (size_t i = 0; i < a.size(); ++i) se += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    if (se == 0) return INFINITY;
    return 10 * std::log10(255.0 * 255.0 * a.size() / se);
}

inline int max_abs_diff(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
    int m = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
    return m;
}

}  // namespace test
