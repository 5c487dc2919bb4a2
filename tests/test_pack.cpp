// The writer and the reader together: round trip, atomic output, and rejection of bad packs.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <random>

namespace fmt = imgpack::format;
using test::bytes_of;
using test::open_error;
using test::SmallPack;
using test::TempDir;

namespace {

// Every record of every split and subset, read through the public API.
size_t read_everything(const imgpack::Pack& pack) {
    size_t touched = 0;
    for (const imgpack::Split& s : pack.splits())
        for (imgpack::Record r : s) {
            touched += r.data.size() + r.name.size() + r.wnid.size();
            (void)r.verify();
            CHECK(s.find(r.name) == r.index);
        }
    for (const imgpack::Subset& sub : pack.subsets())
        for (imgpack::Record r : sub) touched += r.data.size();
    for (const imgpack::ClassInfo& c : pack.classes()) touched += c.wnid.size() + c.name.size();
    return touched;
}

}  // namespace

TEST_CASE("pack: what the writer writes, the reader reads back") {
    TempDir dir;
    SmallPack small;
    small.write(dir / "p.imgpack");
    imgpack::Pack pack = imgpack::Pack::open((dir / "p.imgpack").string());
    CHECK(pack.version_major() == 1);
    CHECK(pack.version_minor() == 1);
    REQUIRE(pack.class_count() == 2);
    CHECK(pack.classes()[0].wnid == "n00000001");
    CHECK(pack.classes()[0].name == "first class");
    CHECK(pack.classes()[1].name.empty());
    CHECK(pack.find_class("n00000002") == 1);
    CHECK_FALSE(pack.find_class("n99"));

    REQUIRE(pack.splits().size() == 2);
    const imgpack::Split train = pack.split("train");
    REQUIRE(train.size() == 4);
    CHECK(train.blob_bytes() == 11 + 1 + 5000 + 5);
    const char* names[] = {"a.JPEG", "b.JPEG", "c.JPEG", "d.JPEG"};
    int32_t labels[] = {0, 1, 1, 0};
    for (size_t i = 0; i < 4; ++i) {
        imgpack::Record r = train[i];
        CHECK(r.index == i);
        CHECK(r.name == names[i]);
        CHECK(r.label == labels[i]);
        CHECK(r.wnid == pack.classes()[size_t(labels[i])].wnid);
        CHECK(std::vector<unsigned char>(r.data.begin(), r.data.end()) == small.blobs[i]);
        CHECK(r.width == 10 + i);
        CHECK(r.height == 20 + i);
        CHECK(r.codec == fmt::Codec::jpeg);
        CHECK(r.verify());
        // Blobs start on the documented alignment, after the header page.
        CHECK((r.data.data() - train[0].data.data()) % fmt::kBlobAlign == 0);
    }
    CHECK(train.find("c.JPEG") == 2);
    CHECK_FALSE(train.find("cc.JPEG"));
    CHECK_FALSE(train.find(""));
    CHECK_THROWS_AS(train.at(4), imgpack::Error);

    imgpack::Record t = pack.split("test")[0];
    CHECK_FALSE(t.labeled());
    CHECK(t.label == -1);
    CHECK(t.wnid.empty());

    const imgpack::Subset half = pack.subset("half");
    CHECK(half.origin() == "list:half.txt");
    CHECK(half.split().name() == train.name());
    REQUIRE(half.size() == 2);
    CHECK(half.index(0) == 1);
    CHECK(half[1].name == "d.JPEG");
    std::vector<std::string> seen;
    for (imgpack::Record r : half) seen.emplace_back(r.name);
    CHECK(seen == std::vector<std::string>{"b.JPEG", "d.JPEG"});
    CHECK_THROWS_AS(pack.subset("nope"), imgpack::Error);
    CHECK_THROWS_AS(pack.split("nope"), imgpack::Error);
    CHECK_FALSE(pack.find_split("validation"));
    REQUIRE(pack.find_split("test"));
    CHECK(pack.find_split("test")->size() == 1);
    REQUIRE(pack.find_subset("half"));
    CHECK(pack.find_subset("half")->index(1) == 3);
    CHECK_FALSE(pack.find_subset("train"));

    // Copies share the mapping; records outlive the original handle.
    imgpack::Pack copy = pack;
    pack = imgpack::Pack::open((dir / "p.imgpack").string());
    CHECK(copy.split("train")[2].data.size() == 5000);

    // The first blob sits on the first page boundary.
    auto file = test::read_file(dir / "p.imgpack");
    CHECK(test::find_section(file, fmt::SectionKind::blobs).offset == fmt::kBlobRegionAlign);
    CHECK(copy.split("train")[0].offset == fmt::kBlobRegionAlign);
    for (imgpack::Record r : copy.split("train")) CHECK(r.offset % fmt::kBlobAlign == 0);

    // Opening with huge pages asked for changes how the kernel caches the file, not what is read.
    imgpack::Pack huge = imgpack::Pack::open((dir / "p.imgpack").string(), {.huge_pages = true});
    REQUIRE(huge.split("train").size() == 4);
    for (size_t i = 0; i < 4; ++i) {
        CHECK(huge.split("train")[i].name == names[i]);
        CHECK(std::vector<unsigned char>(huge.split("train")[i].data.begin(), huge.split("train")[i].data.end()) ==
              small.blobs[i]);
    }
    CHECK(read_everything(huge) == read_everything(copy));
}

