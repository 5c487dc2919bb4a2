// The Decoder: libjpeg-turbo's libjpeg API with our own error manager (longjmp back here, then a
// DecodeError), cropped decoding (jpeg_crop_scanline + jpeg_skip_scanlines), IDCT scaling, and
// the resize of resample.hpp run row by row as libjpeg hands rows over.
#include <imgpack/decode.hpp>

#include "resample.hpp"
#include "sampling.hpp"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <cstring>
#include <string>
#include <vector>

#include <jerror.h>
#include <jpeglib.h>

namespace imgpack {
namespace {

// Limits that keep a hostile header from exhausting memory or time. libjpeg buffers a progressive
// JPEG's coefficients whole (2 bytes each): 1 GiB holds a 16k x 16k 4:2:0 image, far beyond
// ImageNet's largest (~5k x 4k). libjpeg-turbo's own fuzzers cap scans at 500 the same way.
constexpr long kMaxCoefficientMemory = 1L << 30;
constexpr int kMaxScans = 500;
// Rows handed over by libjpeg per call (it returns fewer where its row groups end).
constexpr int kStripRows = 16;
// Extra source columns decoded on each side of the ones the resize reads: libjpeg's fancy
// upsampling treats a cropped region's edge as the image's edge, so the outermost columns of a
// cropped decode may differ from a full decode's; the margin keeps them out of the result.
constexpr int kCropMargin = 2;

struct ErrorManager {
    jpeg_error_mgr pub;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void fail(j_common_ptr cinfo) {
    auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
    (*cinfo->err->format_message)(cinfo, err->message);
    std::longjmp(err->jump, 1);
}

// Warnings: a premature end of data is an error (PIL calls such a file truncated); the others
// ("corrupt data: N extraneous bytes", ...) are ignored as PIL and TensorFlow ignore them.
void on_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) fail(cinfo);
    cinfo->err->num_warnings++;
}

void no_output(j_common_ptr) {}

void on_progress(j_common_ptr cinfo) {
    auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
    if (d->input_scan_number > kMaxScans) {
        auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
        std::snprintf(err->message, sizeof err->message, "more than %d scans", kMaxScans);
        std::longjmp(err->jump, 1);
    }
}

// PIL's CMYK -> RGB (Convert.c cmyk2rgb) on the inverted values Adobe writes ("CMYK;I"):
// R = K' - C' * K' / 255 with Pillow's MULDIV255 rounding, where C' = 255 - C and K' = K.
inline unsigned char cmyk_channel(int c_raw, int k_raw) {
    const int c = 255 - c_raw, nk = k_raw;
    const int tmp = c * nk + 128;
    const int v = nk - (((tmp >> 8) + tmp) >> 8);
    return static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v);
}

void cmyk_to_rgb(const unsigned char* in, int pixels, unsigned char* out) {
    for (int i = 0; i < pixels; ++i, in += 4, out += 3) {
        out[0] = cmyk_channel(in[0], in[3]);
        out[1] = cmyk_channel(in[1], in[3]);
        out[2] = cmyk_channel(in[2], in[3]);
    }
}

bool is_hwc(const ImageView& v) { return v.pixel_stride == 3 && v.channel_stride == 1; }

// Writes n RGB pixels to row y of the view from column x.
void put_row(const ImageView& v, int y, int x, const unsigned char* rgb, int n) {
    unsigned char* row = v.data + y * v.row_stride + x * v.pixel_stride;
    if (is_hwc(v)) {
        std::memcpy(row, rgb, static_cast<size_t>(n) * 3);
        return;
    }
    for (int c = 0; c < 3; ++c) {
        unsigned char* p = row + c * v.channel_stride;
        for (int i = 0; i < n; ++i) p[i * v.pixel_stride] = rgb[3 * i + c];
    }
}

void zero_pixels(const ImageView& v, int y, int x, int n) {
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < 3; ++c) v.data[y * v.row_stride + (x + i) * v.pixel_stride + c * v.channel_stride] = 0;
}

