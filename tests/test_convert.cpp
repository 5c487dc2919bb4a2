// End to end: a synthetic ImageNet is converted, and every record of every split is checked
// against an independent extraction of the source archives.
#include <doctest/doctest.h>

#include "synth_fixture.hpp"

#include <imgpack/reader.hpp>
#include <imgpack/splitmix64.hpp>

#include <turbojpeg.h>

namespace fmt = imgpack::format;
using test::fs::path;

namespace {

std::vector<unsigned char> span_bytes(std::span<const unsigned char> s) { return {s.begin(), s.end()}; }

// Width and height as TurboJPEG reports them, or from the PNG header.
std::pair<int, int> image_size(const std::vector<unsigned char>& b) {
    if (b.size() > 24 && b[0] == 0x89 && b[1] == 'P')
        return {b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19], b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23]};
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, ss = 0, cs = 0;
    int rc = tjDecompressHeader3(tj, b.data(), b.size(), &w, &h, &ss, &cs);
    tjDestroy(tj);
    REQUIRE(rc == 0);
    return {w, h};
}

}  // namespace

TEST_CASE("convert: train records are the archive's bytes, labelled by sorted WNID") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());

    // Classes: the sorted WNIDs of the per-class tars, whatever their order in the archive.
    std::vector<std::string> wnids;
    for (const auto& [w, files] : d.train_files) wnids.push_back(w);
    REQUIRE(pack.class_count() == wnids.size());
    for (size_t i = 0; i < wnids.size(); ++i) CHECK(pack.classes()[i].wnid == wnids[i]);
    CHECK(wnids == d.s.wnids);

    const imgpack::Split& train = pack.split("train");
    size_t expected = 0;
    for (const auto& [w, files] : d.train_files) expected += files.size();
    REQUIRE(train.size() == expected);
    size_t seen = 0;
    for (imgpack::Record r : train) {
        std::string wnid(r.wnid);
        REQUIRE(d.train_files.count(wnid) == 1);
        CHECK_MESSAGE(d.train_files.at(wnid).count(std::string(r.name)) == 1, r.name, " is not in ", wnid, ".tar");
        auto file = test::read_file(d.train_dir / wnid / std::string(r.name));
        const bool quirk = r.name == d.s.png_name || r.name == d.s.cmyk_name;
        // The quirks are re-encoded as RGB JPEGs and flagged; every other record is the file's bytes.
        CHECK(r.repaired() == quirk);
        if (!quirk) CHECK(span_bytes(r.data) == file);
        else CHECK(span_bytes(r.data) != file);
        CHECK(r.label == std::lower_bound(wnids.begin(), wnids.end(), wnid) - wnids.begin());
        auto [w, h] = image_size(file);
        CHECK(r.width == w);
        CHECK(r.height == h);
        CHECK(image_size(span_bytes(r.data)) == std::pair{w, h});
        CHECK(r.verify());
        CHECK(r.codec == fmt::Codec::jpeg);
        CHECK(r.color_space != fmt::ColorSpace::cmyk);
        CHECK(r.color_space != fmt::ColorSpace::ycck);
        ++seen;
    }
    CHECK(seen == expected);
}

TEST_CASE("convert: validation labels follow the labels file in sorted file-name order, and test is unlabeled") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    std::vector<std::string> labels = imgpack::read_lines(d.s.val_labels);
    std::vector<std::string> names = test::SynthImageNet::sorted_names(d.val_dir);
    const imgpack::Split& val = pack.split("validation");
    REQUIRE(val.size() == names.size());
    REQUIRE(labels.size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        imgpack::Record r = val[i];
        CHECK(r.name == names[i]);
        CHECK(r.wnid == labels[i]);
        CHECK(span_bytes(r.data) == test::read_file(d.val_dir / names[i]));
    }
    std::vector<std::string> test_names = test::SynthImageNet::sorted_names(d.test_dir);
    const imgpack::Split& tst = pack.split("test");
    REQUIRE(tst.size() == test_names.size());
    for (size_t i = 0; i < test_names.size(); ++i) {
        CHECK(tst[i].name == test_names[i]);
        CHECK(tst[i].label == fmt::kUnlabeled);
        CHECK(span_bytes(tst[i].data) == test::read_file(d.test_dir / test_names[i]));
    }
}

