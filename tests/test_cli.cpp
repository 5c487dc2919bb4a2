// The CLI as a user runs it: output formats, exit codes, and messages.
#include <doctest/doctest.h>

#include "named_pack.hpp"
#include "synth_fixture.hpp"

#include <imgpack/reader.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

using test::cli;
using test::quote;

namespace {

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Whether `text` is well-formed UTF-8, as iconv (not our code) judges it.
bool valid_utf8(const std::string& text) {
    test::TempDir dir;
    test::write_text(dir / "text", text);
    return test::run("iconv -f UTF-8 -t UTF-8 < " + quote((dir / "text").string()) + " > /dev/null").status == 0;
}

// The "name" field of one line of `ls --json`.
std::string json_name(const std::string& line) {
    const std::string key = "\"name\":\"";
    size_t at = line.find(key);
    if (at == std::string::npos) return "";
    at += key.size();
    std::string out;
    for (size_t i = at; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\') out += line[i++];
        out += line[i];
    }
    return out;
}

}  // namespace

TEST_CASE("cli: info prints splits, subsets and classes, as text and as one JSON object") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    auto r = cli("info --json " + quote(d.pack.string()));
    REQUIRE(r.status == 0);
    CHECK(lines(r.out).size() == 1);
    const imgpack::Split& train = pack.split("train");
    CHECK(contains(r.out, "\"version\":\"1.1\""));
    CHECK(contains(r.out, "\"classes\":6"));
    CHECK(contains(r.out, "{\"name\":\"train\",\"records\":" + std::to_string(train.size()) +
                              ",\"bytes\":" + std::to_string(train.blob_bytes()) + "}"));
    CHECK(contains(r.out, "{\"name\":\"1pct\",\"split\":\"train\",\"records\":" +
                              std::to_string(pack.subset("1pct").size()) + ",\"origin\":\"list:1percent.txt\"}"));
    CHECK(contains(r.out, "\"file_size\":" + std::to_string(test::fs::file_size(d.pack))));
    auto t = cli("info " + quote(d.pack.string()));
    REQUIRE(t.status == 0);
    CHECK(contains(t.out, "classes: 6"));
    CHECK(contains(t.out, "validation"));
}

TEST_CASE("cli: ls prints one JSON object per record, and with --subset index is the split index") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    auto r = cli("ls " + quote(d.pack.string()) + " --split train --json");
    REQUIRE(r.status == 0);
    auto ls = lines(r.out);
    const imgpack::Split& train = pack.split("train");
    REQUIRE(ls.size() == train.size());
    imgpack::Record first = train[0];
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(first.xxh3));
    CHECK(ls[0] == "{\"index\":0,\"name\":\"" + std::string(first.name) + "\",\"label\":" + std::to_string(first.label) +
                       ",\"wnid\":\"" + std::string(first.wnid) + "\",\"size\":" + std::to_string(first.data.size()) +
                       ",\"width\":" + std::to_string(first.width) + ",\"height\":" + std::to_string(first.height) +
                       ",\"xxh3\":\"" + hex + "\",\"flags\":" + std::to_string(first.flags) +
                       ",\"repaired\":" + (first.repaired() ? "true" : "false") + "}");

    const imgpack::Subset& sub = pack.subset("10pct");
    auto s = cli("ls " + quote(d.pack.string()) + " --split train --subset 10pct --json");
    REQUIRE(s.status == 0);
    auto sl = lines(s.out);
    REQUIRE(sl.size() == sub.size());
    for (size_t i = 0; i < sub.size(); ++i)
        CHECK(sl[i].rfind("{\"index\":" + std::to_string(sub.index(i)) + ",\"name\":\"" + std::string(sub[i].name) + "\"", 0) == 0);

    auto u = cli("ls " + quote(d.pack.string()) + " --split test --json");
    REQUIRE(u.status == 0);
    CHECK(contains(lines(u.out)[0], "\"label\":-1,\"wnid\":null"));

    auto wrong = cli("ls " + quote(d.pack.string()) + " --split validation --subset 1pct");
    CHECK(wrong.status == 1);
    CHECK(contains(wrong.err, "subset of split 'train'"));
    auto missing = cli("ls " + quote(d.pack.string()) + " --split nope");
    CHECK(missing.status == 1);
    CHECK(contains(missing.err, "no split named 'nope'"));
}