TEST_CASE("pack: the destination appears only when complete") {
    TempDir dir;
    auto out = dir / "p.imgpack";
    {
        imgpack::PackWriter w(out, false);
        w.append_blob(bytes_of("x"));
        CHECK(std::filesystem::exists(w.temporary_path()));
        CHECK_FALSE(std::filesystem::exists(out));
        // destroyed without finish(): as if the conversion failed
    }
    CHECK(std::filesystem::is_empty(dir.path()));
    SmallPack{}.write(out);
    CHECK(std::filesystem::exists(out));
    CHECK_THROWS_WITH_AS(imgpack::PackWriter(out, false), doctest::Contains("already exists"), std::runtime_error);
    { imgpack::PackWriter w(out, true); }  // allowed with overwrite, and leaves the old file alone
    CHECK_NOTHROW(imgpack::Pack::open(out.string()));
    size_t entries = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
    CHECK(entries == 1);  // no temporary left behind

    // Without overwrite, a destination that appears while the pack is written is not replaced.
    auto late = dir / "late.imgpack";
    {
        imgpack::PackWriter w(late, false);
        test::write_file(late, bytes_of("someone else's file"));
        CHECK_THROWS_WITH_AS(w.finish({}), doctest::Contains("appeared meanwhile"), std::runtime_error);
    }
    CHECK(test::read_file(late) == bytes_of("someone else's file"));
    entries = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
    CHECK(entries == 2);  // p.imgpack and late.imgpack: the temporary is gone
}

TEST_CASE("pack: the writer refuses contents that break the format's invariants") {
    TempDir dir;
    imgpack::PackWriter w(dir / "p.imgpack", false);
    imgpack::PackContents c;
    imgpack::RecordDef a, b;
    a.name = "b";
    b.name = "a";
    c.splits.push_back({"train", {a, b}});
    CHECK_THROWS_AS(w.finish(c), std::logic_error);  // not sorted
    c.splits[0].records = {b, a};
    c.splits[0].records[0].label = 3;                // no such class
    CHECK_THROWS_AS(w.finish(c), std::logic_error);
    c.splits[0].records[0].label = -1;
    c.subsets.push_back({"s", "train", "", {1, 1}});  // not strictly increasing
    CHECK_THROWS_AS(w.finish(c), std::logic_error);
}

