#include "image_decode.hpp"

#include "image_repair.hpp"

#include <turbojpeg.h>

#include <stdexcept>
#include <string>

namespace imgpack {

namespace {

tjhandle tj(void* h) { return static_cast<tjhandle>(h); }

int components(const ImageInfo& info) {
    switch (info.color_space) {
        case format::ColorSpace::gray: return 1;
        case format::ColorSpace::cmyk:
        case format::ColorSpace::ycck: return 4;
        default: return 3;
    }
}

}  // namespace

DecodeCheck::DecodeCheck() : tj_(tjInitDecompress()) {
    if (!tj_) throw std::runtime_error(std::string("imgpack: TurboJPEG init failed: ") + tjGetErrorStr2(nullptr));
}

DecodeCheck::~DecodeCheck() { tjDestroy(tj(tj_)); }

uint64_t DecodeCheck::memory(const ImageInfo& info) {
    const uint64_t samples = uint64_t(info.width) * info.height * uint64_t(components(info));
    return 2 * samples + samples / 64 + 4096;  // coefficients, and the 1/8-scale output
}

void DecodeCheck::check(std::span<const unsigned char> bytes, const ImageInfo& info, bool full) {
    if (info.codec != format::Codec::jpeg) throw std::invalid_argument("imgpack: DecodeCheck checks JPEGs");
    const int comps = components(info);
    if (uint64_t(info.width) * info.height * uint64_t(comps) >= kMaxRepairDecodedBytes)
        throw BadImage("image " + std::to_string(info.width) + "x" + std::to_string(info.height) +
                       " is too large to decode (TensorFlow's 2^29-byte decode limit)");
    // Gray output from YCbCr or RGB data (libjpeg converts only the luma), CMYK as it is: the
    // least work after the entropy decoding, which is where faults are found.
    const int format = comps == 4 ? TJPF_CMYK : TJPF_GRAY;
    const tjscalingfactor scale = full ? tjscalingfactor{1, 1} : tjscalingfactor{1, 8};
    const int w = TJSCALED(int(info.width), scale), h = TJSCALED(int(info.height), scale);
    out_.resize(size_t(w) * size_t(h) * size_t(tjPixelSize[format]));
    const int rc = tjDecompress2(tj(tj_), bytes.data(), static_cast<unsigned long>(bytes.size()), out_.data(), w, 0, h,
                                 format, 0);
    if (out_.size() > (size_t{16} << 20)) std::vector<unsigned char>().swap(out_);  // keep no large buffer
    if (rc != 0) {
        const std::string why = tjGetErrorStr2(tj(tj_));
        // libjpeg-turbo 2.1 can leave a handle that failed unusable for the next image.
        tjhandle fresh = tjInitDecompress();
        if (!fresh) throw std::runtime_error("imgpack: TurboJPEG init failed");
        tjDestroy(tj(tj_));
        tj_ = fresh;
        throw BadImage("JPEG does not decode cleanly (--decode): " + why);
    }
}

}  // namespace imgpack