TEST_CASE("cli: cat writes the stored bytes, by name or index") {
    const auto& d = test::synth_imagenet();
    auto names = test::SynthImageNet::sorted_names(d.val_dir);
    auto by_name = cli("cat " + quote(d.pack.string()) + " --split validation --name " + names[3]);
    REQUIRE(by_name.status == 0);
    auto file = test::read_file(d.val_dir / names[3]);
    CHECK(by_name.out == std::string(file.begin(), file.end()));
    auto by_index = cli("cat " + quote(d.pack.string()) + " --split validation --index 3");
    CHECK(by_index.out == by_name.out);
    auto out_of_range = cli("cat " + quote(d.pack.string()) + " --split validation --index 100000");
    CHECK(out_of_range.status == 1);
    CHECK(contains(out_of_range.err, "no record 100000"));
    auto no_such = cli("cat " + quote(d.pack.string()) + " --split validation --name nope.JPEG");
    CHECK(no_such.status == 1);
    CHECK(contains(no_such.err, "no file named 'nope.JPEG'"));
}

TEST_CASE("cli: verify passes a good pack and names every corrupt record of a bad one") {
    const auto& d = test::synth_imagenet();
    auto ok = cli("verify " + quote(d.pack.string()));
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, "OK"));

    test::TempDir dir;
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& val = pack.split("validation");
    auto bytes = test::read_file(d.pack);
    for (size_t i : {2, 9}) bytes[val[i].offset + val[i].data.size() / 2] ^= 0x20;
    test::write_file(dir / "bad.imgpack", bytes);
    auto bad = cli("verify -j 2 " + quote((dir / "bad.imgpack").string()));
    CHECK(bad.status == 1);
    CHECK(contains(bad.err, "split 'validation' record 2 (" + std::string(val[2].name) + "): checksum mismatch"));
    CHECK(contains(bad.err, "split 'validation' record 9 (" + std::string(val[9].name) + ")"));
    CHECK(contains(bad.err, "2 of"));
}

TEST_CASE("cli: errors exit non-zero with a message naming the file") {
    test::TempDir dir;
    test::write_text(dir / "not-a-pack", std::string(100, 'z'));
    auto r = cli("info " + quote((dir / "not-a-pack").string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, (dir / "not-a-pack").string()));
    CHECK(contains(r.err, "not an imgpack file"));
    auto none = cli("convert -o " + quote((dir / "x.imgpack").string()));
    CHECK(none.status == 1);
    CHECK(contains(none.err, "nothing to convert"));
    CHECK_FALSE(test::fs::exists(dir / "x.imgpack"));
    auto usage = cli("convert --no-such-flag");
    CHECK(usage.status == 2);
    auto subset = cli("convert --val x.tar --subset oops -o " + quote((dir / "y.imgpack").string()));
    CHECK(subset.status == 1);
    CHECK(contains(subset.err, "NAME=FILE"));
}

TEST_CASE("cli: synth then convert, as the README shows") {
    test::TempDir dir;
    auto s = cli("synth " + quote((dir / "in").string()) + " --classes 3 --per-class 5 --val 4 --test 2 --seed 9");
    REQUIRE(s.status == 0);
    std::string in = (dir / "in").string() + "/";
    auto c = cli("convert --train " + quote(in + "ILSVRC2012_img_train.tar") + " --val " + quote(in + "ILSVRC2012_img_val.tar") +
                 " --val-labels " + quote(in + "imagenet2012_validation_labels.txt") + " --test " +
                 quote(in + "ILSVRC2012_img_test.tar") + " --subset 1pct=" + quote(in + "1percent.txt") + " -j 2 -o " +
                 quote((dir / "p.imgpack").string()));
    REQUIRE(c.status == 0);
    CHECK(contains(c.out, "15 records"));
    CHECK(contains(c.out, "classes: 3"));
    CHECK(contains(c.out, "2 file(s) repaired"));
    auto again = cli("convert --val " + quote(in + "ILSVRC2012_img_val.tar") + " -o " + quote((dir / "p.imgpack").string()));
    CHECK(again.status == 1);
    CHECK(contains(again.err, "already exists"));
    auto quiet = cli("convert -q -f --val " + quote(in + "ILSVRC2012_img_val.tar") + " -o " + quote((dir / "p.imgpack").string()));
    CHECK(quiet.status == 0);
    CHECK(quiet.out.empty());
    CHECK(quiet.err.empty());
}

