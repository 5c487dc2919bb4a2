// ImageNet fidelity: every form of the inputs users hold gives the same pack contents, classes
// can be fixed, subsets follow lists or the balanced rule, the test patch applies, and the
// submission file follows the test server's format. Plus the real ILSVRC2012 lists at scale.
#include <doctest/doctest.h>

#include "archives.hpp"
#include "shared_data.hpp"
#include "synth_fixture.hpp"

#include <imgpack/reader.hpp>
#include "submission.hpp"

#include <cmath>
#include <map>
#include <sstream>

namespace fmt = imgpack::format;
using test::fs::path;

namespace {

using test::Files;
using test::tar_bytes;
using test::tiny_jpeg;

std::vector<unsigned char> bytes_of(std::span<const unsigned char> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("fidelity: an extracted train/<WNID>/ tree packs the same records as the tar of tars") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    imgpack::ConvertOptions o;
    o.train = d.train_dir;
    o.output = dir / "tree.imgpack";
    o.on_bad_image = imgpack::ConvertOptions::OnBadImage::skip;  // the tree holds a PNG; nothing else is bad
    imgpack::ConvertSummary s = imgpack::convert(o);
    CHECK(s.skipped.empty());
    imgpack::Pack tree = imgpack::Pack::open(o.output.string());
    imgpack::Pack tar = imgpack::Pack::open(d.pack.string());
    const imgpack::Split &a = tree.split("train"), &b = tar.split("train");
    REQUIRE(a.size() == b.size());
    REQUIRE(tree.class_count() == tar.class_count());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].name == b[i].name);
        CHECK(a[i].label == b[i].label);
        CHECK(a[i].xxh3 == b[i].xxh3);
        CHECK(bytes_of(a[i].data) == bytes_of(b[i].data));
    }
}

TEST_CASE("fidelity: a val/<WNID>/ tree carries its own labels, equal to the labels file") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    auto labels = imgpack::read_lines(d.s.val_labels);
    auto names = test::SynthImageNet::sorted_names(d.val_dir);
    for (size_t i = 0; i < names.size(); ++i) {
        test::fs::create_directories(dir / "val" / labels[i]);
        test::fs::copy_file(d.val_dir / names[i], dir / "val" / labels[i] / names[i]);
    }
    imgpack::ConvertOptions o;
    o.train = d.s.train_tar;
    o.val = dir / "val";
    o.output = dir / "p.imgpack";
    imgpack::convert(o);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    const imgpack::Split& val = pack.split("validation");
    REQUIRE(val.size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        CHECK(val[i].name == names[i]);
        CHECK(val[i].wnid == labels[i]);
    }
    o.val_labels = d.s.val_labels;  // two sources of labels: refused rather than guessed
    o.overwrite = true;
    CHECK(test::convert_error(o).find("drop --val-labels") != std::string::npos);
}

TEST_CASE("fidelity: --classes fixes the class list and its order") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    // All the train classes, two more, in an order that is not sorted.
    std::vector<std::string> list = {"n99999998"};
    for (auto it = d.s.wnids.rbegin(); it != d.s.wnids.rend(); ++it) list.push_back(*it);
    list.push_back("n00000001");
    std::string text;
    for (const auto& w : list) text += w + "\n";
    test::write_text(dir / "classes.txt", text);
    auto o = d.options(dir / "p.imgpack");
    o.classes = dir / "classes.txt";
    imgpack::convert(o);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.class_count() == list.size());
    for (size_t i = 0; i < list.size(); ++i) CHECK(pack.classes()[i].wnid == list[i]);
    for (imgpack::Record r : pack.split("train")) CHECK(list[size_t(r.label)] == r.wnid);
    auto val_labels = imgpack::read_lines(d.s.val_labels);
    const imgpack::Split& val = pack.split("validation");
    for (size_t i = 0; i < val.size(); ++i) CHECK(val[i].wnid == val_labels[i]);

    // A train class outside the list is an error naming it. (Validation labels outside it fail
    // before any image is read: test_inputs.cpp.)
    test::write_text(dir / "short.txt", d.s.wnids[0] + "\n");
    o.classes = dir / "short.txt";
    o.val_labels.clear();
    o.output = dir / "q.imgpack";
    std::string err = test::convert_error(o);
    CHECK(err.find("not in the class list") != std::string::npos);
    CHECK(err.find(d.s.wnids[1]) != std::string::npos);
    CHECK_FALSE(test::fs::exists(o.output));
    test::write_text(dir / "bad.txt", d.s.wnids[0] + "\nnot-a-wnid\n");
    o.classes = dir / "bad.txt";
    CHECK(test::convert_error(o).find("line 2") != std::string::npos);
}

