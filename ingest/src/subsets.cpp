#include "subsets.hpp"

#include <imgpack/splitmix64.hpp>

#include <algorithm>
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

SubsetDef subset_from_list(const std::string& name, const std::filesystem::path& list, const std::vector<std::string>& names,
                           const std::vector<RecordDef>& train, bool allow_missing, std::vector<std::string>& missing) {
    SubsetDef sub{name, "train", "list:" + list.filename().string(), {}};
    for (const std::string& n : names) {
        auto it = std::lower_bound(train.begin(), train.end(), n,
                                   [](const RecordDef& r, const std::string& s) { return r.name < s; });
        if (it != train.end() && it->name == n) sub.indices.push_back(static_cast<uint32_t>(it - train.begin()));
        else missing.push_back(n);
    }
    if (!missing.empty() && !allow_missing) {
        std::string first;
        for (size_t i = 0; i < missing.size() && i < 5; ++i) first.append(i ? ", " : "").append(missing[i]);
        throw std::runtime_error("imgpack: subset '" + name + "': " + list.string() + " names " +
                                 std::to_string(missing.size()) + " file(s) not in the train split: " + first +
                                 (missing.size() > 5 ? ", ..." : "") + " (--allow-missing leaves them out)");
    }
    std::sort(sub.indices.begin(), sub.indices.end());
    sub.indices.erase(std::unique(sub.indices.begin(), sub.indices.end()), sub.indices.end());
    return sub;
}

SubsetDef balanced_subset(const std::string& name, double fraction, uint64_t seed, const std::vector<RecordDef>& train,
                          const std::vector<ClassDef>& classes) {
    if (!(fraction > 0 && fraction <= 1))
        throw std::runtime_error("imgpack: subset '" + name + "': the fraction must be in (0, 1]");
    std::vector<std::vector<uint32_t>> by_class(classes.size());
    for (size_t i = 0; i < train.size(); ++i)
        if (train[i].label >= 0) by_class[size_t(train[i].label)].push_back(static_cast<uint32_t>(i));
    std::vector<size_t> present;
    for (size_t c = 0; c < by_class.size(); ++c)
        if (!by_class[c].empty()) present.push_back(c);
    if (present.empty()) throw std::runtime_error("imgpack: subset '" + name + "': the train split has no labeled records");

    const uint64_t total = static_cast<uint64_t>(std::llround(fraction * static_cast<double>(train.size())));
    const uint64_t base = total / present.size(), extra = total % present.size();
    SplitMix64 rng{seed};
    choose_first(present, extra, rng);  // the first `extra` classes get one more
    std::vector<size_t> want(classes.size(), 0);
    for (size_t i = 0; i < present.size(); ++i) want[present[i]] = base + (i < extra ? 1 : 0);

    SubsetDef sub{name, "train", "", {}};
    for (size_t c = 0; c < by_class.size(); ++c) {  // class order, so the draw is fixed by the seed
        if (want[c] > by_class[c].size())
            throw std::runtime_error("imgpack: subset '" + name + "': class " + classes[c].wnid + " has " +
                                     std::to_string(by_class[c].size()) + " train images, fewer than the " +
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
