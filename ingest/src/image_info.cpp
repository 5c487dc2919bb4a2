#include "image_info.hpp"

#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace imgpack {

namespace {

constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t be32(const unsigned char* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

uint16_t checked_side(uint64_t v, const char* what) {
    if (v == 0 || v > UINT16_MAX)
        throw BadImage(std::string("image ") + what + " " + std::to_string(v) + " is outside 1..65535");
    return static_cast<uint16_t>(v);
}

std::string truncated(const char* kind, size_t size, const char* what) {
    return std::string("truncated ") + kind + ": " + std::to_string(size) + " byte" + (size == 1 ? "" : "s") + ", " + what;
}

ImageInfo inspect_png(std::span<const unsigned char> b) {
    // Signature, then the IHDR chunk: length(4) "IHDR"(4) width(4) height(4) depth(1) colour(1).
    if (b.size() < 33) throw BadImage(truncated("PNG", b.size(), "too short for its IHDR chunk"));
    if (std::memcmp(b.data() + 12, "IHDR", 4) != 0) throw BadImage("PNG without a valid IHDR chunk");
    ImageInfo info;
    info.codec = format::Codec::png;
    info.width = checked_side(be32(b.data() + 16), "width");
    info.height = checked_side(be32(b.data() + 20), "height");
    unsigned char colour_type = b[25];
    info.color_space = (colour_type == 0 || colour_type == 4) ? format::ColorSpace::gray : format::ColorSpace::rgb;
    return info;
}

format::ColorSpace from_tjcs(int cs) {
    switch (cs) {
        case TJCS_GRAY: return format::ColorSpace::gray;
        case TJCS_YCbCr: return format::ColorSpace::ycbcr;
        case TJCS_RGB: return format::ColorSpace::rgb;
        case TJCS_CMYK: return format::ColorSpace::cmyk;
        case TJCS_YCCK: return format::ColorSpace::ycck;
        default: return format::ColorSpace::unknown;
    }
}

}  // namespace

ImageInspector::ImageInspector() : tj_(tjInitDecompress()) {
    if (!tj_) throw std::runtime_error(std::string("imgpack: TurboJPEG init failed: ") + tjGetErrorStr2(nullptr));
}

ImageInspector::~ImageInspector() { tjDestroy(static_cast<tjhandle>(tj_)); }

ImageInfo ImageInspector::inspect(std::span<const unsigned char> b) {
    static constexpr unsigned char kJpegStart[3] = {0xFF, 0xD8, 0xFF};  // SOI, then a marker
    if (b.empty()) throw BadImage("empty file");
    if (b.size() >= 8 && std::memcmp(b.data(), kPngSignature, 8) == 0) return inspect_png(b);
    // The start of a JPEG or PNG cut short is said as such, not as "no signature".
    if (b.size() < 8 && b.size() >= 2 && std::memcmp(b.data(), kPngSignature, b.size()) == 0)
        throw BadImage(truncated("PNG", b.size(), "part of the PNG signature and nothing after it"));
    if (b.size() < 4 && std::memcmp(b.data(), kJpegStart, std::min<size_t>(b.size(), 3)) == 0)
        throw BadImage(truncated("JPEG", b.size(), b.size() >= 2 ? "the SOI marker and nothing after it" : "one byte"));
    if (b[0] != 0xFF || b[1] != 0xD8) throw BadImage("not a JPEG or PNG image (no JPEG SOI marker, no PNG signature)");
    if (b[2] != 0xFF) throw BadImage("a damaged JPEG: its SOI marker is not followed by another marker");
    int w = 0, h = 0, subsamp = 0, cs = 0;
    if (tjDecompressHeader3(static_cast<tjhandle>(tj_), b.data(), static_cast<unsigned long>(b.size()), &w, &h,
                            &subsamp, &cs) != 0) {
        std::string why = tjGetErrorStr2(static_cast<tjhandle>(tj_));
        // libjpeg-turbo 2.1 leaves a handle unusable after a failed parse (the next good JPEG
        // fails with "two SOI markers"): start afresh, so one bad image cannot spoil the next.
        tjDestroy(static_cast<tjhandle>(tj_));
        tj_ = tjInitDecompress();
        if (!tj_) throw std::runtime_error("imgpack: TurboJPEG init failed");
        throw BadImage("JPEG header does not parse: " + why);
    }
    ImageInfo info;
    info.codec = format::Codec::jpeg;
    info.width = checked_side(uint64_t(w), "width");
    info.height = checked_side(uint64_t(h), "height");
    info.color_space = from_tjcs(cs);
    return info;
}

const char* codec_name(format::Codec c) {
    switch (c) {
        case format::Codec::jpeg: return "jpeg";
        case format::Codec::png: return "png";
        default: return "unknown";
    }
}

const char* color_space_name(format::ColorSpace c) {
    switch (c) {
        case format::ColorSpace::gray: return "gray";
        case format::ColorSpace::ycbcr: return "ycbcr";
        case format::ColorSpace::rgb: return "rgb";
        case format::ColorSpace::cmyk: return "cmyk";
        case format::ColorSpace::ycck: return "ycck";
        default: return "unknown";
    }
}

}  // namespace imgpack
