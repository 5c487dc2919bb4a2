// The plain-text lists users bring: TFDS's validation labels (one WNID per line) and SimCLR's
// subset lists (one train file name per line).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace imgpack {

// The non-empty lines of a text file, with surrounding whitespace (and CR) removed. Throws
// naming the file when it cannot be read.
std::vector<std::string> read_lines(const std::filesystem::path& file);

}  // namespace imgpack
