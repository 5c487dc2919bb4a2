#include "submission.hpp"

#include "json.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace imgpack {

namespace {

constexpr int kTopK = 5;
constexpr std::string_view kTestPrefix = "ILSVRC2012_test_", kTestSuffix = ".JPEG";
constexpr size_t kTestDigits = 8;
constexpr size_t kShown = 5;  // names (or runs of names) listed in a message; then a count

std::string test_name(size_t n) {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%0*zu", int(kTestDigits), n);
    return std::string(kTestPrefix) + digits + std::string(kTestSuffix);
}

// n for a name of the form ILSVRC2012_test_<8 digits>.JPEG, or 0.
size_t test_number(std::string_view name) {
    if (name.size() != kTestPrefix.size() + kTestDigits + kTestSuffix.size() || !name.starts_with(kTestPrefix) ||
        !name.ends_with(kTestSuffix))
        return 0;
    size_t n = 0;
    for (char c : name.substr(kTestPrefix.size(), kTestDigits)) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + size_t(c - '0');
    }
    return n;
}

// The first few of `numbers` (increasing) as names, runs as "A to B (N)"; then how many in all.
std::string summarise_missing(const std::vector<size_t>& numbers) {
    std::string out;
    size_t runs = 0;
    for (size_t i = 0; i < numbers.size();) {
        size_t j = i;
        while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
        if (runs++ == kShown) {
            out += ", ...";
            break;
        }
        out += (i ? ", " : "") + test_name(numbers[i]);
        if (j > i) out += " to " + test_name(numbers[j]) + " (" + std::to_string(j - i + 1) + ")";
        i = j + 1;
    }
    return out;
}

std::string summarise_names(const std::vector<std::string_view>& names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + cli::shown(names[i]);
    if (names.size() > kShown) out += ", ...";
    return out;
}

int32_t parse_label(const Pack& pack, const std::string& token, const std::string& where) {
    if (!token.empty() && token[0] == 'n') {
        if (auto c = pack.find_class(token)) return *c;
        throw std::runtime_error(where + ": " + token + " is not a class of the pack");
    }
    size_t used = 0;
    long v = -1;
    try {
        v = std::stol(token, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != token.size() || v < 0 || size_t(v) >= pack.class_count())
        throw std::runtime_error(where + ": '" + token + "' is neither a WNID nor a label in 0.." +
                                 std::to_string(pack.class_count() - 1));
    return static_cast<int32_t>(v);
}

}  // namespace

void check_test_split(const Pack& pack, size_t test_images) {
    const std::optional<Split> test = pack.find_split("test");
    if (!test || test->empty()) throw std::runtime_error("imgpack: " + pack.path() + " has no test split");
    // Names are unique and sorted, so the split is complete exactly when it holds every expected
    // number and nothing else; then record i is ILSVRC2012_test_<i + 1>.
    std::vector<bool> present(test_images + 1, false);
    std::vector<std::string_view> extra;
    for (size_t i = 0; i < test->size(); ++i) {
        const std::string_view name = test->name_at(i);
        const size_t n = test_number(name);
        if (n >= 1 && n <= test_images) present[n] = true;
        else extra.push_back(name);
    }
    std::vector<size_t> missing;
    for (size_t n = 1; n <= test_images; ++n)
        if (!present[n]) missing.push_back(n);
    if (missing.empty() && extra.empty()) return;

    std::string why = "imgpack: " + pack.path() + ": the test split is not the complete test set the ILSVRC2012 " +
                      "test server expects (" + test_name(1) + " to " + test_name(test_images) + ", " +
                      std::to_string(test_images) + " images), so the lines of a submission would not match its " +
                      "images; nothing was written. The split has " + std::to_string(test->size()) + " images";
    if (!missing.empty()) why += "; missing " + std::to_string(missing.size()) + ": " + summarise_missing(missing);
    if (!extra.empty()) why += "; not of the test set " + std::to_string(extra.size()) + ": " + summarise_names(extra);
    std::vector<std::string_view> skipped;
    for (const SkippedInfo& k : pack.skipped())
        if (k.split == "test") skipped.push_back(k.entry);
    if (!skipped.empty())
        why += ". The pack records " + std::to_string(skipped.size()) +
               " test entr" + (skipped.size() == 1 ? "y" : "ies") + " skipped at conversion (--on-bad-image=skip; " +
               "imgpack info lists them): " + summarise_names(skipped);
    throw std::runtime_error(why);
}

std::string make_submission(const Pack& pack, const std::filesystem::path& predictions, size_t test_images) {
    check_test_split(pack, test_images);
    const std::optional<Split> test = pack.find_split("test");
    if (pack.class_count() == 0) throw std::runtime_error("imgpack: " + pack.path() + " has no class table");
    std::ifstream in(predictions);
    if (!in) throw std::runtime_error("imgpack: cannot read " + predictions.string());

    std::vector<std::string> lines(test->size());
    std::vector<size_t> seen_at(test->size(), 0);
    std::string line;
    for (size_t number = 1; std::getline(in, line); ++number) {
        const std::string where = "imgpack: " + predictions.string() + " line " + std::to_string(number);
        std::istringstream fields(line);
        std::string name;
        if (!(fields >> name)) continue;  // blank line
        auto index = test->find(name);
        if (!index) throw std::runtime_error(where + ": " + name + " is not in the test split");
        if (seen_at[*index])
            throw std::runtime_error(where + ": " + name + " was already predicted on line " + std::to_string(seen_at[*index]));
        seen_at[*index] = number;
        std::vector<int32_t> labels;
        for (std::string token; fields >> token;) labels.push_back(parse_label(pack, token, where));
        if (labels.size() != kTopK)
            throw std::runtime_error(where + ": " + std::to_string(labels.size()) + " labels; the submission takes " +
                                     std::to_string(kTopK) + ", best first");
        for (int i = 0; i < kTopK; ++i)
            for (int j = 0; j < i; ++j)
                if (labels[i] == labels[j]) throw std::runtime_error(where + ": a label appears twice");
        std::string out;
        for (int i = 0; i < kTopK; ++i) {
            if (i) out += ' ';
            out += std::to_string(labels[i] + 1);
        }
        lines[*index] = std::move(out);
    }
    size_t missing = 0;
    std::string first;
    for (size_t i = 0; i < lines.size(); ++i)
        if (lines[i].empty() && missing++ == 0) first = std::string(test->name_at(i));
    if (missing)
        throw std::runtime_error("imgpack: " + predictions.string() + " has no prediction for " + std::to_string(missing) +
                                 " of the " + std::to_string(lines.size()) + " test images, e.g. " + first);
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    return text;
}

}  // namespace imgpack