TEST_CASE("fidelity: the test patch replaces same-named test images, wherever it keeps them") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    auto names = test::SynthImageNet::sorted_names(d.test_dir);
    REQUIRE(names.size() >= 3);
    auto replacement = tiny_jpeg(7), other = tiny_jpeg(99);
    // The patch keeps its images in a test/ folder; the first and third are replaced.
    test::write_file(dir / "patch.tar", tar_bytes({{"test/" + names[2], replacement}, {"test/" + names[0], other}}));
    imgpack::ConvertOptions o;
    o.test = d.s.test_tar;
    o.test_patch = dir / "patch.tar";
    o.output = dir / "p.imgpack";
    imgpack::ConvertSummary s = imgpack::convert(o);
    CHECK(s.patched == 2);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    const imgpack::Split& t = pack.split("test");
    REQUIRE(t.size() == names.size());
    CHECK(bytes_of(t[0].data) == other);
    CHECK(bytes_of(t[1].data) == test::read_file(d.test_dir / names[1]));
    CHECK(bytes_of(t[2].data) == replacement);
    for (imgpack::Record r : t) CHECK_FALSE(r.labeled());
}

TEST_CASE("fidelity: subset lists, --allow-missing, and label-balanced fractions") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    imgpack::Pack full = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& train = full.split("train");
    test::write_text(dir / "list.txt", std::string(train[3].name) + "\nn00000000_1.JPEG\n" + std::string(train[1].name) + "\n");
    auto o = d.options(dir / "p.imgpack");
    o.subsets = {{"mine", dir / "list.txt"}};
    CHECK(test::convert_error(o).find("--allow-missing") != std::string::npos);
    o.allow_missing = true;
    imgpack::ConvertSummary s = imgpack::convert(o);
    REQUIRE(s.notes.size() >= 1);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    const imgpack::Subset& mine = pack.subset("mine");
    REQUIRE(mine.size() == 2);
    CHECK(mine.index(0) == 1);
    CHECK(mine.index(1) == 3);

    // Balanced: round(f x N) records, every class the same count or one more, fixed by the seed.
    const double fraction = 0.3;
    auto balanced = [&](uint64_t seed, const std::string& out) {
        auto b = d.options(dir / out);
        b.subsets = {{"b", {}, fraction}};
        b.seed = seed;
        imgpack::convert(b);
        imgpack::Pack p = imgpack::Pack::open(b.output.string());
        std::vector<uint32_t> idx;
        for (size_t i = 0; i < p.subset("b").size(); ++i) idx.push_back(p.subset("b").index(i));
        return std::pair{idx, std::string(p.subset("b").origin())};
    };
    auto [first, origin] = balanced(7, "b1.imgpack");
    auto [again, origin2] = balanced(7, "b2.imgpack");
    auto [other, origin3] = balanced(8, "b3.imgpack");
    CHECK(first == again);
    CHECK(first != other);
    CHECK(origin == "balanced:fraction=0.29999999999999999,seed=7");
    const size_t total = size_t(std::llround(fraction * double(train.size())));
    CHECK(first.size() == total);
    std::map<int32_t, size_t> per_class;
    for (uint32_t i : first) ++per_class[train[i].label];
    CHECK(per_class.size() == full.class_count());
    const size_t base = total / full.class_count();
    size_t extra = 0;
    for (const auto& [label, n] : per_class) {
        CHECK((n == base || n == base + 1));
        extra += n - base;
    }
    CHECK(extra == total % full.class_count());

    auto too_big = d.options(dir / "x.imgpack");
    too_big.subsets = {{"all", {}, 1.0}, {"bad", {}, 1.5}};
    CHECK(test::convert_error(too_big).find("fraction must be in (0, 1]") != std::string::npos);
}

