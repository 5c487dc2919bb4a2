// References the loader tests compare against: TurboJPEG's plain decode, a full-decode-then-crop-
// then-resize made from the resampler's scalar steps, and torchvision itself through
// /usr/bin/python3 (tests/loader/torchvision_ref.py), when it is installed.
#pragma once

#include "../helpers.hpp"
#include "pictures.hpp"

#include <imgpack/decode.hpp>

#include "resample.hpp"

#include <turbojpeg.h>

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

// The resize steps of decode (resample.hpp, scalar) on a whole decoded picture: crop
// [left, left + width) x [top, top + height) of it and resize the crop to size x size (flipped
// if asked): torchvision's resized_crop, on our decode.
inline std::vector<unsigned char> resize_reference(const Picture& p, int top, int left, int height, int width,
                                                   int size, bool flip) {
    using imgpack::detail::Axis;
    Axis h, v;
    h.build(width, 0, width, size, 0, size);
    v.build(height, 0, height, size, 0, size);
    if (flip) h.reverse();
    std::vector<unsigned char> between(static_cast<size_t>(height) * size * 3), out(static_cast<size_t>(size) * size * 3);
    for (int y = 0; y < height; ++y)
        imgpack::detail::resample_row(&p.rgb[(static_cast<size_t>(top + y) * p.width + left) * 3], h,
                                      &between[static_cast<size_t>(y) * size * 3]);
    for (int y = 0; y < size; ++y)
        imgpack::detail::resample_column_row(between.data(), size * 3, size, v, y, &out[static_cast<size_t>(y) * size * 3]);
    return out;
}

// torchvision's eval on our decode, the long way: the whole picture resized to the resized size
// (every output pixel), then the centre crop, zeros where the crop is larger.
inline std::vector<unsigned char> eval_reference(const Picture& p, const imgpack::TransformOptions& t) {
    using imgpack::detail::Axis;
    const imgpack::EvalGeometry g = imgpack::eval_geometry(p.width, p.height, t);
    Axis h, v;
    h.build(p.width, 0, p.width, g.resized_width, 0, g.resized_width);
    v.build(p.height, 0, p.height, g.resized_height, 0, g.resized_height);
    const size_t row = static_cast<size_t>(g.resized_width) * 3;
    std::vector<unsigned char> between(p.height * row), resized(g.resized_height * row);
    for (int y = 0; y < p.height; ++y)
        imgpack::detail::resample_row(&p.rgb[static_cast<size_t>(y) * p.width * 3], h, &between[y * row]);
    for (int y = 0; y < g.resized_height; ++y)
        imgpack::detail::resample_column_row(between.data(), static_cast<std::ptrdiff_t>(row), g.resized_width, v, y,
                                             &resized[y * row]);
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
