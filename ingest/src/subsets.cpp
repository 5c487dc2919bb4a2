#include "subsets.hpp"

#include <algorithm>
#include <stdexcept>

namespace imgpack {

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

}  // namespace imgpack
