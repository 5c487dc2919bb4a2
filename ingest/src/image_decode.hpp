// Whether a JPEG's data decodes whole and cleanly (`imgpack convert --decode`): the header check
// (ImageInspector) reads a few hundred bytes, so an image truncated or damaged mid-scan passes it
// and fails only when training decodes it. This decodes every scan.
//
// Clean means: libjpeg (through TurboJPEG) reports neither an error nor a warning. A warning
// counts as bad: "Premature end of JPEG file" is how libjpeg reports a file cut short (it then
// pads the image with grey), and the others ("Corrupt JPEG data: ...") mean damaged data that it
// decoded around. The loader (loader/, whose Decoder fails only on the premature end and lets the
// other warnings pass, as PIL and TensorFlow do) decodes such an image into wrong pixels without
// a word; this check is the stricter one, for integrity, and `imgpack verify --decode` should
// use it too, so that the two agree (docs/integrity.md).
//
// The image is decoded at 1/8 scale: libjpeg still parses every entropy-coded block of every
// scan (where truncation and damage are found) but runs a DC-only inverse DCT into a buffer 64
// times smaller than the image, which makes the check several times cheaper than a full decode
// and finds the same faults (tests/test_decode_check.cpp compares the two on many damaged files).
#pragma once

#include "image_info.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace imgpack {

class DecodeCheck {
public:
    DecodeCheck();
    ~DecodeCheck();
    DecodeCheck(const DecodeCheck&) = delete;
    DecodeCheck& operator=(const DecodeCheck&) = delete;

    // Throws BadImage (reason only; the caller names the file) unless the JPEG `bytes`, which
    // `info` describes, decodes cleanly. Images of more than kMaxRepairDecodedBytes of samples
    // (TensorFlow's limit) are refused as too large. `full` decodes at full size instead (for
    // comparisons).
    void check(std::span<const unsigned char> bytes, const ImageInfo& info, bool full = false);

    // What check() may allocate for an image `info` describes, at most: for a progressive JPEG,
    // libjpeg holds every coefficient (2 bytes per sample) until the last scan.
    static uint64_t memory(const ImageInfo& info);

private:
    void* tj_;  // tjhandle
    std::vector<unsigned char> out_;
};

}  // namespace imgpack