TEST_CASE("pack: open rejects damaged files with a message saying what is wrong") {
    TempDir dir;
    auto good_path = dir / "good.imgpack";
    SmallPack{}.write(good_path);
    const auto good = test::read_file(good_path);
    auto bad_path = dir / "bad.imgpack";
    auto expect = [&](std::vector<unsigned char> f, const std::string& message) {
        test::write_file(bad_path, f);
        std::string err = open_error(bad_path);
        CHECK_MESSAGE(err.find(message) != std::string::npos, "expected '", message, "', got '", err, "'");
        CHECK_MESSAGE(err.find(bad_path.string()) != std::string::npos, "the message names the file: ", err);
    };
    auto edit = [&](auto&& change, bool seal = true) {
        auto f = good;
        change(f);
        if (seal) test::reseal(f);
        return f;
    };
    auto record_at = [&](const std::vector<unsigned char>& f, int split, size_t i) {
        return test::find_section(f, fmt::SectionKind::split, split).offset + fmt::kSplitHeaderSize + i * fmt::kRecordSize;
    };

    SUBCASE("empty and short files") {
        expect({}, "shorter than the 64-byte header");
        expect({good.begin(), good.begin() + 63}, "shorter than the 64-byte header");
    }
    SUBCASE("not a pack") { expect(std::vector<unsigned char>(200, 'x'), "bad magic"); }
    SUBCASE("truncated or extended") {
        expect({good.begin(), good.end() - 1}, "truncated");
        auto longer = good;
        longer.push_back(0);
        expect(longer, "truncated or appended");
    }
    SUBCASE("flipped bits in header, directory and metadata") {
        expect(edit([](auto& f) { f[20] ^= 1; }, false), "header checksum");
        fmt::FileHeader h = fmt::decode_header(good.data());
        expect(edit([&](auto& f) { f[h.directory_offset + 3] ^= 0x10; }, false), "directory checksum");
        for (auto kind : {fmt::SectionKind::strings, fmt::SectionKind::class_table, fmt::SectionKind::split,
                          fmt::SectionKind::subset}) {
            auto s = test::find_section(good, kind);
            expect(edit([&](auto& f) { f[s.offset + s.length / 2] ^= 0x04; }, false), "checksum mismatch");
        }
    }
    SUBCASE("damage is named as damage, even where it also breaks a rule, and in a section's last byte") {
        // The strings and split checksums are computed while the records are checked (reader.hpp,
        // SectionHasher): a record that breaks a rule must still be reported as a damaged section
        // when its checksum fails, and bytes past the last record or string are still covered.
        size_t r = record_at(good, 0, 1);
        auto label = [&](auto& f) { fmt::store<int32_t>(f.data() + r + 32, 2); };
        expect(edit(label), "label 2 is not a class");
        expect(edit(label, false), "(split) checksum mismatch");
        auto strings = test::find_section(good, fmt::SectionKind::strings);
        size_t name_end = strings.offset + fmt::load<uint32_t>(good.data() + r + 20) + fmt::load<uint16_t>(good.data() + r + 24);
        auto unterminated = [&](auto& f) { f[name_end] = 'x'; };
        expect(edit(unterminated), "NUL-terminated");
        expect(edit(unterminated, false), "(strings) checksum mismatch");
        for (auto kind : {fmt::SectionKind::strings, fmt::SectionKind::split}) {
            for (int i = 0; i < (kind == fmt::SectionKind::split ? 2 : 1); ++i) {
                auto s = test::find_section(good, kind, i);
                CAPTURE(i);
                expect(edit([&](auto& f) { f[s.offset + s.length - 1] ^= 0x80; }, false), "checksum mismatch");
                expect(edit([&](auto& f) { f[s.offset] ^= 0x01; }, false), "checksum mismatch");
            }
        }
    }
    SUBCASE("versions and flags") {
        expect(edit([](auto& f) { fmt::store<uint16_t>(f.data() + 8, 2); }), "format version 2.1 is not readable");
        // A newer major version is named as such even when its header no longer checksums as v1's.
        expect(edit([](auto& f) { fmt::store<uint16_t>(f.data() + 8, 3); }, false), "format version 3.");
        expect(edit([](auto& f) { fmt::store<uint32_t>(f.data() + 12, 1); }), "required flags");
        // A newer minor version and optional flags are read as v1.
        test::write_file(bad_path, edit([](auto& f) {
                             fmt::store<uint16_t>(f.data() + 10, 7);
                             fmt::store<uint32_t>(f.data() + 12, 0x00010000);
                         }));
        CHECK(imgpack::Pack::open(bad_path.string()).version_minor() == 7);
    }
    SUBCASE("unknown sections: required ones are rejected, optional ones skipped") {
        size_t entry = 0;
        test::find_section(good, fmt::SectionKind::subset, 0, &entry);
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + entry, 99); }), "marked required");
        test::write_file(bad_path, edit([&](auto& f) {
                             fmt::store<uint32_t>(f.data() + entry, 99);
                             fmt::store<uint32_t>(f.data() + entry + 4, 0);
                         }));
        imgpack::Pack p = imgpack::Pack::open(bad_path.string());
        CHECK(p.subsets().empty());
        CHECK(p.split("train").size() == 4);
    }
    SUBCASE("class table: duplicate or empty WNIDs; no strings section") {
        auto ct = test::find_section(good, fmt::SectionKind::class_table);
        // Class 1's WNID reference := class 0's.
        expect(edit([&](auto& f) { std::copy_n(f.begin() + ct.offset + 8, 8, f.begin() + ct.offset + 24); }),
               "WNID 'n00000001' twice");
        // Class 0's WNID reference := class 1's (empty) name reference.
        expect(edit([&](auto& f) { std::copy_n(f.begin() + ct.offset + 32, 8, f.begin() + ct.offset + 8); }),
               "empty WNID");
        size_t entry = 0;
        test::find_section(good, fmt::SectionKind::strings, 0, &entry);
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + entry, 77); fmt::store<uint32_t>(f.data() + entry + 4, 0); }),
               "no strings section");
    }
    SUBCASE("empty sections overlap nothing, wherever the directory lists them") {
        // A pack with no records has an empty blob section at the same offset as the strings.
        TempDir empty_dir;
        {
            imgpack::PackWriter w(empty_dir / "e.imgpack", false);
            w.finish({{{"n1", ""}}, {{"test", {}}}, {}, {}});
        }
        auto f = test::read_file(empty_dir / "e.imgpack");
        fmt::FileHeader h = fmt::decode_header(f.data());
        // Swap directory entries 0 and 1 so the empty blob section comes after the strings.
        std::swap_ranges(f.begin() + h.directory_offset, f.begin() + h.directory_offset + 32,
                         f.begin() + h.directory_offset + 32);
        test::reseal(f);
        test::write_file(bad_path, f);
        CHECK(open_error(bad_path).empty());
        CHECK(imgpack::Pack::open(bad_path.string()).split("test").empty());
    }
    SUBCASE("sections outside the file, misaligned or overlapping") {
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + 24, fmt::decode_header(good.data()).directory_offset + 4); }),
               "directory offset");
        size_t entry = 0;
        auto s = test::find_section(good, fmt::SectionKind::strings, 0, &entry);
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + entry + 16, good.size()); }), "outside the file");
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + entry + 8, s.offset + 4); }), "not a multiple of 8");
        auto blobs = test::find_section(good, fmt::SectionKind::blobs);
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + entry + 8, blobs.offset + 8); }), "overlap");
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + entry + 8, 0); }), "overlap");
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + 24, good.size() - 8); }), "directory");
    }
    SUBCASE("records pointing outside their regions") {
        size_t r = record_at(good, 0, 1);
        auto blobs = test::find_section(good, fmt::SectionKind::blobs);
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + r, blobs.offset + blobs.length); }), "outside the blob section");
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + r, 0); }), "outside the blob section");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + r + 16, uint32_t(blobs.length)); }),
               "outside the blob section");
        expect(edit([&](auto& f) { fmt::store<uint64_t>(f.data() + r, UINT64_MAX - 2); }), "outside the blob section");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + r + 20, 0xFFFFFFF0u); }), "outside the strings section");
        expect(edit([&](auto& f) { fmt::store<uint16_t>(f.data() + r + 24, 3); }), "NUL-terminated");
        expect(edit([&](auto& f) { fmt::store<int32_t>(f.data() + r + 32, 2); }), "label 2 is not a class");
        expect(edit([&](auto& f) { fmt::store<int32_t>(f.data() + r + 32, -7); }), "label -7 is not a class");
    }
    SUBCASE("records out of order or duplicated") {
        size_t r0 = record_at(good, 0, 0), r1 = record_at(good, 0, 1);
        expect(edit([&](auto& f) { std::swap_ranges(f.begin() + r0, f.begin() + r0 + 40, f.begin() + r1); }),
               "sorted by name");
        expect(edit([&](auto& f) { std::copy(f.begin() + r0, f.begin() + r0 + 40, f.begin() + r1); }), "sorted by name");
    }
    SUBCASE("record counts that overrun their section") {
        auto sp = test::find_section(good, fmt::SectionKind::split);
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sp.offset + 8, 5); }), "overrun");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sp.offset + 8, 0xFFFFFFFFu); }), "overrun");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sp.offset + 12, 39); }), "record size");
        auto ct = test::find_section(good, fmt::SectionKind::class_table);
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + ct.offset, 3); }), "overruns");
    }
    SUBCASE("subset indices outside their split or out of order") {
        auto sub = test::find_section(good, fmt::SectionKind::subset);
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sub.offset + 32, 4); }), "outside split 'train'");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sub.offset + 36, 1); }), "strictly increasing");
        expect(edit([&](auto& f) { fmt::store<uint32_t>(f.data() + sub.offset + 24, 3); }), "overrun");
    }
    SUBCASE("a flipped bit in a blob opens, and per-record verification names it") {
        imgpack::Pack p = imgpack::Pack::open(good_path.string());
        size_t at = p.split("train")[2].offset + 100;
        test::write_file(bad_path, edit([&](auto& f) { f[at] ^= 0x01; }, false));
        imgpack::Pack q = imgpack::Pack::open(bad_path.string());
        CHECK(q.split("train")[0].verify());
        CHECK_FALSE(q.split("train")[2].verify());
        size_t blobs = 0;
        while (q.sections()[blobs].kind != uint32_t(fmt::SectionKind::blobs)) ++blobs;
        CHECK_FALSE(q.verify_section(blobs));
        CHECK(p.verify_section(blobs));
    }
}