TEST_CASE("convert: subset views hold exactly the listed names") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    for (const auto& [name, list] : {std::pair{"1pct", d.s.subset_1pct}, std::pair{"10pct", d.s.subset_10pct}}) {
        auto listed = imgpack::read_lines(list);
        std::set<std::string> want(listed.begin(), listed.end()), got;
        const imgpack::Subset& sub = pack.subset(name);
        CHECK(sub.split().name() == "train");
        CHECK(sub.origin() == "list:" + list.filename().string());
        for (imgpack::Record r : sub) got.emplace(r.name);
        CHECK(got == want);
        CHECK(sub.size() == want.size());
    }
}

TEST_CASE("convert: the output does not depend on the number of threads") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    auto one = d.options(dir / "one.imgpack"), three = d.options(dir / "three.imgpack");
    one.jobs = 1;
    three.jobs = 3;
    imgpack::convert(one);
    imgpack::convert(three);
    CHECK(test::read_file(dir / "one.imgpack") == test::read_file(dir / "three.imgpack"));
    CHECK(test::read_file(dir / "one.imgpack") == test::read_file(d.pack));
}

TEST_CASE("convert: ImageNet's quirks are repaired and listed, and --no-repair keeps their bytes") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    imgpack::ConvertSummary s = imgpack::convert(d.options(dir / "p.imgpack"));
    REQUIRE(s.repaired.size() == 2);
    CHECK(s.needs_repair.empty());
    std::string all = s.repaired[0] + " " + s.repaired[1];
    CHECK(all.find(d.s.png_name) != std::string::npos);
    CHECK(all.find(d.s.cmyk_name) != std::string::npos);
    CHECK(all.find("-> RGB JPEG") != std::string::npos);

    auto keep = d.options(dir / "as-is.imgpack");
    keep.repair = false;
    imgpack::ConvertSummary k = imgpack::convert(keep);
    CHECK(k.repaired.empty());
    REQUIRE(k.needs_repair.size() == 2);
    imgpack::Pack as_is = imgpack::Pack::open(keep.output.string());
    for (const std::string& name : {d.s.png_name, d.s.cmyk_name}) {
        imgpack::Record r = as_is.split("train")[*as_is.split("train").find(name)];
        CHECK_FALSE(r.repaired());
        CHECK(span_bytes(r.data) == test::read_file(d.train_dir / std::string(r.wnid) / name));
    }
    CHECK((as_is.split("train")[*as_is.split("train").find(d.s.png_name)].codec == fmt::Codec::png));
    REQUIRE(s.splits.size() == 3);
    CHECK(s.splits[0].records == d.s.train_images);
    CHECK(s.splits[1].records == d.s.val_images);
    CHECK(s.classes == d.s.wnids.size());
}

TEST_CASE("convert: validation alone takes its classes from the labels file, and gzip'd tars are read") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    REQUIRE(test::run("gzip -c " + test::quote(d.s.val_tar.string()) + " > " + test::quote((dir / "val.tar.gz").string()))
                .status == 0);
    imgpack::ConvertOptions o;
    o.val = dir / "val.tar.gz";
    o.val_labels = d.s.val_labels;
    o.output = dir / "val.imgpack";
    imgpack::convert(o);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    auto labels = imgpack::read_lines(d.s.val_labels);
    std::set<std::string> used(labels.begin(), labels.end());
    CHECK(pack.class_count() == used.size());
    CHECK(pack.splits().size() == 1);
    const imgpack::Split& val = pack.split("validation");
    for (size_t i = 0; i < val.size(); ++i) CHECK(val[i].wnid == labels[i]);
}

