// How a test case that cannot run here (its data is absent) ends: reported as skipped, not
// passed. CTest shows it as "Skipped" (tests/CMakeLists.txt sets SKIP_REGULAR_EXPRESSION to the
// marker), and a direct run of a test program lists it after doctest's summary (test_main.cpp),
// since doctest 2.4 itself would count it as passed.
#pragma once

#include <doctest/doctest.h>

#define IMGPACK_SKIP_MARKER "IMGPACK-SKIPPED: "
#define IMGPACK_SKIP(...)                          \
    do {                                           \
        MESSAGE(IMGPACK_SKIP_MARKER, __VA_ARGS__); \
        return;                                    \
    } while (0)