TEST_CASE("cli: info lists the skipped entries and ls the repaired flag (the golden pack: one of each)") {
    const std::string golden = quote(std::string(IMGPACK_TESTS_DIR) + "/golden/golden.imgpack");
    auto text = cli("info " + golden);
    REQUIRE(text.status == 0);
    CHECK(contains(text.out, "skipped at conversion (--on-bad-image=skip): 1 entry\n"
                             "  test         test.tar: ILSVRC2012_test_00000002.JPEG: empty file\n"));
    auto json = cli("info --json " + golden);
    REQUIRE(json.status == 0);
    CHECK(contains(json.out, ",\"skipped\":[{\"split\":\"test\",\"entry\":\"test.tar: ILSVRC2012_test_00000002.JPEG\","
                             "\"reason\":\"empty file\"}]}"));
    // FORMAT.md §10: train holds 10026, 2708, then the repaired goldfish 1004.
    auto ls = cli("ls " + golden + " --split train");
    REQUIRE(ls.status == 0);
    auto rows = lines(ls.out);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].ends_with("  -"));
    CHECK(rows[1].ends_with("  -"));
    CHECK(contains(rows[2], "n01443537_1004.JPEG"));
    CHECK(rows[2].ends_with("  repaired"));
    auto lj = lines(cli("ls --json " + golden + " --split train").out);
    REQUIRE(lj.size() == 3);
    CHECK(lj[0].ends_with(",\"flags\":0,\"repaired\":false}"));
    CHECK(lj[2].ends_with(",\"flags\":1,\"repaired\":true}"));
}

TEST_CASE("cli: ls shows the records the converter repaired, and info an empty skipped list, on a converted pack") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    for (const auto& [file, want_repaired] : {std::pair{d.pack, size_t{2}}, std::pair{d.pack_as_is, size_t{0}}}) {
        CAPTURE(file);
        imgpack::Pack p = imgpack::Pack::open(file.string());
        size_t repaired = 0;
        for (imgpack::Record r : p.split("train")) repaired += r.repaired();
        CHECK(repaired == want_repaired);  // the synthetic set's CMYK JPEG and PNG
        auto ls = lines(cli("ls --json " + quote(file.string()) + " --split train").out);
        REQUIRE(ls.size() == p.split("train").size());
        for (imgpack::Record r : p.split("train"))
            CHECK(contains(ls[r.index], std::string(",\"repaired\":") + (r.repaired() ? "true" : "false") + "}"));
        auto text = lines(cli("ls " + quote(file.string()) + " --split train").out);
        CHECK(size_t(std::count_if(text.begin(), text.end(), [](const std::string& l) { return l.ends_with("  repaired"); })) ==
              want_repaired);
    }
    auto info = cli("info --json " + quote(d.pack.string()));
    CHECK(contains(info.out, ",\"skipped\":[]}"));
    CHECK_FALSE(contains(cli("info " + quote(d.pack.string())).out, "skipped"));
}

TEST_CASE("cli: --json output is valid UTF-8 whatever bytes a name holds (ill-formed parts become U+FFFD)") {
    test::TempDir dir;
    // Each name, and what the JSON string holds for it: the Unicode Standard's "maximal subpart"
    // replacement, which is what Python's bytes.decode("utf-8", "replace") gives.
    const std::vector<std::pair<std::string, std::string>> names{
        {"caf\xe9.JPEG", "caf\xef\xbf\xbd.JPEG"},                        // Latin-1, as a tar from Windows holds
        {"\xe2\x82.JPEG", "\xef\xbf\xbd.JPEG"},                          // a sequence cut short: one U+FFFD
        {"\xed\xa0\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"},      // a surrogate, encoded
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                        // an overlong '/'
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // above U+10FFFF
        {"a\xf0\x9f\x98", "a\xef\xbf\xbd"},                              // cut short at the end
        {"\xe6\x97\xa5\xe6\x9c\xac\x01.JPEG", "\xe6\x97\xa5\xe6\x9c\xac\\u0001.JPEG"},  // valid UTF-8 kept
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},                        // a 4-byte character kept
    };
    std::vector<std::string> raw;
    for (const auto& [name, shown] : names) raw.push_back(name);
    // The pack's own file name is not UTF-8 either, and a skipped entry holds such bytes.
    const auto pack = dir / "pack-\xff.imgpack";
    test::write_named_pack(pack, "test", raw, {}, {{"test", "test.tar: \xff\xfe.JPEG", "not a JPEG \xe9"}});

    auto ls = cli("ls --json " + quote(pack.string()) + " --split test");
    REQUIRE(ls.status == 0);
    CHECK(valid_utf8(ls.out));
    auto rows = lines(ls.out);
    REQUIRE(rows.size() == names.size());
    imgpack::Pack p = imgpack::Pack::open(pack.string());
    for (const auto& [name, shown] : names) {
        CAPTURE(shown);
        auto index = p.split("test").find(name);
        REQUIRE(index);
        CHECK(json_name(rows[*index]) == shown);
    }
    auto info = cli("info --json " + quote(pack.string()));
    REQUIRE(info.status == 0);
    CHECK(valid_utf8(info.out));
    CHECK(contains(info.out, "{\"path\":\"" + (dir / "pack-\xef\xbf\xbd.imgpack").string() + "\""));
    CHECK(contains(info.out, "\"entry\":\"test.tar: \xef\xbf\xbd\xef\xbf\xbd.JPEG\",\"reason\":\"not a JPEG \xef\xbf\xbd\""));
    // The text form shows those bytes escaped, not raw.
    CHECK(contains(cli("info " + quote(pack.string())).out, "test.tar: \\xff\\xfe.JPEG: not a JPEG \\xe9"));
    // The test can fail: the raw names are not UTF-8.
    CHECK_FALSE(valid_utf8(raw[0]));
}

