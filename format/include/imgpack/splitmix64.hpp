// SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator whose output is fixed by its
// definition, unlike the C++ library's distributions (implementation-defined), so a seed gives
// the same numbers with any compiler and library. A pack's `balanced:fraction=F,seed=S` subset
// origin means the subset this generator draws for S; test data and anything else that must be
// reproducible from a seed use it too. Here, beside the format, because every part may depend
// on the format and it depends on nothing.
#pragma once

#include <cstdint>

namespace imgpack {

struct SplitMix64 {
    uint64_t state;

    constexpr uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) for n > 0, by rejection: no modulo bias.
    constexpr uint64_t below(uint64_t n) {
        const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        for (;;)
            if (uint64_t v = next(); v < limit) return v % n;
    }
};

}  // namespace imgpack
