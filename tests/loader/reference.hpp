// References the loader tests compare against: TurboJPEG's plain decode, a full-decode-then-crop-
// then-resize made from the resampler's scalar steps, and torchvision itself through
// /usr/bin/python3 (tests/loader/torchvision_ref.py), when it is installed.
#pragma once

#include "../helpers.hpp"
#include "pictures.hpp"

#include <imgpack/decode.hpp>

#include "resample.hpp"

#include <turbojpeg.h>

#include <algorithm>
#include <string>
#include <vector>

namespace test {

// TurboJPEG with its defaults (accurate integer IDCT, fancy upsampling): what tjbench, PIL and
// TensorFlow decode. RGB HWC.
inline Picture turbojpeg_decode(const std::vector<unsigned char>& jpeg) {
    tjhandle tj = tjInitDecompress();
    if (!tj) throw std::runtime_error("tjInitDecompress failed");
    int w = 0, h = 0, subsamp = 0, colorspace = 0;
    Picture p;
    if (tjDecompressHeader3(tj, jpeg.data(), jpeg.size(), &w, &h, &subsamp, &colorspace) == 0) {
        p = {w, h, std::vector<unsigned char>(static_cast<size_t>(w) * h * 3)};
        if (tjDecompress2(tj, jpeg.data(), jpeg.size(), p.rgb.data(), w, 0, h, TJPF_RGB, 0) != 0) p = {};
    }
    tjDestroy(tj);
    if (p.rgb.empty()) throw std::runtime_error("TurboJPEG cannot decode the test picture");
    return p;
}

// The plain libjpeg API, defaults untouched (out_color_space RGB, ISLOW, fancy upsampling): the
// textbook decode loop, for valid test pictures only (libjpeg's default error handler exits).
inline Picture libjpeg_decode(const std::vector<unsigned char>& jpeg) {
    jpeg_decompress_struct d{};
    jpeg_error_mgr err{};
    d.err = jpeg_std_error(&err);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, jpeg.data(), static_cast<unsigned long>(jpeg.size()));
    jpeg_read_header(&d, TRUE);
    d.out_color_space = JCS_RGB;
    jpeg_start_decompress(&d);
    Picture p{static_cast<int>(d.output_width), static_cast<int>(d.output_height),
              std::vector<unsigned char>(static_cast<size_t>(d.output_width) * d.output_height * 3)};
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = &p.rgb[static_cast<size_t>(d.output_scanline) * p.width * 3];
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return p;
}

// Pillow's two passes written plainly (the loader's own are vectorised): a horizontal pass over
// rows of `in_width` RGB pixels, then a vertical one, with an Axis's coefficients.
inline std::vector<unsigned char> reference_passes(const unsigned char* src, size_t src_stride, int rows,
                                                   const imgpack::detail::Axis& h, const imgpack::detail::Axis& v) {
    auto clip = [](int32_t s) { return static_cast<unsigned char>(std::clamp(s >> 22, 0, 255)); };
    const size_t row = static_cast<size_t>(h.count) * 3;
    std::vector<unsigned char> between(rows * row), out(static_cast<size_t>(v.count) * row);
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < h.count; ++x)
            for (int c = 0; c < 3; ++c) {
                int32_t s = 1 << 21;
                for (int t = 0; t < h.taps[x]; ++t)
                    s += src[y * src_stride + (h.first[x] + t) * 3 + c] * h.weights[x * h.ksize + t];
                between[y * row + x * 3 + c] = clip(s);
            }
    for (int y = 0; y < v.count; ++y)
        for (size_t i = 0; i < row; ++i) {
            int32_t s = 1 << 21;
            for (int t = 0; t < v.taps[y]; ++t) s += between[(v.first[y] + t) * row + i] * v.weights[y * v.ksize + t];
            out[y * row + i] = clip(s);
        }
    return out;
}

// torchvision's resized_crop on our decode: crop [left, left + width) x [top, top + height) of
// the picture and resize it to size x size (PIL's bilinear), flipped if asked.
inline std::vector<unsigned char> resize_reference(const Picture& p, int top, int left, int height, int width,
                                                   int size, bool flip) {
    imgpack::detail::Axis h, v;
    h.build(width, 0, width, size, 0, size);
    v.build(height, 0, height, size, 0, size);
    if (flip) h.reverse();
    return reference_passes(&p.rgb[(static_cast<size_t>(top) * p.width + left) * 3], static_cast<size_t>(p.width) * 3,
                            height, h, v);
}

// torchvision's eval on our decode, the long way: the whole picture resized to the resized size
// (every output pixel), then the centre crop, zeros where the crop is larger.
inline std::vector<unsigned char> eval_reference(const Picture& p, const imgpack::TransformOptions& t) {
    const imgpack::EvalGeometry g = imgpack::eval_geometry(p.width, p.height, t);
    imgpack::detail::Axis h, v;
    h.build(p.width, 0, p.width, g.resized_width, 0, g.resized_width);
    v.build(p.height, 0, p.height, g.resized_height, 0, g.resized_height);
    const std::vector<unsigned char> resized =
        reference_passes(p.rgb.data(), static_cast<size_t>(p.width) * 3, p.height, h, v);
    const size_t row = static_cast<size_t>(g.resized_width) * 3;
    std::vector<unsigned char> out(static_cast<size_t>(t.size) * t.size * 3, 0);
    for (int y = 0; y < t.size; ++y)
        for (int x = 0; x < t.size; ++x) {
            const int sy = g.top + y, sx = g.left + x;
            if (sy < 0 || sx < 0 || sy >= g.resized_height || sx >= g.resized_width) continue;
            for (int c = 0; c < 3; ++c) out[(static_cast<size_t>(y) * t.size + x) * 3 + c] = resized[sy * row + sx * 3 + c];
        }
    return out;
}

inline std::string python_reference_script() { return std::string(IMGPACK_SOURCE_DIR) + "/tests/loader/torchvision_ref.py"; }

// Whether /usr/bin/python3 has PIL and torchvision (Debian's python3-pil, python3-torchvision).
inline bool torchvision_available() {
    static const bool ok = run("/usr/bin/python3 -c 'import PIL, torch, torchvision' 2>/dev/null").status == 0;
    return ok;
}

// Runs torchvision_ref.py COMMAND ARGS; its stdout. Throws if it fails.
inline std::string torchvision_ref(const std::string& args) {
    RunResult r = run("/usr/bin/python3 " + quote(python_reference_script()) + " " + args);
    if (r.status != 0) throw std::runtime_error("torchvision_ref.py " + args + " failed: " + r.err);
    return r.out;
}

}  // namespace test
