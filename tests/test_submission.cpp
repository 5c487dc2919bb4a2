// The test-server submission is written only for the complete, contiguous ILSVRC2012 test set:
// any gap or extra image would put every later prediction on the wrong line (issue 13, item 1).
// The packs here are made with PackWriter: names and one byte per image are all a submission
// reads, so a test set of the real size (100,000) costs a few megabytes and no JPEG.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "named_pack.hpp"

#include "submission.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <cstdio>

namespace {

namespace fs = std::filesystem;

std::string test_name(size_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "ILSVRC2012_test_%08zu.JPEG", n);
    return buf;
}

std::vector<std::string> test_names(size_t first, size_t last) {
    std::vector<std::string> v;
    for (size_t n = first; n <= last; ++n) v.push_back(test_name(n));
    return v;
}

// A pack with 5 classes and a test split of `names`, and these skipped test entries.
fs::path make_pack(const fs::path& out, const std::vector<std::string>& names, const std::vector<std::string>& skipped = {}) {
    std::vector<imgpack::ClassDef> classes;
    for (int k = 0; k < 5; ++k) classes.push_back({"n0000000" + std::to_string(k), ""});
    std::vector<imgpack::SkippedDef> entries;
    for (const std::string& k : skipped) entries.push_back({"test", "ILSVRC2012_img_test.tar: " + k, "not a JPEG"});
    test::write_named_pack(out, "test", names, classes, entries);
    return out;
}

// Predictions for `names`: image n gets labels n, n+1, ... (mod 5), so each line says which image it is for.
fs::path make_predictions(const fs::path& out, const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& n : names) {
        const size_t k = std::stoul(n.substr(16, 8));
        text += n;
        for (size_t i = 0; i < 5; ++i) text += " " + std::to_string((k + i) % 5);
        text += "\n";
    }
    test::write_text(out, text);
    return out;
}

std::string expected_line(size_t n) {
    std::string line;
    for (size_t i = 0; i < 5; ++i) line += (i ? " " : "") + std::to_string((n + i) % 5 + 1);
    return line;
}

