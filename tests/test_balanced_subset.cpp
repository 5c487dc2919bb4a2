// The label-balanced draw (writer/include/imgpack/balanced_subset.hpp), shared by convert and
// export. Its indices for a fixed input are written out below: they are what the converter drew
// before the draw moved out of ingest/, so a change in the draw (which would change what every
// `balanced:fraction=F,seed=S` origin means) fails here.
#include <doctest/doctest.h>

#include <imgpack/balanced_subset.hpp>

#include <cstdio>
#include <stdexcept>

namespace {

// 18 records r00..r17 in three classes, two unlabeled.
std::vector<imgpack::RecordDef> records() {
    const int labels[] = {0, 1, 2, 0, 0, 1, -1, 2, 1, 0, 1, 2, 1, 0, 1, -1, 2, 1};
    std::vector<imgpack::RecordDef> out;
    for (int i = 0; i < 18; ++i) {
        imgpack::RecordDef r;
        char name[8];
        std::snprintf(name, sizeof name, "r%02d", i);
        r.name = name;
        r.label = labels[i];
        out.push_back(r);
    }
    return out;
}
const std::vector<imgpack::ClassDef> kClasses{{"n1", ""}, {"n2", ""}, {"n3", ""}};

}  // namespace

TEST_CASE("balanced subset: the indices convert has always drawn, for three fractions and seeds") {
    struct Case {
        double fraction;
        uint64_t seed;
        const char* origin;
        std::vector<uint32_t> indices;
    };
    const Case cases[] = {
        {0.4, 7, "balanced:fraction=0.40000000000000002,seed=7", {4, 7, 9, 11, 12, 13, 14}},
        {0.25, 123, "balanced:fraction=0.25,seed=123", {0, 10, 11, 13, 17}},
        {0.75, 0, "balanced:fraction=0.75,seed=0", {0, 1, 2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 16, 17}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.origin);
        imgpack::SubsetDef d = imgpack::balanced_subset("x", "train", c.fraction, c.seed, records(), kClasses);
        CHECK(d.name == "x");
        CHECK(d.split == "train");
        CHECK(d.origin == c.origin);
        CHECK(d.indices == c.indices);
    }
    // Of another split, the same draw, named for that split.
    imgpack::SubsetDef v = imgpack::balanced_subset("v", "validation", 0.4, 7, records(), kClasses);
    CHECK(v.split == "validation");
    CHECK(v.indices == cases[0].indices);
}

TEST_CASE("balanced subset: bad fractions, no labels, too few records per class") {
    auto error = [](double fraction, const std::vector<imgpack::RecordDef>& recs) {
        try {
            imgpack::balanced_subset("s", "validation", fraction, 1, recs, kClasses);
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error(0, records()).find("the fraction must be in (0, 1]") != std::string::npos);
    CHECK(error(1.5, records()).find("the fraction must be in (0, 1]") != std::string::npos);
    auto unlabeled = records();
    for (auto& r : unlabeled) r.label = -1;
    CHECK(error(0.5, unlabeled).find("the validation split has no labeled records") != std::string::npos);
    // 1.0 of 18 records over 3 classes wants 6 of each; class n1 has 5.
    CHECK(error(1.0, records()).find("class n1 has 5 validation images, fewer than the 6") != std::string::npos);
}
