#include "plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace imgpack::detail {
namespace {

// The smallest IDCT scale s/8 (s = 1, 2, 4) at which the source extent still covers the output
// in both directions; 8 (no scaling) where none does. Only the power-of-two scales: libjpeg-turbo
// has SIMD code for those IDCTs and plain C for 3/8, 5/8, 6/8 and 7/8.
int choose_scale(double width, double height, double out_w, double out_h) {
    for (int s : {1, 2, 4})
        if (width * s / 8 >= out_w && height * s / 8 >= out_h) return s;
    return 8;
}

}  // namespace

void Plan::set_scale(int width, int height, int s) {
    scale = s;
    scaled_width = scaled_size(width, s);
    scaled_height = scaled_size(height, s);
}

void Plan::train(int width, int height, const TransformOptions& t, const TrainDraw& d) {
    set_scale(width, height, t.dct_scaling ? choose_scale(d.width, d.height, t.size, t.size) : 8);
    // The crop in the scaled image's coordinates (fractional where scale < 8). Taps stay inside the
    // pixels it touches, as they stay inside the crop in torchvision's crop-then-resize; without
    // scaling this is exactly PIL's resize of the cropped image.
    auto axis = [&](Axis& a, int start, int extent, int limit) {
        const double from = start * scale / 8.0, to = (start + extent) * scale / 8.0;
        const int lo = static_cast<int>(std::floor(from));
        const int hi = std::min(static_cast<int>(std::ceil(to)), limit);
        a.build(hi - lo, from - lo, to - lo, t.size, 0, t.size);
        for (int& f : a.first) f += lo;
    };
    axis(horizontal, d.left, d.width, scaled_width);
    axis(vertical, d.top, d.height, scaled_height);
    if (d.flip) horizontal.reverse();
    out_x = out_y = 0;
    finish();
}

void Plan::eval(int width, int height, const TransformOptions& t) {
    const EvalGeometry g = eval_geometry(width, height, t);
    set_scale(width, height, t.dct_scaling ? choose_scale(width, height, g.resized_width, g.resized_height) : 8);
    // The whole image's resize (PIL's, taps clamped at the image's edges), kept only for the
    // outputs inside the centre crop: all of them unless the crop is larger than the resized
    // image, where torchvision pads with zeros.
    const int ox0 = std::max(0, g.left), ox1 = std::min(g.resized_width, g.left + t.size);
    const int oy0 = std::max(0, g.top), oy1 = std::min(g.resized_height, g.top + t.size);
    horizontal.build(scaled_width, 0, width * scale / 8.0, g.resized_width, ox0, ox1 - ox0);
    vertical.build(scaled_height, 0, height * scale / 8.0, g.resized_height, oy0, oy1 - oy0);
    out_x = ox0 - g.left;
    out_y = oy0 - g.top;
    finish();
}

void Plan::finish() {
    x0 = horizontal.lowest();
    x1 = horizontal.highest();
    y0 = vertical.lowest();
    y1 = vertical.highest();
}

void Resizer::begin(const Plan& plan) {
    plan_ = &plan;
    copy_columns_ = plan.horizontal.identity();
    between_.resize(static_cast<size_t>(plan.horizontal.count) * 3 * std::max(0, plan.y1 - plan.y0) + kResampleSlack);
}

void Resizer::add_row(int y, const unsigned char* row) {
    const Axis& h = plan_->horizontal;
    unsigned char* dst = between_.data() + static_cast<size_t>(y - plan_->y0) * h.count * 3;
    if (copy_columns_)
        std::memcpy(dst, row + static_cast<ptrdiff_t>(h.first[0]) * 3, static_cast<size_t>(h.count) * 3);
    else
        resample_row(row, h, dst);
}

void Resizer::finish(const ImageView& out) {
    const Axis& h = plan_->horizontal;
    const Axis& v = plan_->vertical;
    const ptrdiff_t stride = static_cast<ptrdiff_t>(h.count) * 3;
    row_.resize(static_cast<size_t>(stride));
    for (int y = 0; y < v.count; ++y) {
        const unsigned char* rows = between_.data() + (v.first[y] - plan_->y0) * stride;
        resample_column(rows, stride, h.count, &v.weights[static_cast<size_t>(y) * v.ksize], v.taps[y], row_.data());
        put_row(out, plan_->out_y + y, plan_->out_x, row_.data(), h.count);
    }
}

void put_row(const ImageView& v, int y, int x, const unsigned char* rgb, int n) {
    unsigned char* row = v.data + y * v.row_stride + x * v.pixel_stride;
    if (v.pixel_stride == 3 && v.channel_stride == 1) {
        std::memcpy(row, rgb, static_cast<size_t>(n) * 3);
        return;
    }
    for (int c = 0; c < 3; ++c) {
        unsigned char* p = row + c * v.channel_stride;
        for (int i = 0; i < n; ++i) p[i * v.pixel_stride] = rgb[3 * i + c];
    }
}

}  // namespace imgpack::detail