TEST_CASE("convert: bad input is refused with the file and entry named, and nothing is written") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    auto out = dir / "out.imgpack";
    auto o = d.options(out);
    auto expect_failure = [&](const imgpack::ConvertOptions& opts, const std::vector<std::string>& parts) {
        std::string err = test::convert_error(opts);
        CHECK_FALSE(err.empty());
        for (const std::string& p : parts)
            CHECK_MESSAGE(err.find(p) != std::string::npos, "expected '", p, "' in: ", err);
        CHECK_FALSE(test::fs::exists(opts.output));
        for (const auto& e : test::fs::directory_iterator(opts.output.parent_path()))
            CHECK_MESSAGE(!test::is_temporary(e.path()), "left behind: ", e.path());
    };
    // Flat tars made with GNU tar from files in a scratch folder.
    auto make_tar = [&](const std::string& name, const std::vector<std::pair<std::string, std::string>>& files,
                        bool append_duplicate = false) {
        path src = dir / (name + ".d");
        test::fs::create_directories(src);
        std::string list;
        for (const auto& [f, content] : files) {
            if (content == "@jpeg") test::fs::copy_file(d.val_dir / "ILSVRC2012_val_00000001.JPEG", src / f);
            else test::write_text(src / f, content);
            list.append(" ").append(test::quote(f));
        }
        path tar = dir / name;
        REQUIRE(test::run("tar -cf " + test::quote(tar.string()) + " -C " + test::quote(src.string()) + list).status == 0);
        if (append_duplicate)
            REQUIRE(test::run("tar -rf " + test::quote(tar.string()) + " -C " + test::quote(src.string()) + " " +
                              test::quote(files[0].first))
                        .status == 0);
        return tar;
    };

    SUBCASE("validation labels: too few lines, unknown WNID") {
        auto labels = imgpack::read_lines(d.s.val_labels);
        std::string text;
        for (size_t i = 0; i + 1 < labels.size(); ++i) text += labels[i] + "\n";
        test::write_text(dir / "short.txt", text);
        auto bad = o;
        bad.val_labels = dir / "short.txt";
        expect_failure(bad, {"short.txt", std::to_string(labels.size() - 1) + " validation labels", std::to_string(labels.size()) + " files"});
        test::write_text(dir / "long.txt", text + labels.back() + "\n" + labels.back() + "\n");
        bad.val_labels = dir / "long.txt";
        expect_failure(bad, {"long.txt", std::to_string(labels.size() + 1) + " validation labels"});
        text += "n99999999\n";
        test::write_text(dir / "unknown.txt", text);
        bad.val_labels = dir / "unknown.txt";
        expect_failure(bad, {"unknown.txt", "line " + std::to_string(labels.size()), "n99999999"});
    }
    SUBCASE("a subset list naming a file that is not in train") {
        test::write_text(dir / "list.txt", "n00000000_1.JPEG\n");
        auto bad = o;
        bad.subsets = {{"mine", dir / "list.txt"}};
        expect_failure(bad, {"subset 'mine'", "list.txt", "n00000000_1.JPEG"});
    }
    SUBCASE("a member that is not an image, or empty") {
        auto bad = o;
        bad.val_labels.clear();
        bad.val = make_tar("notes.tar", {{"ILSVRC2012_val_00000001.JPEG", "@jpeg"}, {"ILSVRC2012_val_00000002.JPEG", "this is text"}});
        expect_failure(bad, {"notes.tar", "ILSVRC2012_val_00000002.JPEG", "not a JPEG or PNG"});
        bad.val = make_tar("empty.tar", {{"ILSVRC2012_val_00000001.JPEG", "@jpeg"}, {"ILSVRC2012_val_00000003.JPEG", ""}});
        expect_failure(bad, {"empty.tar", "ILSVRC2012_val_00000003.JPEG", "empty file"});
        bad.val = make_tar("broken.tar", {{"ILSVRC2012_val_00000004.JPEG", "\xFF\xD8\xFF\xE0garbage"}});
        expect_failure(bad, {"broken.tar", "ILSVRC2012_val_00000004.JPEG"});  // TurboJPEG reads 0x0 here; rejected either way
    }
    SUBCASE("the same file name twice in a split") {
        auto bad = o;
        bad.val_labels.clear();
        bad.val = make_tar("dup.tar", {{"ILSVRC2012_val_00000001.JPEG", "@jpeg"}}, true);
        expect_failure(bad, {"dup.tar", "ILSVRC2012_val_00000001.JPEG", "appears twice"});
    }
    SUBCASE("names that break the split's naming rule") {
        auto bad = o;
        bad.val_labels.clear();
        bad.val = make_tar("names.tar", {{"photo.JPEG", "@jpeg"}});
        expect_failure(bad, {"names.tar", "photo.JPEG", "ILSVRC2012_val_<8 digits>.JPEG"});
        bad.val = make_tar("case.tar", {{"ILSVRC2012_val_00000001.jpeg", "@jpeg"}});
        expect_failure(bad, {"case.tar", "ILSVRC2012_val_00000001.jpeg"});
        bad.val = d.s.val_tar;
        bad.test = d.s.val_tar;  // validation images given as the test split
        expect_failure(bad, {"ILSVRC2012_test_<8 digits>.JPEG"});
    }
    SUBCASE("links, directories and paths with directories are not images") {
        path src = dir / "tree";
        test::fs::create_directories(src / "sub");
        test::fs::copy_file(d.val_dir / "ILSVRC2012_val_00000001.JPEG", src / "sub" / "ILSVRC2012_val_00000001.JPEG");
        test::fs::create_symlink("/etc/passwd", src / "ILSVRC2012_val_00000002.JPEG");
        auto bad = o;
        bad.val_labels.clear();
        bad.val = dir / "link.tar";
        REQUIRE(test::run("tar -cf " + test::quote(bad.val.string()) + " -C " + test::quote(src.string()) +
                          " ILSVRC2012_val_00000002.JPEG").status == 0);
        expect_failure(bad, {"link.tar", "ILSVRC2012_val_00000002.JPEG", "symbolic link"});
        bad.val = dir / "dir.tar";
        REQUIRE(test::run("tar -cf " + test::quote(bad.val.string()) + " -C " + test::quote(src.string()) + " sub").status == 0);
        expect_failure(bad, {"dir.tar", "sub", "directory"});
        bad.val = dir / "nested.tar";
        REQUIRE(test::run("tar -cf " + test::quote(bad.val.string()) + " -C " + test::quote(src.string()) +
                          " sub/ILSVRC2012_val_00000001.JPEG").status == 0);
        expect_failure(bad, {"nested.tar", "sub/ILSVRC2012_val_00000001.JPEG", "directory part"});
        bad.val = dir / "dotdot.tar";  // GNU tar keeps "../" only when asked to
        REQUIRE(test::run("cd " + test::quote((src / "sub").string()) + " && tar -cf " + test::quote(bad.val.string()) +
                          " --absolute-names ../sub/ILSVRC2012_val_00000001.JPEG").status == 0);
        expect_failure(bad, {"dotdot.tar", "../sub/ILSVRC2012_val_00000001.JPEG", "directory part"});
        bad.val = dir / "absolute.tar";
        REQUIRE(test::run("tar -cf " + test::quote(bad.val.string()) + " --absolute-names " +
                          test::quote((src / "sub" / "ILSVRC2012_val_00000001.JPEG").string())).status == 0);
        expect_failure(bad, {"absolute.tar", (src / "sub" / "ILSVRC2012_val_00000001.JPEG").string(), "directory part"});
    }
    SUBCASE("a train archive that is not a tar of tars, is truncated, or holds a corrupt class tar") {
        auto bad = o;
        bad.subsets.clear();
        bad.train = make_tar("flat.tar", {{"ILSVRC2012_val_00000001.JPEG", "@jpeg"}});
        expect_failure(bad, {"flat.tar", "ILSVRC2012_val_00000001.JPEG", "<WNID>.tar"});
        auto bytes = test::read_file(d.s.train_tar);
        bytes.resize(bytes.size() / 2 + 100);
        test::write_file(dir / "cut.tar", bytes);
        bad.train = dir / "cut.tar";
        expect_failure(bad, {"cut.tar"});
        bad.train = dir / "missing.tar";
        expect_failure(bad, {"missing.tar", "no such file"});
        // A class tar whose second member header is damaged (its checksum field overwritten).
        path inner_dir = dir / "inner";
        test::fs::create_directories(inner_dir);
        const std::string wnid = d.s.wnids[0];
        auto files = std::vector<std::string>(d.train_files.at(wnid).begin(), d.train_files.at(wnid).end());
        for (const auto& f : files) test::fs::copy_file(d.train_dir / wnid / f, inner_dir / f);
        REQUIRE(test::run("tar -cf " + test::quote((dir / (wnid + ".tar")).string()) + " -C " + test::quote(inner_dir.string()) +
                          " " + files[0] + " " + files[1]).status == 0);
        auto inner = test::read_file(dir / (wnid + ".tar"));
        size_t second = 512 + (test::fs::file_size(inner_dir / files[0]) + 511) / 512 * 512;
        std::fill_n(inner.begin() + second + 148, 8, 'x');
        test::write_file(dir / (wnid + ".tar"), inner);
        REQUIRE(test::run("tar -cf " + test::quote((dir / "corrupt-train.tar").string()) + " -C " + test::quote(dir.path().string()) +
                          " " + wnid + ".tar").status == 0);
        bad.train = dir / "corrupt-train.tar";
        expect_failure(bad, {"corrupt-train.tar", wnid + ".tar"});
    }
    SUBCASE("options that make no sense") {
        imgpack::ConvertOptions none;
        none.output = out;
        expect_failure(none, {"nothing to convert"});
        auto bad = o;
        bad.train.clear();
        expect_failure(bad, {"--subset needs --train"});
        bad = o;
        bad.subsets = {{"bad/name", d.s.subset_1pct}};
        expect_failure(bad, {"bad/name"});
    }
    SUBCASE("an existing output is kept unless overwriting is asked for") {
        test::write_text(out, "precious");
        std::string err = test::convert_error(o);
        CHECK(err.find("already exists") != std::string::npos);
        CHECK(test::read_file(out) == std::vector<unsigned char>{'p', 'r', 'e', 'c', 'i', 'o', 'u', 's'});
        auto force = o;
        force.overwrite = true;
        imgpack::convert(force);
        CHECK_NOTHROW(imgpack::Pack::open(out.string()));
    }
}

