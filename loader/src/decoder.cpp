// The Decoder: libjpeg-turbo's libjpeg API with our own error manager (longjmp back here, then a
// DecodeError), cropped decoding (jpeg_crop_scanline + jpeg_skip_scanlines), IDCT scaling, and
// the resize of resample.hpp run row by row as libjpeg hands rows over.
#include <imgpack/decode.hpp>

#include "plan.hpp"

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

void zero_pixels(const ImageView& v, int y, int x, int n) {
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < 3; ++c) v.data[y * v.row_stride + (x + i) * v.pixel_stride + c * v.channel_stride] = 0;
}

}  // namespace

struct Decoder::State {
    jpeg_decompress_struct cinfo{};
    ErrorManager err{};
    jpeg_progress_mgr progress{};
    bool cmyk = false;
    std::vector<unsigned char> strip;  // rows as libjpeg writes them (RGB, or CMYK)
    std::vector<unsigned char> rgb;    // one row converted from CMYK
    detail::Plan plan;
    detail::Resizer resizer;

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
        strip.resize(row_bytes * kStripRows + detail::kResampleSlack);  // the resize reads a little past a row
        if (cmyk) rgb.resize(static_cast<size_t>(width) * 3 + detail::kResampleSlack);
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
        jpeg_start_decompress(&cinfo);
        const int height = static_cast<int>(cinfo.output_height), width = static_cast<int>(cinfo.output_width);
        read_rows(0, 0, height, [&](int y, const unsigned char* p) { detail::put_row(out, y, 0, p, width); });
    }

    // Carries out the plan: decodes the scaled image's columns [x0, x1) and rows [y0, y1) (and a
    // margin), each row resized horizontally as it comes, then the vertical pass.
    void decode_planned(const ImageView& out) {
        detail::Plan& p = plan;
        cinfo.scale_num = static_cast<unsigned>(p.scale);
        cinfo.scale_denom = 8;
        jpeg_start_decompress(&cinfo);
        if (static_cast<int>(cinfo.output_width) != p.scaled_width ||
            static_cast<int>(cinfo.output_height) != p.scaled_height) {
            std::snprintf(err.message, sizeof err.message, "unexpected scaled size %ux%u", cinfo.output_width,
                          cinfo.output_height);
            std::longjmp(err.jump, 1);
        }
        JDIMENSION crop_x = static_cast<JDIMENSION>(std::max(0, p.x0 - kCropMargin));
        JDIMENSION crop_w = static_cast<JDIMENSION>(std::min(p.scaled_width, p.x1 + kCropMargin)) - crop_x;
        if (crop_w < static_cast<JDIMENSION>(p.scaled_width)) jpeg_crop_scanline(&cinfo, &crop_x, &crop_w);
        // Column indices become positions in the cropped rows libjpeg hands over.
        for (int& f : p.horizontal.first) f -= static_cast<int>(crop_x);
        resizer.begin(p);
        read_rows(std::max(0, p.y0 - kCropMargin), p.y0, p.y1,
                  [&](int y, const unsigned char* row) { resizer.add_row(y, row); });
        resizer.finish(out);
    }

    void decode_train(const TransformOptions& t, uint64_t seed, const ImageView& out) {
        const int W = static_cast<int>(cinfo.image_width), H = static_cast<int>(cinfo.image_height);
        plan.train(W, H, t, draw_train(W, H, t, seed));
        decode_planned(out);
    }

    void decode_eval(const TransformOptions& t, const ImageView& out) {
        plan.eval(static_cast<int>(cinfo.image_width), static_cast<int>(cinfo.image_height), t);
        // Zeros where torchvision pads (a crop larger than the resized image), then the pixels.
        const int w = plan.horizontal.count, h = plan.vertical.count;
        for (int y = 0; y < t.size; ++y) {
            if (y < plan.out_y || y >= plan.out_y + h) {
                zero_pixels(out, y, 0, t.size);
            } else {
                zero_pixels(out, y, 0, plan.out_x);
                zero_pixels(out, y, plan.out_x + w, t.size - plan.out_x - w);
            }
        }
        decode_planned(out);
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
        if (t.kind == TransformKind::train &&
            !(std::isfinite(t.scale_min) && std::isfinite(t.scale_max) && t.scale_min >= 0 && t.scale_max > 0 &&
              std::isfinite(t.ratio_min) && std::isfinite(t.ratio_max) && t.ratio_min > 0 && t.ratio_max > 0 &&
              std::isfinite(t.flip_probability)))
            throw std::invalid_argument("imgpack::Decoder::decode: scale must be finite and >= 0, ratio finite and > 0");
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
