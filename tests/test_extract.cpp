// imgpack extract: the ImageFolder layout, byte for byte against GNU tar's extraction of the same
// archives, and path safety: a hostile pack can never make it write outside its directory.
#include <doctest/doctest.h>

#include "synth_fixture.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <map>
#include <set>

namespace fmt = imgpack::format;
namespace fs = test::fs;
using test::cli;
using test::quote;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Every entry under `root` by relative path: a regular file's bytes, "<dir>" or "<other>".
std::map<std::string, std::string> tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
        std::string rel = fs::relative(e.path(), root).string();
        if (e.is_symlink()) out[rel] = "<symlink>";
        else if (e.is_directory()) out[rel] = "<dir>";
        else if (e.is_regular_file()) {
            auto b = test::read_file(e.path());
            out[rel] = std::string(b.begin(), b.end());
        } else out[rel] = "<other>";
    }
    return out;
}

std::set<std::string> entries(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
    return out;
}

std::vector<std::string> lines_of(const fs::path& p) {
    auto b = test::read_file(p);
    std::vector<std::string> out;
    std::string cur;
    for (unsigned char c : b) {
        if (c == '\n') {
            if (!cur.empty() && cur.back() == '\r') cur.pop_back();
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else cur += static_cast<char>(c);
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

std::string extract(const fs::path& pack, const std::string& args, const fs::path& out) {
    return "extract " + quote(pack.string()) + " " + args + " -o " + quote(out.string());
}

// A pack written with PackWriter directly, which (unlike extract) allows any non-empty name.
struct Rec {
    std::string name;
    int32_t label;
};
void write_pack(const fs::path& out, const std::vector<std::string>& wnids, std::vector<Rec> recs) {
    std::sort(recs.begin(), recs.end(), [](const Rec& a, const Rec& b) { return a.name < b.name; });
    imgpack::PackWriter w(out, false);
    imgpack::PackContents c;
    for (const auto& wnid : wnids) c.classes.push_back({wnid, ""});
    imgpack::SplitDef split;
    split.name = "train";
    for (const Rec& r : recs) {
        std::string bytes = "bytes of " + r.name;
        if (r.name.rfind("big", 0) == 0) bytes.resize(100000, 'x');
        std::span<const unsigned char> data(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
        imgpack::RecordDef d;
        d.name = r.name;
        d.blob_offset = w.append_blob(data);
        d.blob_size = static_cast<uint32_t>(bytes.size());
        d.xxh3 = XXH3_64bits(bytes.data(), bytes.size());
        d.codec = fmt::Codec::jpeg;
        d.label = r.label;
        split.records.push_back(d);
    }
    c.splits.push_back(split);
    w.finish(c);
}

}  // namespace

TEST_CASE("extract: train, validation and test trees equal GNU tar's extraction, byte for byte") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;

    // train: DIR/<WNID>/<file>, exactly what untarring each <WNID>.tar into <WNID>/ gives (from
    // the pack that kept the quirk images' original bytes).
    auto t = cli(extract(d.pack_as_is, "--split train -j 3 --verify", dir / "train"));
    REQUIRE_MESSAGE(t.status == 0, t.err);
    CHECK(contains(t.out, "all checksums match"));
    auto got = tree(dir / "train"), want = tree(d.train_dir);
    CHECK(want.size() == d.train_files.size() + d.s.train_images);  // directories and files
    CHECK(got == want);

    // validation: labeled from the labels file (line i is the WNID of the i-th file by name).
    auto v = cli(extract(d.pack, "--split validation", dir / "val"));
    REQUIRE_MESSAGE(v.status == 0, v.err);
    auto val_names = test::SynthImageNet::sorted_names(d.val_dir);
    auto labels = lines_of(d.s.val_labels);
    REQUIRE(labels.size() == val_names.size());
    std::map<std::string, std::string> want_val;
    for (size_t i = 0; i < val_names.size(); ++i) {
        auto b = test::read_file(d.val_dir / val_names[i]);
        want_val[labels[i]] = "<dir>";
        want_val[labels[i] + "/" + val_names[i]] = std::string(b.begin(), b.end());
    }
    CHECK(tree(dir / "val") == want_val);

    // test: unlabeled, so flat: DIR/<file>, exactly the test tar's contents.
    auto u = cli(extract(d.pack, "--split test", dir / "test"));
    REQUIRE_MESSAGE(u.status == 0, u.err);
    CHECK(contains(u.out, "extracted 7 files"));
    CHECK(tree(dir / "test") == tree(d.test_dir));
}

TEST_CASE("extract: a subset writes exactly the subset's files, and DIR must be new or empty without --force") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    for (const char* name : {"1pct", "10pct"}) {
        fs::path out = dir / name;
        auto r = cli(extract(d.pack, std::string("--split train --subset ") + name, out));
        REQUIRE_MESSAGE(r.status == 0, r.err);
        // Independent of the pack: the list's names, each in its class's directory (the WNID is
        // the name's prefix, as in ImageNet), with the bytes GNU tar extracted.
        std::map<std::string, std::string> want;
        for (const std::string& file : lines_of(std::string(name) == "1pct" ? d.s.subset_1pct : d.s.subset_10pct)) {
            std::string wnid = file.substr(0, file.find('_'));
            auto b = test::read_file(d.train_dir / wnid / file);
            want[wnid] = "<dir>";
            want[wnid + "/" + file] = std::string(b.begin(), b.end());
        }
        CHECK(!want.empty());
        CHECK(tree(out) == want);
    }

    // A subset of another split, an unknown split or subset, no -o: errors, and nothing created.
    auto wrong = cli(extract(d.pack, "--split validation --subset 1pct", dir / "w"));
    CHECK(wrong.status == 1);
    CHECK(contains(wrong.err, "subset of split 'train'"));
    CHECK(cli(extract(d.pack, "--split nope", dir / "w")).status == 1);
    CHECK(cli(extract(d.pack, "--split train --subset nope", dir / "w")).status == 1);
    CHECK_FALSE(fs::exists(dir / "w"));
    CHECK(cli("extract " + quote(d.pack.string()) + " --split train").status == 2);

    // A non-empty DIR is refused; nothing in it changes.
    fs::create_directories(dir / "busy");
    test::write_text(dir / "busy" / "keep.txt", "mine");
    auto busy = cli(extract(d.pack, "--split test", dir / "busy"));
    CHECK(busy.status == 1);
    CHECK(contains(busy.err, "is not empty"));
    CHECK(entries(dir / "busy") == std::set<std::string>{"keep.txt"});
}

TEST_CASE("extract --force: existing files are replaced, symlinks in DIR are never followed") {
    test::TempDir dir;
    fs::path pack = dir / "p.imgpack";
    write_pack(pack, {"n01", "n02"}, {{"a.JPEG", 0}, {"b.JPEG", 1}, {"c.JPEG", 1}, {"flat.JPEG", -1}});
    fs::path out = dir / "out";
    fs::create_directories(out / "n01");
    fs::create_directories(dir / "elsewhere");
    test::write_text(dir / "outside.txt", "do not touch");
    test::write_text(out / "n01" / "a.JPEG", "old");
    test::write_text(out / "unrelated.txt", "kept");
    fs::create_symlink(dir / "outside.txt", out / "flat.JPEG");  // a file symlink where a record goes
    fs::create_directory_symlink(dir / "elsewhere", out / "n02");  // a directory symlink as a WNID

    auto refused = cli(extract(pack, "--split train", out));
    CHECK(refused.status == 1);
    CHECK(contains(refused.err, "is not empty"));

    // The WNID directory that is a symlink is refused before any file is written.
    auto sym_dir = cli(extract(pack, "--split train --force", out));
    CHECK(sym_dir.status == 1);
    CHECK(contains(sym_dir.err, (out / "n02").string()));
    CHECK(contains(sym_dir.err, "symlink"));
    CHECK(fs::is_empty(dir / "elsewhere"));
    CHECK(test::read_file(out / "n01" / "a.JPEG") == std::vector<unsigned char>{'o', 'l', 'd'});

    fs::remove(out / "n02");
    auto ok = cli(extract(pack, "--split train --force", out));
    REQUIRE_MESSAGE(ok.status == 0, ok.err);
    auto t = tree(out);
    CHECK(t["n01/a.JPEG"] == "bytes of a.JPEG");
    CHECK(t["n02/b.JPEG"] == "bytes of b.JPEG");
    CHECK(t["flat.JPEG"] == "bytes of flat.JPEG");  // the symlink itself was replaced by the file
    CHECK(t["unrelated.txt"] == "kept");
    CHECK(t.size() == 7);  // n01, n02, 3 + 1 files, unrelated.txt: no temporary files left
    auto outside = test::read_file(dir / "outside.txt");
    CHECK(std::string(outside.begin(), outside.end()) == "do not touch");

    // Without --force, even in an empty DIR, an existing file is never opened: O_EXCL|O_NOFOLLOW.
    fs::path fresh = dir / "fresh";
    auto first = cli(extract(pack, "--split train", fresh));
    REQUIRE_MESSAGE(first.status == 0, first.err);
    CHECK(tree(fresh).size() == 6);
}

TEST_CASE("extract: a hostile pack is refused before anything is written, and nothing lands outside DIR") {
    struct Case {
        const char* what;
        std::vector<std::string> wnids;
        std::vector<Rec> recs;
        std::string message;
    };
    const std::string nul_name("a\0b.JPEG", 8);
    const std::vector<Case> cases{
        {"a labeled '../' name", {"n01"}, {{"../evil.JPEG", 0}, {"good.JPEG", 0}}, "('../evil.JPEG'): the file name contains '/'"},
        {"an unlabeled '../' name", {}, {{"../evil.JPEG", -1}}, "('../evil.JPEG'): the file name contains '/'"},
        {"a deep '../' name", {}, {{"../../../../../../tmp/evil.JPEG", -1}}, "contains '/'"},
        {"an absolute name", {}, {{"/tmp/evil.JPEG", -1}}, "contains '/'"},
        {"a name with a '/'", {"n01"}, {{"sub/evil.JPEG", 0}}, "contains '/'"},
        {"the name '..'", {}, {{"..", -1}}, "the file name is \"..\""},
        {"the name '.'", {"n01"}, {{".", 0}}, "the file name is \".\""},
        {"a name with a NUL", {}, {{nul_name, -1}}, "('a\\x00b.JPEG'): the file name contains a NUL byte"},
        {"a name longer than NAME_MAX", {}, {{std::string(300, 'x'), -1}}, "longer than NAME_MAX"},
        {"a WNID '../x'", {"../x"}, {{"a.JPEG", 0}}, "its class's WNID '../x' contains '/'"},
        {"a WNID '..'", {".."}, {{"a.JPEG", 0}}, "its class's WNID '..' is \"..\""},
        {"a WNID '.'", {"."}, {{"a.JPEG", 0}}, "is \".\""},
        {"a WNID '/etc'", {"/etc"}, {{"passwd", 0}}, "contains '/'"},
        {"an unlabeled name equal to a WNID", {"n01"}, {{"a.JPEG", 0}, {"n01", -1}}, "the name of a class directory"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        test::TempDir dir;
        fs::path parent = dir / "parent";
        fs::create_directories(parent);
        fs::path pack = dir / "hostile.imgpack";
        write_pack(pack, c.wnids, c.recs);
        for (const char* extra : {"", " --force", " --verify -j 4"}) {
            auto r = cli(extract(pack, std::string("--split train") + extra, parent / "out"));
            CHECK(r.status == 1);
            CHECK_MESSAGE(contains(r.err, c.message), r.err);
            CHECK(contains(r.err, "nothing was written"));
            CHECK(contains(r.err, pack.string()));
            // Nothing was created, in DIR or beside it, or anywhere under the scratch directory.
            CHECK(entries(parent).empty());
            CHECK(entries(dir.path()) == std::set<std::string>{"hostile.imgpack", "parent"});
        }
    }
}

TEST_CASE("extract --verify: a corrupt record is named and not written, the others are") {
    test::TempDir dir;
    fs::path pack = dir / "p.imgpack";
    write_pack(pack, {"n01"}, {{"a.JPEG", 0}, {"b.JPEG", 0}, {"c.JPEG", -1}});
    imgpack::Record b = imgpack::Pack::open(pack.string()).split("train")[1];
    auto bytes = test::read_file(pack);
    bytes[b.offset + 2] ^= 0x40;
    test::write_file(pack, bytes);
    auto r = cli(extract(pack, "--split train --verify", dir / "out"));
    CHECK(r.status == 1);
    CHECK(contains(r.err, "split 'train' record 1 (b.JPEG): checksum mismatch"));
    CHECK(contains(r.err, "1 of 3 records corrupt"));
    auto t = tree(dir / "out");
    CHECK(t == std::map<std::string, std::string>{{"n01", "<dir>"}, {"n01/a.JPEG", "bytes of a.JPEG"},
                                                  {"c.JPEG", "bytes of c.JPEG"}});
    // Without --verify the stored bytes are written as they are.
    auto plain = cli(extract(pack, "--split train", dir / "plain"));
    CHECK(plain.status == 0);
    CHECK(fs::file_size(dir / "plain" / "n01" / "b.JPEG") == b.data.size());
}

TEST_CASE("extract: a write error (here a file-size limit, after a short write) names the file and stops") {
    test::TempDir dir;
    fs::path pack = dir / "p.imgpack";
    write_pack(pack, {}, {{"big.JPEG", -1}});
    // ulimit -f 1: the first write stops short at the limit, the next fails with EFBIG.
    auto r = test::run("ulimit -f 1 && exec " + std::string(IMGPACK_CLI) + " " +
                       extract(pack, "--split train", dir / "out"));
    CHECK(r.status == 1);
    CHECK_MESSAGE(contains(r.err, "cannot write " + (dir / "out" / "big.JPEG").string() + ": File too large"), r.err);
    CHECK_FALSE(fs::exists(dir / "out" / "big.JPEG"));  // the partial file is removed
}
