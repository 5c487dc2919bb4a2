// The lists users give (--classes, --class-names, --val-labels, --subset NAME=FILE) are read and
// checked before the first byte of an image archive: a typo in a two-line file must not cost a
// pass over 140 GB. The archives here are files that are not archives at all, so any reading of
// them would surface as a different error; the log, which announces each source as its reading
// starts, must not mention them. Also: the one line reader's rules, the same for every list, and
// lists read once from a pipe.
#include <doctest/doctest.h>

#include "synth_fixture.hpp"

#include <imgpack/reader.hpp>

#include "label_sources.hpp"

#include <functional>

namespace {

using test::fs::path;

struct Attempt {
    std::string error;
    std::vector<std::string> log;
    bool read(const std::string& what) const {
        for (const std::string& line : log)
            if (line.starts_with("reading " + what)) return true;
        return false;
    }
};

Attempt attempt(imgpack::ConvertOptions o) {
    Attempt a;
    o.log = [&a](const std::string& line) { a.log.push_back(line); };
    a.error = test::convert_error(o);
    return a;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The first line of every list below is right; the mistake is further down, as typos are.
struct Lists {
    test::TempDir dir;
    const test::SynthImageNet& d = test::synth_imagenet();
    path not_an_archive = dir / "ILSVRC2012_img_train.tar";  // any read of it fails, naming it
    path output = dir / "out.imgpack";

    Lists() { test::write_text(not_an_archive, std::string(4096, 'x')); }

    path write(const std::string& name, const std::string& text) {
        test::write_text(dir / name, text);
        return dir / name;
    }
    std::string first_val_labels(size_t n) const {
        std::string text;
        auto labels = imgpack::read_lines(d.s.val_labels);
        for (size_t i = 0; i < n && i < labels.size(); ++i) text += labels[i] + "\n";
        return text;
    }
    // Every source is the non-archive.
    imgpack::ConvertOptions options() const {
        imgpack::ConvertOptions o;
        o.train = o.val = o.test = not_an_archive;
        o.output = output;
        return o;
    }
};

}  // namespace

TEST_CASE("inputs: a mistake in any list fails before the first archive byte is read, naming the file and line") {
    Lists t;
    const std::string wnid = t.d.s.wnids[0];
    struct Case {
        std::string what;
        std::function<void(imgpack::ConvertOptions&)> set;
        std::vector<std::string> expect;
    };
    const std::vector<Case> cases = {
        {"--classes: a typo", [&](auto& o) { o.classes = t.write("c1.txt", wnid + "\nn0144O764\n"); },
         {"c1.txt line 2", "'n0144O764' is not a WNID"}},
        {"--classes: a blank line between classes",
         [&](auto& o) { o.classes = t.write("c2.txt", wnid + "\n\n" + t.d.s.wnids[1] + "\n"); }, {"c2.txt line 2 is blank"}},
        {"--classes: a class twice", [&](auto& o) { o.classes = t.write("c3.txt", wnid + "\r\n" + wnid + "\r\n"); },
         {"c3.txt line 2", "listed twice"}},
        {"--classes: a file that is not there", [&](auto& o) { o.classes = t.dir / "absent.txt"; },
         {"absent.txt", "No such file"}},
        {"--class-names: a line without a name",
         [&](auto& o) { o.class_names = t.write("names.txt", wnid + " tench\n" + t.d.s.wnids[1] + "\n"); },
         {"names.txt line 2", "no name after"}},
        {"--val-labels: a typo", [&](auto& o) { o.val_labels = t.write("v1.txt", t.first_val_labels(5) + "n0l440764\n"); },
         {"v1.txt line 6", "'n0l440764' is not a WNID"}},
        {"--val-labels: a kind it cannot be", [&](auto& o) { o.val_labels = t.write("v2.txt", "hello\n"); },
         {"cannot tell what kind of validation labels", "v2.txt"}},
        {"--val-labels: a class outside --classes",
         [&](auto& o) {
             o.classes = t.write("c4.txt", wnid + "\n");
             o.val_labels = t.write("v3.txt", wnid + "\n" + wnid + "\nn99999999\n");
         },
         {"v3.txt line 3: class n99999999 is not in the class list", "c4.txt"}},
        {"--subset: a list with a CR inside a line",
         [&](auto& o) { o.subsets = {{"mine", t.write("s1.txt", wnid + "_1.JPEG\n" + wnid + "_2.JPEG\r" + wnid + "_3.JPEG\n")}}; },
         {"s1.txt line 2", "carriage return"}},
        {"--subset: a list with a gap", [&](auto& o) { o.subsets = {{"mine", t.write("s2.txt", "a\n \nb\n")}}; },
         {"s2.txt line 2 is blank"}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        imgpack::ConvertOptions o = t.options();
        c.set(o);
        Attempt a = attempt(o);
        REQUIRE_FALSE(a.error.empty());
        for (const std::string& part : c.expect) CHECK_MESSAGE(contains(a.error, part), "expected '", part, "' in: ", a.error);
        CHECK_MESSAGE(!contains(a.error, t.not_an_archive.filename().string()), a.error);
        CHECK_FALSE(a.read("train"));
        CHECK_FALSE(a.read("validation"));
        CHECK_FALSE(test::fs::exists(t.output));
    }
    // The same options with the lists right fail on the first archive: the cases above failed
    // on their lists only.
    imgpack::ConvertOptions o = t.options();
    o.classes = t.write("good.txt", wnid + "\n");
    Attempt a = attempt(o);
    CHECK(contains(a.error, t.not_an_archive.string()));
    CHECK(a.read("train"));
}

TEST_CASE("inputs: subset lists and validation labels are checked against train before validation and test are read") {
    Lists t;
    imgpack::ConvertOptions o = t.options();
    o.train = t.d.s.train_tar;
    o.val_labels = t.d.s.val_labels;
    std::vector<std::string> listed = imgpack::read_lines(t.d.s.subset_1pct);
    REQUIRE(listed.size() >= 1);

    // A listed file that train lacks.
    o.subsets = {{"1pct", t.d.s.subset_1pct}, {"mine", t.write("s.txt", listed[0] + "\nn00000000_1.JPEG\n")}};
    Attempt a = attempt(o);
    CHECK(contains(a.error, "subset 'mine'"));
    CHECK(contains(a.error, "n00000000_1.JPEG"));
    CHECK(a.read("train"));
    CHECK_FALSE(a.read("validation"));
    CHECK_FALSE(a.read("test"));

    // Validation labels naming a class that train does not have.
    o.subsets.clear();
    o.val_labels = t.write("v.txt", t.first_val_labels(3) + "n99999999\n");
    a = attempt(o);
    CHECK(contains(a.error, "v.txt line 4: class n99999999 is not in the class list (the classes of the train split)"));
    CHECK(a.read("train"));
    CHECK_FALSE(a.read("validation"));

    // Right: then validation is read (and fails, being no archive).
    o.val_labels = t.d.s.val_labels;
    o.subsets = {{"1pct", t.d.s.subset_1pct}};
    a = attempt(o);
    CHECK(contains(a.error, t.not_an_archive.string()));
    CHECK(a.read("validation"));
}

TEST_CASE("lists: one line reader, the same rules for every list") {
    auto lines = [](std::string_view text) {
        std::vector<std::string> out;
        for (std::string_view l : imgpack::list_lines(text, "x.txt")) out.emplace_back(l);
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(lines("a\nb\n") == V{"a", "b"});
    CHECK(lines("a\nb") == V{"a", "b"});
    CHECK(lines("\xEF\xBB\xBF" "a\r\nb\r\n") == V{"a", "b"});  // BOM and CRLF
    CHECK(lines("  a \t\n\tb\n\n\n") == V{"a", "b"});          // trimmed; blank lines may end the list
    CHECK(lines("") == V{});
    CHECK(lines("\xEF\xBB\xBF") == V{});
    auto error = [](std::string_view text) {
        try {
            imgpack::list_lines(text, "x.txt");
        } catch (const std::exception& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(contains(error("a\n\nb\n"), "x.txt line 2 is blank"));
    CHECK(contains(error("\na\n"), "x.txt line 1 is blank"));
    CHECK(contains(error("a\n \t\nb\n"), "x.txt line 2 is blank"));
    CHECK(contains(error("a\rb\rc\r"), "x.txt line 1 holds a carriage return"));
    CHECK(contains(error("\xEF\xBB\xBF\r\n\r\nx"), "x.txt line 1 is blank"));

    // A BOM in front of every kind of list: the first entry survives.
    test::TempDir dir;
    const std::string bom = "\xEF\xBB\xBF";
    test::write_text(dir / "classes.txt", bom + "n00000002\r\nn00000001\r\n");
    CHECK(imgpack::read_class_list(dir / "classes.txt") == V{"n00000002", "n00000001"});
    test::write_text(dir / "words.txt", bom + "n00000001 tench\n");
    CHECK(imgpack::read_class_names(dir / "words.txt").at("n00000001") == "tench");
    test::write_text(dir / "tfds.txt", bom + "n00000001\nn00000002\n");
    CHECK(imgpack::read_val_labels(dir / "tfds.txt").by_position == V{"n00000001", "n00000002"});
    test::write_text(dir / "kaggle.csv", bom + "ImageId,PredictionString\nILSVRC2012_val_00000001,n00000003 1 2 3 4\n");
    CHECK(imgpack::read_val_labels(dir / "kaggle.csv").by_stem.at("ILSVRC2012_val_00000001") == "n00000003");
    test::write_text(dir / "list.txt", bom + "n00000001_1.JPEG\n");
    CHECK(imgpack::read_lines(dir / "list.txt") == V{"n00000001_1.JPEG"});
}

TEST_CASE("lists: a subset list with a BOM keeps its first name, and --allow-missing names every name it drops") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    imgpack::Pack full = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& train = full.split("train");
    const std::string first(train[0].name), second(train[1].name);
    test::write_text(dir / "bom.txt", "\xEF\xBB\xBF" + first + "\r\n" + second + "\r\n");
    auto o = d.options(dir / "p.imgpack");
    o.subsets = {{"bom", dir / "bom.txt"}};
    imgpack::convert(o);  // without --allow-missing: a lost first name would be an error
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.subset("bom").size() == 2);
    CHECK(pack.subset("bom").index(0) == 0);
    CHECK(pack.subset("bom").index(1) == 1);

    test::write_text(dir / "some.txt", first + "\nn00000000_1.JPEG\nn00000000_2.JPEG\n" + second + "\n");
    o.subsets = {{"some", dir / "some.txt"}};
    o.allow_missing = true;
    o.output = dir / "q.imgpack";
    imgpack::ConvertSummary s = imgpack::convert(o);
    CHECK(s.left_out == std::vector<std::string>{"subset 'some': n00000000_1.JPEG", "subset 'some': n00000000_2.JPEG"});
    CHECK(imgpack::Pack::open(o.output.string()).subset("some").size() == 2);
}

TEST_CASE("lists: each is read once, so process substitution works for every list option") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    auto q = [](const path& p) { return test::quote(p.string()); };
    // The class list and names in an order of their own, so the pack shows they were read.
    std::string classes, names;
    for (auto it = d.s.wnids.rbegin(); it != d.s.wnids.rend(); ++it) {
        classes += *it + "\n";
        names += *it + " class " + *it + "\n";
    }
    test::write_text(dir / "classes.txt", classes);
    test::write_text(dir / "names.txt", names);
    const path out = dir / "p.imgpack";
    std::string cmd = std::string(IMGPACK_CLI) + " convert -q --train " + q(d.s.train_tar) + " --val " + q(d.s.val_tar) +
                      " --val-labels <(cat " + q(d.s.val_labels) + ") --classes <(cat " + q(dir / "classes.txt") +
                      ") --class-names <(cat " + q(dir / "names.txt") + ") --subset 1pct=<(cat " + q(d.s.subset_1pct) +
                      ") -o " + q(out);
    test::RunResult r = test::run("/bin/bash -c " + test::quote(cmd));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    imgpack::Pack pack = imgpack::Pack::open(out.string());
    REQUIRE(pack.class_count() == d.s.wnids.size());
    CHECK(pack.classes()[0].wnid == d.s.wnids.back());
    CHECK(pack.classes()[0].name == "class " + d.s.wnids.back());
    CHECK(pack.subset("1pct").size() == imgpack::read_lines(d.s.subset_1pct).size());
    auto labels = imgpack::read_lines(d.s.val_labels);
    const imgpack::Split& val = pack.split("validation");
    REQUIRE(val.size() == labels.size());
    for (size_t i = 0; i < val.size(); ++i) CHECK(val[i].wnid == labels[i]);
}