TEST_CASE("convert: --on-bad-image=skip packs every good image and records what it left out") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    path src = dir / "src";
    test::fs::create_directories(src);
    auto names = test::SynthImageNet::sorted_names(d.val_dir);
    for (size_t i = 0; i < 4; ++i) test::fs::copy_file(d.val_dir / names[i], src / names[i]);
    // A JPEG whose frame header says width 0: libjpeg's header parse fails inside the library
    // (and, unless the handle is renewed, the next good JPEG on that handle would fail too).
    auto bogus = test::read_file(d.val_dir / names[0]);
    size_t sof = 0;
    while (sof + 9 < bogus.size() && !(bogus[sof] == 0xFF && (bogus[sof + 1] == 0xC0 || bogus[sof + 1] == 0xC2))) ++sof;
    REQUIRE(sof + 9 < bogus.size());
    bogus[sof + 7] = bogus[sof + 8] = 0;
    test::write_file(src / "ILSVRC2012_val_00099999.JPEG", bogus);
    test::write_text(src / "notes.txt", "hello");
    test::fs::create_symlink(names[0], src / "ILSVRC2012_val_00099998.JPEG");
    REQUIRE(test::run("tar -cf " + test::quote((dir / "val.tar").string()) + " -C " + test::quote(src.string()) + " " +
                      names[0] + " ILSVRC2012_val_00099999.JPEG " + names[1] + " notes.txt ILSVRC2012_val_00099998.JPEG " +
                      names[2] + " " + names[3]).status == 0);
    REQUIRE(test::run("tar -rf " + test::quote((dir / "val.tar").string()) + " -C " + test::quote(src.string()) + " " + names[1])
                .status == 0);
    imgpack::ConvertOptions o;
    o.val = dir / "val.tar";
    o.output = dir / "p.imgpack";
    o.on_bad_image = imgpack::ConvertOptions::OnBadImage::skip;
    o.jobs = 1;  // one worker sees every image in turn: a bad one must not spoil the next
    imgpack::ConvertSummary s = imgpack::convert(o);
    REQUIRE(s.skipped.size() == 4);
    CHECK(s.skipped[0].find("ILSVRC2012_val_00099999.JPEG: JPEG header does not parse") != std::string::npos);
    CHECK(s.skipped[1].find("notes.txt: a validation file name must be") != std::string::npos);
    CHECK(s.skipped[2].find("ILSVRC2012_val_00099998.JPEG: a symbolic link") != std::string::npos);
    CHECK(s.skipped[3].find(names[1] + ": the file name appears twice") != std::string::npos);

    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    const imgpack::Split& val = pack.split("validation");
    REQUIRE(val.size() == 4);
    for (size_t i = 0; i < 4; ++i) {
        CHECK(val[i].name == names[i]);
        CHECK(span_bytes(val[i].data) == test::read_file(d.val_dir / names[i]));  // the first copy of the duplicate
    }
    REQUIRE(pack.skipped().size() == 4);
    CHECK(pack.skipped()[0].split == "validation");
    CHECK(pack.skipped()[0].entry == (dir / "val.tar").string() + ": ILSVRC2012_val_00099999.JPEG");
    CHECK(pack.skipped()[0].reason.find("JPEG header does not parse") != std::string::npos);
    CHECK(pack.skipped()[3].entry.find(names[1]) != std::string::npos);
    // The skipped section is optional: a 1.0 reader ignores it and reads the rest.
    auto bytes = test::read_file(o.output);
    auto sk = test::find_section(bytes, fmt::SectionKind::skipped);
    CHECK(sk.length > 0);
}

TEST_CASE("convert: balanced subsets draw with SplitMix64, whose output is fixed by its definition") {
    // The reference sequence for state 0 (Vigna's splitmix64.c): a `balanced:fraction=F,seed=S`
    // origin means the subset this exact generator draws.
    imgpack::SplitMix64 g{0};
    CHECK(g.next() == 0xE220A8397B1DCDAFull);
    CHECK(g.next() == 0x6E789E6AA1B965F4ull);
    CHECK(g.next() == 0x06C45D188009454Full);
    CHECK(g.next() == 0xF88BB8A8724C81ECull);
    imgpack::SplitMix64 h{7};
    for (uint64_t n : {1ull, 2ull, 3ull, 1000ull, (1ull << 63) + 1})
        for (int i = 0; i < 100; ++i) CHECK(h.below(n) < n);
}
