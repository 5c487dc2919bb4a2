// The real ILSVRC2012 metadata in ../shared/imagenet/ (never copied into this tree): the list
// readers the converter uses must read them as the README of that folder describes them. Without
// that folder these tests report themselves skipped.
#include <doctest/doctest.h>

#include "shared_data.hpp"
#include "text_lists.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>

namespace {

const std::filesystem::path kShared = test::shared_imagenet();

// n + 8 digits, e.g. n01440764.
bool is_wnid(std::string_view s) {
    if (s.size() != 9 || s[0] != 'n') return false;
    for (char c : s.substr(1))
        if (c < '0' || c > '9') return false;
    return true;
}

bool have_shared() { return std::filesystem::exists(kShared / "imagenet2012_labels.txt"); }

}  // namespace

TEST_CASE("shared lists: 1000 sorted WNIDs, 50,000 validation labels, 50 per class") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lists live there)");
    auto wnids = imgpack::read_lines(kShared / "imagenet2012_labels.txt");
    REQUIRE(wnids.size() == 1000);
    CHECK(std::is_sorted(wnids.begin(), wnids.end()));
    std::set<std::string> classes(wnids.begin(), wnids.end());
    CHECK(classes.size() == 1000);
    for (const auto& w : wnids) CHECK(is_wnid(w));

    auto val = imgpack::read_lines(kShared / "imagenet2012_validation_labels.txt");
    REQUIRE(val.size() == 50000);
    std::map<std::string, int> per_class;
    for (const auto& w : val) ++per_class[w];
    CHECK(per_class.size() == 1000);
    for (const auto& [w, n] : per_class) {
        CHECK(classes.count(w) == 1);
        CHECK(n == 50);
    }
}

TEST_CASE("shared lists: the SimCLR subsets, 12,811 and 128,116 train names, 1% inside 10%") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lists live there)");
    auto one = imgpack::read_lines(kShared / "1percent.txt");
    auto ten = imgpack::read_lines(kShared / "10percent.txt");
    CHECK(one.size() == 12811);
    CHECK(ten.size() == 128116);
    std::set<std::string> ten_set(ten.begin(), ten.end());
    CHECK(ten_set.size() == ten.size());
    size_t outside = 0;
    for (const auto& n : one) outside += ten_set.count(n) == 0;
    CHECK(outside == 0);
    // Names are <WNID>_<number>.JPEG.
    std::set<std::string> classes;
    for (const auto& n : one) {
        REQUIRE(n.size() > 15);
        CHECK(is_wnid(std::string_view(n).substr(0, 9)));
        CHECK(n[9] == '_');
        CHECK(n.ends_with(".JPEG"));
        classes.insert(n.substr(0, 9));
    }
    CHECK(classes.size() == 1000);
}
