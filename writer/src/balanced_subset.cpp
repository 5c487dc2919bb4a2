#include <imgpack/balanced_subset.hpp>

#include <imgpack/splitmix64.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace imgpack {

namespace {

// The first k elements of v become a uniform random k-subset (partial Fisher-Yates).
template <class T>
void choose_first(std::vector<T>& v, size_t k, SplitMix64& rng) {
    for (size_t i = 0; i < k; ++i) std::swap(v[i], v[i + rng.below(v.size() - i)]);
}

}  // namespace

bool valid_subset_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
    return true;
}

SubsetDef balanced_subset(const std::string& name, const std::string& split, double fraction, uint64_t seed,
                          const std::vector<RecordDef>& records, const std::vector<ClassDef>& classes) {
    if (!(fraction > 0 && fraction <= 1))
        throw std::runtime_error("imgpack: subset '" + name + "': the fraction must be in (0, 1]");
    std::vector<std::vector<uint32_t>> by_class(classes.size());
    for (size_t i = 0; i < records.size(); ++i)
        if (records[i].label >= 0) by_class[size_t(records[i].label)].push_back(static_cast<uint32_t>(i));
    std::vector<size_t> present;
    for (size_t c = 0; c < by_class.size(); ++c)
        if (!by_class[c].empty()) present.push_back(c);
    if (present.empty())
        throw std::runtime_error("imgpack: subset '" + name + "': the " + split + " split has no labeled records");

    const uint64_t total = static_cast<uint64_t>(std::llround(fraction * static_cast<double>(records.size())));
    const uint64_t base = total / present.size(), extra = total % present.size();
    SplitMix64 rng{seed};
    choose_first(present, extra, rng);  // the first `extra` classes get one more
    std::vector<size_t> want(classes.size(), 0);
    for (size_t i = 0; i < present.size(); ++i) want[present[i]] = base + (i < extra ? 1 : 0);

    SubsetDef sub{name, split, "", {}};
    for (size_t c = 0; c < by_class.size(); ++c) {  // class order, so the draw is fixed by the seed
        if (want[c] > by_class[c].size())
            throw std::runtime_error("imgpack: subset '" + name + "': class " + classes[c].wnid + " has " +
                                     std::to_string(by_class[c].size()) + " " + split + " images, fewer than the " +
                                     std::to_string(want[c]) + " a balanced " + std::to_string(fraction) +
                                     " subset takes from each class");
        choose_first(by_class[c], want[c], rng);
        sub.indices.insert(sub.indices.end(), by_class[c].begin(), by_class[c].begin() + long(want[c]));
    }
    std::sort(sub.indices.begin(), sub.indices.end());
    char origin[96];
    std::snprintf(origin, sizeof origin, "balanced:fraction=%.17g,seed=%llu", fraction, (unsigned long long)seed);
    sub.origin = origin;
    return sub;
}

}  // namespace imgpack