TEST_CASE("cli: output that cannot be written (a full disk behind >) is an error, not a silent exit 0") {
    REQUIRE(test::fs::exists("/dev/full"));
    const auto& d = test::synth_imagenet();
    for (const std::string& command : {"ls --json " + quote(d.pack.string()) + " --split train", "info " + quote(d.pack.string())}) {
        CAPTURE(command);
        auto r = cli(command + " > /dev/full");
        CHECK(r.status == 1);
        CHECK(contains(r.err, "cannot write to standard output: No space left on device"));
    }
}

TEST_CASE("cli: convert -f replaces a regular file only, never an input, a FIFO, or anything in an input folder") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    // Inputs of its own: a copy of the validation archive and labels, and a folder of test images.
    test::fs::copy_file(d.s.val_tar, dir / "val.tar");
    test::fs::copy_file(d.s.val_labels, dir / "labels.txt");
    test::fs::create_hard_link(dir / "labels.txt", dir / "labels-link.txt");
    test::fs::create_directory(dir / "test");
    for (const auto& name : test::SynthImageNet::sorted_names(d.test_dir))
        test::fs::copy_file(d.test_dir / name, dir / "test" / name);
    const auto val_bytes = test::read_file(dir / "val.tar");
    const std::string inputs = " --val " + quote((dir / "val.tar").string()) + " --val-labels " +
                               quote((dir / "labels.txt").string()) + " --test " + quote((dir / "test").string());
    auto convert = [&](const test::fs::path& out) { return cli("convert -q -f" + inputs + " -o " + quote(out.string())); };

    // The cases: -o an input archive, -o a FIFO.
    auto r = convert(dir / "val.tar");
    CHECK(r.status == 1);
    CHECK(contains(r.err, "is the input given as --val"));
    CHECK(test::read_file(dir / "val.tar") == val_bytes);
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    r = convert(dir / "fifo");
    CHECK(r.status == 1);
    CHECK(contains(r.err, "is a FIFO (named pipe)"));
    struct stat st {};
    REQUIRE(::lstat((dir / "fifo").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    // Cases of the same class: another name (a hard link) of the labels; a place in the --test folder.
    r = convert(dir / "labels-link.txt");
    CHECK(r.status == 1);
    CHECK(contains(r.err, "is the input given as --val-labels"));
    r = convert(dir / "test" / "p.imgpack");
    CHECK(r.status == 1);
    CHECK(contains(r.err, "is inside the folder given as --test"));
    CHECK(test::SynthImageNet::sorted_names(dir / "test") == test::SynthImageNet::sorted_names(d.test_dir));
    CHECK(test::temporaries(dir.path()).empty());
    // A regular file that is no input is replaced.
    test::write_text(dir / "old.imgpack", "old");
    r = convert(dir / "old.imgpack");
    CHECK(r.status == 0);
    CHECK_NOTHROW(imgpack::Pack::open((dir / "old.imgpack").string()));
}

TEST_CASE("cli: convert writes to a destination name of 253 bytes (the temporary name is short)") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    const auto out = dir / (std::string(245, 'n') + ".imgpack");
    REQUIRE(out.filename().string().size() == 253);
    auto r = cli("convert -q --val " + quote(d.s.val_tar.string()) + " -o " + quote(out.string()));
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK_NOTHROW(imgpack::Pack::open(out.string()));
    CHECK(test::temporaries(dir.path()).empty());
}
