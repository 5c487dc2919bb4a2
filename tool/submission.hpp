// The ILSVRC test-server classification submission: one line per test image, in test-file
// order (the test split's record order, which is sorted by file name:
// ILSVRC2012_test_00000001.JPEG first), five rank-ordered labels per line, each 1-indexed:
// the line number of the class in the sorted label list, i.e. the pack's label + 1.
#pragma once

#include <imgpack/reader.hpp>

#include <filesystem>
#include <string>

namespace imgpack {

// Reads predictions, one line per test image: "<file name> <p1> <p2> <p3> <p4> <p5>", each p a
// WNID or the pack's 0-based label, best first. Checks them against the pack's test split (every
// test image exactly once, known classes, five distinct labels) and returns the submission
// text. Throws naming the file and line on any problem.
std::string make_submission(const Pack& pack, const std::filesystem::path& predictions);

}  // namespace imgpack
