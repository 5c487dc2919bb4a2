// Reading a whole input file: every image of an extracted folder and every list or devkit file
// the user names go through here, so each is read once, the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imgpack {

// The bytes of `file`, read once with read(2): a regular file (one allocation of its size) or
// anything else readable, such as the pipe that process substitution gives. More than
// `max_bytes` is refused, before allocating when the size is known. Throws std::runtime_error
// naming the file.
std::vector<unsigned char> read_file(const std::filesystem::path& file, uint64_t max_bytes);
std::string read_text_file(const std::filesystem::path& file, uint64_t max_bytes);

}  // namespace imgpack
