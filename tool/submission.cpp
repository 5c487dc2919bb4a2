#include "submission.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace imgpack {

namespace {

constexpr int kTopK = 5;

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

std::string make_submission(const Pack& pack, const std::filesystem::path& predictions) {
    const std::optional<Split> test = pack.find_split("test");
    if (!test || test->empty()) throw std::runtime_error("imgpack: " + pack.path() + " has no test split");
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
