// TurboJPEG compression for the tests that need JPEGs of a given kind.
#pragma once

#include <turbojpeg.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace test {

// `pixels` (w x h, tightly packed in `pixel_format`'s layout, e.g. TJPF_RGB) as a JPEG. A fresh
// handle per call: progressive output spoils a handle for later calls (libjpeg-turbo 2.1.5).
// Throws on failure (doctest reports it as the test's failure).
inline std::vector<unsigned char> encode_jpeg(const unsigned char* pixels, int w, int h, int pixel_format,
                                              int subsampling, int quality, int flags = 0) {
    tjhandle tj = tjInitCompress();
    if (!tj) throw std::runtime_error("tjInitCompress failed");
    unsigned char* out = nullptr;
    unsigned long size = 0;
    const int rc = tjCompress2(tj, pixels, w, 0, h, pixel_format, &out, &size, subsampling, quality, flags);
    std::vector<unsigned char> jpeg;
    std::string error;
    if (rc == 0) jpeg.assign(out, out + size);
    else error = tjGetErrorStr2(tj);
    tjFree(out);
    tjDestroy(tj);
    if (rc != 0) throw std::runtime_error("tjCompress2: " + error);
    return jpeg;
}

}  // namespace test