// The smallest IDCT scale s/8 (s = 1, 2, 4) at which a source extent still covers `needed`
// output pixels in both directions; 8 (no scaling) where none does. Only the power-of-two
// scales: libjpeg-turbo has SIMD code for those IDCTs and plain C for 3/8, 5/8, 6/8 and 7/8.
int choose_scale(double width, double height, double needed_w, double needed_h) {
    for (int s : {1, 2, 4})
        if (width * s / 8 >= needed_w && height * s / 8 >= needed_h) return s;
    return 8;
}

}  // namespace

struct Decoder::State {
    jpeg_decompress_struct cinfo{};
    ErrorManager err{};
    jpeg_progress_mgr progress{};
    bool cmyk = false;
    std::vector<unsigned char> strip;    // rows as libjpeg writes them (RGB, or CMYK)
    std::vector<unsigned char> rgb;      // one row converted from CMYK
    std::vector<unsigned char> between;  // the rows after the horizontal pass
    std::vector<unsigned char> out_row;  // one row after the vertical pass
    detail::Axis horizontal, vertical;

    State() {
        cinfo.err = jpeg_std_error(&err.pub);
        err.pub.error_exit = fail;
        err.pub.emit_message = on_message;
        err.pub.output_message = no_output;
        if (setjmp(err.jump)) throw std::bad_alloc();
        jpeg_create_decompress(&cinfo);
        cinfo.mem->max_memory_to_use = kMaxCoefficientMemory;
        progress.progress_monitor = on_progress;
        cinfo.progress = &progress;
    }
    ~State() { jpeg_destroy_decompress(&cinfo); }

    // Runs body (which calls libjpeg) with the error manager armed: a libjpeg error becomes a
    // DecodeError. Whatever body leaves behind is reset for the next image. Frames that libjpeg
    // longjmps over (body's and libjpeg's own) hold no objects with destructors.
    template <class Body>
    void guarded(Body&& body) {
        if (setjmp(err.jump)) {
            jpeg_abort_decompress(&cinfo);
            throw DecodeError(std::string("JPEG: ") + err.message);
        }
        try {
            body();
        } catch (...) {
            jpeg_abort_decompress(&cinfo);
            throw;
        }
        jpeg_abort_decompress(&cinfo);
    }

