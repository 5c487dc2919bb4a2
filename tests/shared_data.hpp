// The real ILSVRC2012 metadata in ../shared/imagenet/ (read from there, never copied into the
// tree), and how a test that needs it reports itself skipped, not passed, when it is absent.
#pragma once

#include "skip.hpp"

#include <cstdlib>
#include <filesystem>

namespace test {

// IMGPACK_SHARED_IMAGENET from the environment when set (the test of the skip path points it at
// a folder that does not exist), else ../shared/imagenet beside the source tree.
inline std::filesystem::path shared_imagenet() {
    if (const char* p = std::getenv("IMGPACK_SHARED_IMAGENET"); p && *p) return p;
    return IMGPACK_SHARED_IMAGENET;
}

}  // namespace test
