#include "text_lists.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace imgpack {

std::vector<std::string> read_lines(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("imgpack: cannot read " + file.string() + ": " + std::strerror(errno));
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        size_t b = line.find_first_not_of(" \t\r");
        if (b == std::string::npos) continue;
        size_t e = line.find_last_not_of(" \t\r");
        lines.push_back(line.substr(b, e - b + 1));
    }
    if (in.bad()) throw std::runtime_error("imgpack: error reading " + file.string());
    return lines;
}

}  // namespace imgpack