    void read_header(std::span<const unsigned char> jpeg) {
        jpeg_mem_src(&cinfo, jpeg.data(), static_cast<unsigned long>(jpeg.size()));
        if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) {
            std::snprintf(err.message, sizeof err.message, "no image in the data (tables only)");
            std::longjmp(err.jump, 1);
        }
        // CMYK and YCCK (Adobe) come out as CMYK, converted to RGB here as PIL converts them.
        cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
        cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    }

    int bytes_per_pixel() const { return cmyk ? 4 : 3; }

    // Reads rows [first_row, end_row) of the (scaled, cropped) output; calls row(y, rgb) for each
    // row >= first_row with its RGB pixels (the cropped width). Rows above are skipped.
    template <class Row>
    void read_rows(int skip_to, int first_row, int end_row, Row&& row) {
        const int width = static_cast<int>(cinfo.output_width);
        const size_t row_bytes = static_cast<size_t>(width) * bytes_per_pixel();
        strip.resize(row_bytes * kStripRows);
        if (cmyk) rgb.resize(static_cast<size_t>(width) * 3);
        JSAMPROW rows[kStripRows];
        for (int i = 0; i < kStripRows; ++i) rows[i] = strip.data() + i * row_bytes;
        if (skip_to > 0) jpeg_skip_scanlines(&cinfo, static_cast<JDIMENSION>(skip_to));
        while (static_cast<int>(cinfo.output_scanline) < end_row) {
            const int y0 = static_cast<int>(cinfo.output_scanline);
            const int want = std::min(kStripRows, end_row - y0);
            const int got = static_cast<int>(jpeg_read_scanlines(&cinfo, rows, static_cast<JDIMENSION>(want)));
            if (got <= 0) {  // cannot happen with a memory source; never loop forever
                std::snprintf(err.message, sizeof err.message, "the decoder returned no rows");
                std::longjmp(err.jump, 1);
            }
            for (int i = 0; i < got; ++i) {
                if (y0 + i < first_row) continue;
                const unsigned char* p = rows[i];
                if (cmyk) {
                    cmyk_to_rgb(p, width, rgb.data());
                    p = rgb.data();
                }
                row(y0 + i, p);
            }
        }
    }

    void decode_full(const ImageView& out) {
        cinfo.scale_num = cinfo.scale_denom = 1;
        jpeg_start_decompress(&cinfo);
        const int height = static_cast<int>(cinfo.output_height), width = static_cast<int>(cinfo.output_width);
        read_rows(0, 0, height, [&](int y, const unsigned char* p) { put_row(out, y, 0, p, width); });
    }

    // The resize of a decoded region: the axes say which output pixels are made from which source
    // pixels, in the coordinates of the (scaled) image libjpeg decodes; outputs go to the view at
    // (out_x, out_y).
    void decode_resized(int scale, const ImageView& out, int out_x, int out_y) {
        detail::Axis& h = horizontal;
        detail::Axis& v = vertical;
        const int x0 = h.lowest(), x1 = h.highest(), y0 = v.lowest(), y1 = v.highest();
        const int width = static_cast<int>(cinfo.output_width);
        JDIMENSION crop_x = static_cast<JDIMENSION>(std::max(0, x0 - kCropMargin));
        JDIMENSION crop_w = static_cast<JDIMENSION>(std::min(width, x1 + kCropMargin)) - crop_x;
        if (crop_w < static_cast<JDIMENSION>(width)) jpeg_crop_scanline(&cinfo, &crop_x, &crop_w);
        // Axis indices become positions in the cropped rows, and in the buffer of resampled rows.
        for (int& f : h.first) f -= static_cast<int>(crop_x);
        for (int& f : v.first) f -= y0;
        const size_t between_stride = static_cast<size_t>(h.count) * 3;
        between.resize(between_stride * (y1 - y0));
        const bool copy_columns = h.identity();
        read_rows(std::max(0, y0 - kCropMargin), y0, y1, [&](int y, const unsigned char* p) {
            unsigned char* dst = between.data() + (y - y0) * between_stride;
            if (copy_columns)
                std::memcpy(dst, p + static_cast<size_t>(h.first[0]) * 3, between_stride);
            else
                detail::resample_row(p, h, dst);
        });
        (void)scale;
        out_row.resize(between_stride);
        for (int y = 0; y < v.count; ++y) {
            detail::resample_column_row(between.data(), static_cast<std::ptrdiff_t>(between_stride), h.count, v, y,
                                        out_row.data());
            put_row(out, out_y + y, out_x, out_row.data(), h.count);
        }
    }

    void decode_train(const TransformOptions& t, uint64_t seed, const ImageView& out) {
        const int W = static_cast<int>(cinfo.image_width), H = static_cast<int>(cinfo.image_height);
        const TrainDraw d = draw_train(W, H, t, seed);
        const int s = t.dct_scaling ? choose_scale(d.width, d.height, t.size, t.size) : 8;
        cinfo.scale_num = static_cast<unsigned>(s);
        cinfo.scale_denom = 8;
        jpeg_start_decompress(&cinfo);
        // The crop in the scaled image's coordinates (fractional where s < 8); taps stay inside
        // the pixels it touches, as they stay inside the crop in torchvision's crop-then-resize.
        auto axis = [&](detail::Axis& a, int start, int extent, int scaled_size) {
            const double from = start * s / 8.0, to = (start + extent) * s / 8.0;
            const int lo = static_cast<int>(std::floor(from));
            const int hi = std::min(static_cast<int>(std::ceil(to)), scaled_size);
            a.build(hi - lo, from - lo, to - lo, t.size, 0, t.size);
            for (int& f : a.first) f += lo;
        };
        axis(horizontal, d.left, d.width, static_cast<int>(cinfo.output_width));
        axis(vertical, d.top, d.height, static_cast<int>(cinfo.output_height));
        if (d.flip) horizontal.reverse();
        decode_resized(s, out, 0, 0);
    }

    void decode_eval(const TransformOptions& t, const ImageView& out) {
        const int W = static_cast<int>(cinfo.image_width), H = static_cast<int>(cinfo.image_height);
        const EvalGeometry g = eval_geometry(W, H, t);
        const int s = t.dct_scaling ? choose_scale(W, H, g.resized_width, g.resized_height) : 8;
        cinfo.scale_num = static_cast<unsigned>(s);
        cinfo.scale_denom = 8;
        jpeg_start_decompress(&cinfo);
        // The outputs of the whole image's resize that fall inside the centre crop (all of them
        // unless the crop is larger than the resized image: torchvision pads with zeros there).
        const int ox0 = std::max(0, g.left), ox1 = std::min(g.resized_width, g.left + t.size);
        const int oy0 = std::max(0, g.top), oy1 = std::min(g.resized_height, g.top + t.size);
        horizontal.build(static_cast<int>(cinfo.output_width), 0, W * s / 8.0, g.resized_width, ox0, ox1 - ox0);
        vertical.build(static_cast<int>(cinfo.output_height), 0, H * s / 8.0, g.resized_height, oy0, oy1 - oy0);
        const int out_x = ox0 - g.left, out_y = oy0 - g.top;
        for (int y = 0; y < t.size; ++y) {
            if (y < out_y || y >= out_y + (oy1 - oy0)) {
                zero_pixels(out, y, 0, t.size);
            } else {
                zero_pixels(out, y, 0, out_x);
                zero_pixels(out, y, out_x + (ox1 - ox0), t.size - out_x - (ox1 - ox0));
            }
        }
        decode_resized(s, out, out_x, out_y);
    }
};