// The message of check_test_split, or "" when the split passes.
std::string refusal(const fs::path& pack, size_t test_images) {
    try {
        imgpack::check_test_split(imgpack::Pack::open(pack.string()), test_images);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("submission: a complete test set gives line n for ILSVRC2012_test_<n>") {
    test::TempDir dir;
    const auto names = test_names(1, 12);
    const auto pack = make_pack(dir / "p.imgpack", names);
    CHECK(refusal(pack, 12).empty());
    std::string text = imgpack::make_submission(imgpack::Pack::open(pack.string()), make_predictions(dir / "pred.txt", names), 12);
    std::string want;
    for (size_t n = 1; n <= 12; ++n) want += expected_line(n) + "\n";
    CHECK(text == want);
}

TEST_CASE("submission: a gap in the test split is refused, naming the missing image and the skipped entry") {
    // The case: one image left out by --on-bad-image=skip. Before, every later line
    // shifted to the wrong image, exit 0.
    test::TempDir dir;
    auto names = test_names(1, 12);
    names.erase(names.begin() + 4);  // ILSVRC2012_test_00000005.JPEG
    const auto pack = make_pack(dir / "p.imgpack", names, {test_name(5)});
    const std::string why = refusal(pack, 12);
    CHECK(contains(why, "the test split is not the complete test set the ILSVRC2012 test server expects "
                        "(ILSVRC2012_test_00000001.JPEG to ILSVRC2012_test_00000012.JPEG, 12 images)"));
    CHECK(contains(why, "nothing was written. The split has 11 images; missing 1: ILSVRC2012_test_00000005.JPEG"));
    CHECK(contains(why, "The pack records 1 test entry skipped at conversion (--on-bad-image=skip; imgpack info lists "
                        "them): ILSVRC2012_img_test.tar: ILSVRC2012_test_00000005.JPEG"));
    CHECK_FALSE(contains(why, "not of the test set"));
    CHECK_THROWS_WITH_AS(imgpack::make_submission(imgpack::Pack::open(pack.string()), make_predictions(dir / "pred.txt", names), 12),
                         doctest::Contains("missing 1: ILSVRC2012_test_00000005.JPEG"), std::runtime_error);
}

TEST_CASE("submission: a split missing its last images, or holding extra ones, is refused too") {
    test::TempDir dir;
    // Missing at the end: no line shifts, yet the server expects the last ones. Record-by-record
    // checks of name against index pass this; the count does not.
    const auto short_pack = make_pack(dir / "short.imgpack", test_names(1, 10));
    CHECK(contains(refusal(short_pack, 12), "missing 2: ILSVRC2012_test_00000011.JPEG to ILSVRC2012_test_00000012.JPEG (2)"));
    // Extra: an image past the end, a name outside the test set's naming (a patch that added
    // instead of replacing), and a wrongly numbered one.
    auto names = test_names(1, 12);
    names.push_back(test_name(13));
    names.push_back("extra.JPEG");
    names.push_back("ILSVRC2012_test_0000005.JPEG");
    const std::string why = refusal(make_pack(dir / "extra.imgpack", names), 12);
    CHECK(contains(why, "The split has 15 images; not of the test set 3: "));
    CHECK(contains(why, "ILSVRC2012_test_00000013.JPEG"));
    CHECK(contains(why, "extra.JPEG"));
    CHECK(contains(why, "ILSVRC2012_test_0000005.JPEG"));
    CHECK_FALSE(contains(why, "missing"));
    // Many gaps: the first few runs, then "...", and the counts.
    std::vector<std::string> sparse;
    for (size_t n = 1; n <= 1000; ++n)
        if (n % 100 != 0 && !(n >= 250 && n < 260)) sparse.push_back(test_name(n));
    const std::string gaps = refusal(make_pack(dir / "sparse.imgpack", sparse), 1000);
    CHECK(contains(gaps, "missing 20: ILSVRC2012_test_00000100.JPEG, ILSVRC2012_test_00000200.JPEG, "
                         "ILSVRC2012_test_00000250.JPEG to ILSVRC2012_test_00000259.JPEG (10), ILSVRC2012_test_00000300.JPEG, "
                         "ILSVRC2012_test_00000400.JPEG, ..."));
    // No test split at all.
    imgpack::PackWriter w(dir / "none.imgpack", false);
    w.finish({});
    CHECK(contains(refusal(dir / "none.imgpack", 12), "has no test split"));
}

TEST_CASE("submission: the CLI expects the real test set of 100,000 images, and writes only then") {
    test::TempDir dir;
    const auto names = test_names(1, imgpack::kIlsvrc2012TestImages);
    const auto pack = make_pack(dir / "p.imgpack", names);
    const auto pred = make_predictions(dir / "pred.txt", names);
    auto r = test::cli("submission " + test::quote(pack.string()) + " " + test::quote(pred.string()) + " -o " +
                       test::quote((dir / "sub.txt").string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "100000 lines"));
    const auto text = test::read_file(dir / "sub.txt");
    std::string want;
    for (size_t n = 1; n <= imgpack::kIlsvrc2012TestImages; ++n) want += expected_line(n) + "\n";
    CHECK(std::string(text.begin(), text.end()) == want);
    CHECK(test::temporaries(dir.path()).empty());

    // An existing output is replaced only with --force, and never when it is an input.
    r = test::cli("submission " + test::quote(pack.string()) + " " + test::quote(pred.string()) + " -o " +
                  test::quote((dir / "sub.txt").string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "already exists (use --force to replace it)"));
    r = test::cli("submission " + test::quote(pack.string()) + " " + test::quote(pred.string()) + " -f -o " +
                  test::quote(pred.string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "is the input given as PREDICTIONS"));
    CHECK(test::read_file(pred).size() > test::read_file(dir / "sub.txt").size());  // still the predictions

    // One image fewer (the last one): refused, nothing written.
    const auto gap = make_pack(dir / "gap.imgpack", test_names(1, imgpack::kIlsvrc2012TestImages - 1));
    r = test::cli("submission " + test::quote(gap.string()) + " " + test::quote(pred.string()) + " -o " +
                  test::quote((dir / "gap.txt").string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "missing 1: ILSVRC2012_test_00100000.JPEG"));
    CHECK(contains(r.err, "nothing was written"));
    CHECK_FALSE(fs::exists(dir / "gap.txt"));
    CHECK(test::temporaries(dir.path()).empty());
}
