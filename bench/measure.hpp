// Timing helpers shared by the benchmark programs: how long a call takes, and the median and
// range of repeated measurements.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace imgpack::bench {

inline double seconds_of(const std::function<void()>& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Spread {
    double median, min, max;
};

inline Spread spread(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return {median, v.front(), v.back()};
}

}  // namespace imgpack::bench