TEST_CASE("fidelity: the test-server submission file: test-file order, five 1-indexed labels") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& t = pack.split("test");
    const size_t classes = pack.class_count();
    REQUIRE(classes >= 5);
    // Predictions in reverse order, as labels and as WNIDs.
    std::string text;
    for (size_t i = t.size(); i-- > 0;) {
        text += std::string(t[i].name);
        for (size_t k = 0; k < 5; ++k) {
            size_t label = (i + k) % classes;
            text += " " + (k % 2 ? std::string(pack.classes()[label].wnid) : std::to_string(label));
        }
        text += "\n";
    }
    test::write_text(dir / "pred.txt", text);
    // The synthetic test set is complete: ILSVRC2012_test_00000001 to _<its size>.
    std::string out = imgpack::make_submission(pack, dir / "pred.txt", t.size());
    std::istringstream lines(out);
    std::string line;
    for (size_t i = 0; i < t.size(); ++i) {
        REQUIRE(std::getline(lines, line));
        std::string want;
        for (size_t k = 0; k < 5; ++k) want += (k ? " " : "") + std::to_string((i + k) % classes + 1);
        CHECK(line == want);
    }
    CHECK_FALSE(std::getline(lines, line));

    // The CLI expects the real test set (100,000 images): this one is refused, and nothing is
    // written (tests/test_submission.cpp writes one of the real size).
    auto r = test::cli("submission " + test::quote(d.pack.string()) + " " + test::quote((dir / "pred.txt").string()) + " -o " +
                       test::quote((dir / "sub.txt").string()));
    CHECK(r.status == 1);
    CHECK(r.err.find("missing 99993: ILSVRC2012_test_00000008.JPEG to ILSVRC2012_test_00100000.JPEG (99993)") !=
          std::string::npos);
    CHECK_FALSE(test::fs::exists(dir / "sub.txt"));
    auto fails = [&](const std::string& preds, const std::string& message) {
        test::write_text(dir / "bad.txt", preds);
        std::string err;
        try {
            imgpack::make_submission(pack, dir / "bad.txt", t.size());
        } catch (const std::exception& e) {
            err = e.what();
        }
        CHECK_MESSAGE(err.find(message) != std::string::npos, "expected '", message, "' in '", err, "'");
    };
    std::string all_but_last = text.substr(0, text.rfind('\n', text.size() - 2) + 1);
    fails(all_but_last, "no prediction for 1 of the");
    fails(text + std::string(t[0].name) + " 0 1 2 3 4\n", "already predicted");
    fails("ILSVRC2012_test_99999999.JPEG 0 1 2 3 4\n", "is not in the test split");
    fails(std::string(t[0].name) + " 0 1 2 3\n", "4 labels");
    fails(std::string(t[0].name) + " 0 1 2 3 3\n", "appears twice");
    fails(std::string(t[0].name) + " 0 1 2 3 n12345678\n", "not a class");
    fails(std::string(t[0].name) + " 0 1 2 3 " + std::to_string(classes) + "\n", "neither a WNID nor a label");
}

