// What the converter learns from an image's header: codec, colour space and size. Parses
// headers only (TurboJPEG for JPEG, the IHDR chunk for PNG); never decodes pixels.
#pragma once

#include <imgpack/format.hpp>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace imgpack {

struct ImageInfo {
    format::Codec codec = format::Codec::unknown;
    format::ColorSpace color_space = format::ColorSpace::unknown;
    uint16_t width = 0, height = 0;
    // CMYK/YCCK JPEGs and non-JPEG images are ImageNet's known quirks: TFDS re-encodes them.
    bool needs_repair() const {
        return codec != format::Codec::jpeg || color_space == format::ColorSpace::cmyk ||
               color_space == format::ColorSpace::ycck;
    }
};

class BadImage : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads image headers. One per thread: it owns a TurboJPEG handle.
class ImageInspector {
public:
    ImageInspector();
    ~ImageInspector();
    ImageInspector(const ImageInspector&) = delete;
    ImageInspector& operator=(const ImageInspector&) = delete;

    // Throws BadImage (reason only; the caller names the file) when the bytes are not a JPEG or
    // PNG whose header parses, or whose dimensions exceed the format's 65535.
    ImageInfo inspect(std::span<const unsigned char> bytes);

private:
    void* tj_;  // tjhandle
};

const char* codec_name(format::Codec c);
const char* color_space_name(format::ColorSpace c);

}  // namespace imgpack