TEST_CASE("pack: names are ordered bytewise, as std::string orders them") {
    // open() compares each name with the one before 8 bytes at a time (State::bytewise_less). It
    // must agree with std::string_view's < everywhere: within and across 8-byte words, on bytes
    // above 0x7F (unsigned), and where one name is a prefix of the other.
    std::mt19937 rng(7);
    const std::string alphabet = std::string("ab0_.\x7f\x80\xff", 8);
    auto pick = [&] { return alphabet[rng() % alphabet.size()]; };
    size_t disagreements = 0, less = 0;
    std::string example;
    for (int i = 0; i < 100000; ++i) {
        std::string a;
        for (size_t n = rng() % 26; n > 0; --n) a += pick();
        std::string b = a;  // most pairs share a prefix, as names in one class do
        switch (rng() % 5) {
            case 4:  // a common prefix, then independent tails: several bytes differ in one word
                b.resize(rng() % (b.size() + 1));
                for (size_t n = rng() % 12; n > 0; --n) b += pick();
                break;
            case 0: if (!b.empty()) b[rng() % b.size()] = pick(); break;
            case 1: b.resize(rng() % (b.size() + 1)); break;
            case 2: b += pick(); break;
            default: b += pick(), a += pick();  // equal up to the last byte
        }
        bool want = std::string_view(a) < std::string_view(b);
        less += want;
        if (imgpack::detail::State::bytewise_less(a, b) != want && disagreements++ == 0) example = a + " | " + b;
    }
    CHECK_MESSAGE(disagreements == 0, "first disagreement: ", example);
    CHECK(less > 20000);  // both outcomes were exercised

    // And through open(): long names that differ only past their first 8 bytes, in high bytes.
    TempDir dir;
    SmallPack pack;
    // The 2nd and 3rd differ in two bytes of one 8-byte word ('1' < '2', then 0xFF > 0x80): only
    // a compare in byte order, not a little-endian word compare, puts them right.
    pack.train_names = {"n01440764_10009.JPEG", "n01440764_1001\xff.JPEG", "n01440764_1002\x80.JPEG",
                        "n01440764_1002\x80.JPEGx"};
    REQUIRE(std::is_sorted(pack.train_names.begin(), pack.train_names.end()));
    pack.write(dir / "long.imgpack");
    imgpack::Pack p = imgpack::Pack::open((dir / "long.imgpack").string());
    for (size_t i = 0; i < 4; ++i) CHECK(p.split("train")[i].name == pack.train_names[i]);
    for (size_t swap : {0, 1, 2}) {
        auto f = test::read_file(dir / "long.imgpack");
        size_t r = test::find_section(f, fmt::SectionKind::split, 0).offset + fmt::kSplitHeaderSize + swap * fmt::kRecordSize;
        std::swap_ranges(f.begin() + r, f.begin() + r + fmt::kRecordSize, f.begin() + r + fmt::kRecordSize);
        test::reseal(f);
        test::write_file(dir / "bad.imgpack", f);
        CAPTURE(swap);
        CHECK(open_error(dir / "bad.imgpack").find("sorted by name") != std::string::npos);
    }
}

