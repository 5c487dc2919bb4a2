// What a train or eval decode does, worked out from the image's size before any pixel is decoded:
// the IDCT scale, and for each output pixel the source pixels and weights of the resize (in the
// scaled image's coordinates). The Decoder carries it out; the loader benchmark reuses it to time
// the resize alone.
#pragma once

#include <imgpack/decode.hpp>

#include "resample.hpp"

namespace imgpack::detail {

struct Plan {
    int scale = 8;                     // libjpeg's scale_num over 8
    int scaled_width = 0, scaled_height = 0;
    Axis horizontal, vertical;         // indices into the scaled image
    int out_x = 0, out_y = 0;          // where the resized pixels go in the output (eval pads)
    // The scaled image's pixels the resize reads: columns [x0, x1), rows [y0, y1).
    int x0 = 0, x1 = 0, y0 = 0, y1 = 0;

    void train(int width, int height, const TransformOptions&, const TrainDraw&);
    void eval(int width, int height, const TransformOptions&);

private:
    void set_scale(int width, int height, int s);
    void finish();
};

// libjpeg's output size at scale s/8: ceil(size * s / 8).
inline int scaled_size(int size, int s) { return static_cast<int>((int64_t{size} * s + 7) / 8); }

// Carries out a plan's resize on source rows handed over one at a time (as libjpeg decodes
// them): the horizontal pass at once, the vertical pass at the end. Keeps its buffers.
class Resizer {
public:
    // `plan` must outlive the calls up to finish().
    void begin(const Plan& plan);
    // Source row y, y0 <= y < y1; `row` points at the pixel the horizontal axis calls 0.
    void add_row(int y, const unsigned char* row);
    // The vertical pass into out at (plan.out_x, plan.out_y).
    void finish(const ImageView& out);

private:
    const Plan* plan_ = nullptr;
    bool copy_columns_ = false;
    std::vector<unsigned char> between_, row_;
};

// Writes n RGB pixels to row y of the view from column x.
void put_row(const ImageView& v, int y, int x, const unsigned char* rgb, int n);

}  // namespace imgpack::detail
