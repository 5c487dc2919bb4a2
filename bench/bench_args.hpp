// Command-line helpers shared by the benchmark programs.
#pragma once

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace imgpack::bench {

// A flag's value as a positive integer no larger than `max`.
inline unsigned parse_unsigned(const std::string& flag, const char* text, unsigned max = 1'000'000'000) {
    char* end = nullptr;
    unsigned long v = std::strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v == 0 || v > max)
        throw std::invalid_argument(flag + " needs an integer in 1.." + std::to_string(max) + ", not '" + text + "'");
    return static_cast<unsigned>(v);
}

}  // namespace imgpack::bench