TEST_CASE("pack: thousands of random corruptions are rejected or read safely") {
    // Raw flips exercise the checksums; flips followed by a reseal exercise every structural
    // check behind them. Under ASan/UBSan any out-of-bounds read fails this test.
    TempDir dir;
    SmallPack{}.write(dir / "good.imgpack");
    const auto good = test::read_file(dir / "good.imgpack");
    const auto blobs = test::find_section(good, fmt::SectionKind::blobs);
    std::mt19937_64 rng(12345);
    size_t rejected = 0, opened = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        auto f = good;
        const bool seal = iter % 2 == 1;
        int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            // Aim most flips at metadata, where the structure is.
            size_t at = rng() % 4 ? blobs.offset + blobs.length + rng() % (f.size() - blobs.offset - blobs.length)
                                  : rng() % f.size();
            f[at] ^= static_cast<unsigned char>(1u << (rng() % 8));
        }
        if (seal) test::reseal(f);
        test::write_file(dir / "x.imgpack", f);
        try {
            imgpack::Pack p = imgpack::Pack::open((dir / "x.imgpack").string());
            read_everything(p);
            ++opened;
        } catch (const imgpack::Error&) {
            ++rejected;
        }
    }
    MESSAGE("rejected ", rejected, ", opened and read ", opened);
    CHECK(rejected > 1000);
    CHECK(opened > 0);
}