TEST_CASE("fidelity: the real lists: 10percent names, 50,000 validation labels, 1000 fixed classes") {
    const path shared = test::shared_imagenet();
    if (!test::fs::exists(shared / "10percent.txt"))
        IMGPACK_SKIP(shared.string(), " is absent (the real ImageNet metadata lists live there)");
    test::TempDir dir;
    // A train set whose file names are exactly the 128,116 names of 10percent.txt, in per-class
    // tars, with one tiny JPEG each; a validation tar of 50,000 images named as ILSVRC2012 does.
    auto ten = imgpack::read_lines(shared / "10percent.txt");
    std::map<std::string, Files> by_class;
    const auto jpeg = tiny_jpeg(0);
    for (const auto& n : ten) by_class[n.substr(0, 9)].emplace_back(n, jpeg);
    Files inner;
    for (auto& [wnid, files] : by_class) inner.emplace_back(wnid + ".tar", tar_bytes(files));
    test::write_file(dir / "train.tar", tar_bytes(inner));
    inner.clear();
    Files val;
    char name[64];
    for (int i = 1; i <= 50000; ++i) {
        std::snprintf(name, sizeof name, "ILSVRC2012_val_%08d.JPEG", i);
        val.emplace_back(name, jpeg);
    }
    std::swap(val[0], val[49999]);  // archive order is not name order
    test::write_file(dir / "val.tar", tar_bytes(val));
    val.clear();

    imgpack::ConvertOptions o;
    o.train = dir / "train.tar";
    o.val = dir / "val.tar";
    o.val_labels = shared / "imagenet2012_validation_labels.txt";
    o.classes = shared / "imagenet2012_labels.txt";
    o.subsets = {{"1pct", shared / "1percent.txt"}, {"10pct", shared / "10percent.txt"}};
    o.output = dir / "p.imgpack";
    imgpack::convert(o);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());

    auto labels = imgpack::read_lines(shared / "imagenet2012_labels.txt");
    REQUIRE(pack.class_count() == 1000);
    for (size_t i = 0; i < 1000; ++i) CHECK(pack.classes()[i].wnid == labels[i]);

    auto val_labels = imgpack::read_lines(shared / "imagenet2012_validation_labels.txt");
    const imgpack::Split& v = pack.split("validation");
    REQUIRE(v.size() == 50000);
    size_t wrong = 0;
    for (size_t i = 0; i < v.size(); ++i) {
        std::snprintf(name, sizeof name, "ILSVRC2012_val_%08zu.JPEG", i + 1);
        wrong += v[i].name != name || v[i].wnid != val_labels[i];
    }
    CHECK(wrong == 0);

    auto one = imgpack::read_lines(shared / "1percent.txt");
    for (const auto& [subset, list] : {std::pair{"1pct", one}, std::pair{"10pct", ten}}) {
        const imgpack::Subset& sub = pack.subset(subset);
        CHECK(sub.size() == list.size());
        std::map<std::string, size_t> want, got;
        for (const auto& n : list) ++want[n.substr(0, 9)];
        for (imgpack::Record r : sub) ++got[std::string(r.wnid)];
        CHECK(got == want);
    }
    CHECK(pack.subset("1pct").size() == 12811);
    CHECK(pack.subset("10pct").size() == 128116);

    // The same validation labels from the devkit folder (ground truth + meta.mat), with the
    // class table's names from synset_words.txt.
    imgpack::ConvertOptions dk;
    dk.val = dir / "val.tar";
    dk.val_labels = shared / "ILSVRC2012_devkit_t12";
    dk.class_names = shared / "synset_words.txt";
    dk.classes = shared / "imagenet2012_labels.txt";
    dk.output = dir / "devkit.imgpack";
    imgpack::ConvertSummary s = imgpack::convert(dk);
    bool said_devkit = false;
    for (const auto& n : s.notes) said_devkit |= n.find("devkit") != std::string::npos;
    CHECK(said_devkit);
    imgpack::Pack with_devkit = imgpack::Pack::open(dk.output.string());
    const imgpack::Split& v2 = with_devkit.split("validation");
    REQUIRE(v2.size() == 50000);
    wrong = 0;
    for (size_t i = 0; i < v2.size(); ++i) wrong += v2[i].wnid != val_labels[i];
    CHECK(wrong == 0);
    CHECK(with_devkit.classes()[0].wnid == "n01440764");
    CHECK(with_devkit.classes()[0].name == "tench, Tinca tinca");
}
