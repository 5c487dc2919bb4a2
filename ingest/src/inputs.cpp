#include "inputs.hpp"

#include "text_lists.hpp"

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <set>
#include <stdexcept>

namespace imgpack {

namespace {

namespace fs = std::filesystem;

bool valid_subset_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
    return true;
}

// A folder of class folders (val/<WNID>/...), which labels the validation split by itself. A
// folder not named like a WNID (lost+found/) labels nothing: it is a bad entry of its own.
bool has_class_folders(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return false;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec) && looks_like_wnid(it->path().filename().string())) return true;
    return false;
}

// The options' combinations, names and sources: no file is read here.
void check_options(const ConvertOptions& o) {
    if (o.train.empty() && o.val.empty() && o.test.empty())
        throw std::runtime_error("imgpack: nothing to convert: give at least one of --train, --val, --test");
    if (!o.val_labels.empty() && o.val.empty()) throw std::runtime_error("imgpack: --val-labels needs --val");
    if (!o.test_patch.empty() && o.test.empty()) throw std::runtime_error("imgpack: --test-patch needs --test");
    if (!o.subsets.empty() && o.train.empty())
        throw std::runtime_error("imgpack: subsets are subsets of the train split: --subset needs --train");
    if (o.output.empty()) throw std::runtime_error("imgpack: no output file given");
    if (o.max_image_bytes == 0 || o.max_image_bytes > UINT32_MAX)
        throw std::runtime_error("imgpack: --max-image-bytes must be 1.." + std::to_string(UINT32_MAX) +
                                 " (a record's size is a u32), got " + std::to_string(o.max_image_bytes));
    for (const auto& p : {o.train, o.val, o.test})
        if (!p.empty() && !fs::exists(p)) throw std::runtime_error("imgpack: " + p.string() + ": no such file");
    // Any readable file: a pipe from process substitution too.
    if (!o.test_patch.empty() && !fs::exists(o.test_patch))
        throw std::runtime_error("imgpack: " + o.test_patch.string() + ": no such file (--test-patch)");
    if (!o.test_patch.empty() && fs::is_directory(o.test_patch))
        throw std::runtime_error("imgpack: " + o.test_patch.string() + ": a folder; --test-patch takes the patch's tar");
    for (size_t i = 0; i < o.subsets.size(); ++i) {
        const SubsetRequest& r = o.subsets[i];
        if (!valid_subset_name(r.name))
            throw std::runtime_error("imgpack: subset name '" + r.name +
                                     "' must be 1-64 characters of letters, digits, '_', '-', '.'");
        if (r.list.empty() && !(r.fraction > 0 && r.fraction <= 1))
            throw std::runtime_error("imgpack: subset '" + r.name + "': a fraction must be in (0, 1]");
        for (size_t j = 0; j < i; ++j)
            if (o.subsets[j].name == r.name) throw std::runtime_error("imgpack: subset '" + r.name + "' given twice");
    }
}

}  // namespace

Inputs read_inputs(const ConvertOptions& o) {
    check_options(o);
    Inputs in;
    if (!o.classes.empty()) in.classes = read_class_list(o.classes);
    if (!o.class_names.empty()) in.class_names = read_class_names(o.class_names);
    if (!o.val_labels.empty()) {
        if (has_class_folders(o.val))
            throw std::runtime_error("imgpack: " + o.val.string() +
                                     " holds class folders, which label it already: drop --val-labels");
        in.val_labels = read_val_labels(o.val_labels);
        if (!in.classes.empty()) {
            const std::set<std::string> known(in.classes.begin(), in.classes.end());
            in.val_labels->require_classes([&](const std::string& w) { return known.count(w) != 0; },
                                           o.classes.string());
        }
    }
    for (const SubsetRequest& r : o.subsets) {
        in.subset_lists.push_back(r.list.empty() ? std::vector<std::string>{} : read_lines(r.list));
        if (!r.list.empty() && in.subset_lists.back().empty() && !o.allow_empty)
            throw std::runtime_error("imgpack: subset '" + r.name + "': " + r.list.string() +
                                     " names no file (--allow-empty writes an empty subset)");
    }
    return in;
}

}  // namespace imgpack
