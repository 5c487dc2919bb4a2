// Timing helpers shared by the benchmark programs: how long a call takes, and the median and
// range of repeated measurements.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <vector>

namespace imgpack::bench {

inline double seconds_of(const std::function<void()>& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The CPU time the calling thread spends in f: on a machine shared with other work, time spent
// waiting for a core does not count, so figures "per core" stay comparable across loads.
inline double thread_cpu_seconds_of(const std::function<void()>& f) {
    timespec a{}, b{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    f();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    return double(b.tv_sec - a.tv_sec) + double(b.tv_nsec - a.tv_nsec) * 1e-9;
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