Decoder::Decoder() : state_(std::make_unique<State>()) {}
Decoder::~Decoder() = default;
Decoder::Decoder(Decoder&&) noexcept = default;
Decoder& Decoder::operator=(Decoder&&) noexcept = default;

Decoder::Header Decoder::header(std::span<const unsigned char> jpeg) {
    if (!state_) throw std::logic_error("imgpack::Decoder: used after a move");
    Header h;
    State& s = *state_;
    s.guarded([&] {
        s.read_header(jpeg);
        h.width = static_cast<int>(s.cinfo.image_width);
        h.height = static_cast<int>(s.cinfo.image_height);
    });
    return h;
}

void Decoder::decode(std::span<const unsigned char> jpeg, const TransformOptions& t, uint64_t sample_seed,
                     const ImageView& out) {
    if (!state_) throw std::logic_error("imgpack::Decoder: used after a move");
    if (out.data == nullptr) throw std::invalid_argument("imgpack::Decoder::decode: no output buffer");
    if (t.kind != TransformKind::none) {
        if (t.size <= 0 || (t.kind == TransformKind::eval && t.resize <= 0))
            throw std::invalid_argument("imgpack::Decoder::decode: size and resize must be positive");
        if (out.width != t.size || out.height != t.size)
            throw std::invalid_argument("imgpack::Decoder::decode: the output must be " + std::to_string(t.size) +
                                        "x" + std::to_string(t.size));
    }
    State& s = *state_;
    s.guarded([&] {
        s.read_header(jpeg);
        switch (t.kind) {
        case TransformKind::none:
            if (out.width != static_cast<int>(s.cinfo.image_width) ||
                out.height != static_cast<int>(s.cinfo.image_height)) {
                std::snprintf(s.err.message, sizeof s.err.message, "the output is %dx%d, the image %ux%u",
                              out.width, out.height, s.cinfo.image_width, s.cinfo.image_height);
                throw std::invalid_argument(std::string("imgpack::Decoder::decode: ") + s.err.message);
            }
            s.decode_full(out);
            break;
        case TransformKind::train: s.decode_train(t, sample_seed, out); break;
        case TransformKind::eval: s.decode_eval(t, out); break;
        }
    });
}

}  // namespace imgpack
