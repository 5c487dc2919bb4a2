// The ILSVRC test-server classification submission: one line per test image, in test-file
// order (the test split's record order, which is sorted by file name:
// ILSVRC2012_test_00000001.JPEG first), five rank-ordered labels per line, each 1-indexed:
// the line number of the class in the sorted label list, i.e. the pack's label + 1.
#pragma once

#include <imgpack/reader.hpp>

#include <cstddef>
#include <filesystem>
#include <string>

namespace imgpack {

// The ILSVRC2012 test set: ILSVRC2012_test_00000001.JPEG to ILSVRC2012_test_00100000.JPEG.
inline constexpr size_t kIlsvrc2012TestImages = 100000;

// Checks that the pack's test split is exactly ILSVRC2012_test_<n>.JPEG for n = 1 to
// `test_images` (8 digits), nothing missing and nothing else, so that record i is image i + 1
// and line i + 1 of the submission. Otherwise throws std::runtime_error naming the missing and
// the extra names (the first few, as ranges where they are runs, and how many in all), and the
// test entries the pack records as skipped, which are the usual cause.
void check_test_split(const Pack& pack, size_t test_images = kIlsvrc2012TestImages);

// check_test_split(), then reads predictions, one line per test image: "<file name> <p1> <p2>
// <p3> <p4> <p5>", each p a WNID or the pack's 0-based label, best first. Checks them against
// the test split (every test image exactly once, known classes, five distinct labels) and
// returns the submission text. Throws naming the file and line on any problem. The CLI uses the
// real test set's size; tests give a small complete set.
std::string make_submission(const Pack& pack, const std::filesystem::path& predictions,
                            size_t test_images = kIlsvrc2012TestImages);

}  // namespace imgpack
