// The golden pack (tests/golden/golden.imgpack, every byte of it printed in docs/FORMAT.md §10):
// the writer must reproduce it byte for byte, and the reader and format.hpp must read back each
// field as the literal value the spec's dump shows. The expected values below are written out,
// not computed by the code under test, so a mistake shared by the writer and the reader (both
// use format.hpp) still fails here.
//
// After a deliberate format change (tests/golden/README.md):
//   IMGPACK_UPDATE_GOLDEN=1 build/tests/imgpack_tests -tc='golden*'   rewrites golden.imgpack
#include <doctest/doctest.h>

#include "golden/golden_contents.hpp"
#include "helpers.hpp"

#include <imgpack/reader.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace fmt = imgpack::format;

namespace {

const std::filesystem::path kGolden = std::filesystem::path(IMGPACK_TESTS_DIR) / "golden" / "golden.imgpack";

std::string as_string(std::span<const unsigned char> s) { return {s.begin(), s.end()}; }
std::string stand_in(const std::string& label) { return "\xFF\xD8\xFF" + label + "\xFF\xD9"; }

}  // namespace

TEST_CASE("golden: PackWriter reproduces tests/golden/golden.imgpack byte for byte") {
    test::TempDir dir;
    const auto out = dir / "golden.imgpack";
    {
        imgpack::PackWriter w(out, false);
        imgpack::PackContents contents = golden::write_blobs(w);
        w.finish(contents);
    }
    const std::vector<unsigned char> written = test::read_file(out);
    if (const char* update = std::getenv("IMGPACK_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        test::write_file(kGolden, written);
        MESSAGE("rewrote " << kGolden.string() << "; now update docs/FORMAT.md §10 (tests/golden/README.md)");
    }
    const std::vector<unsigned char> golden = test::read_file(kGolden);
    // Where they differ, as byte ranges to look up in FORMAT.md §10's dump (the header's
    // checksums differ whenever anything does, so more than the first range is shown).
    std::string ranges;
    size_t shown = 0;
    for (size_t i = 0; i < std::min(written.size(), golden.size()) && shown < 8;) {
        if (written[i] == golden[i]) {
            ++i;
            continue;
        }
        size_t end = i;
        while (end < std::min(written.size(), golden.size()) && written[end] != golden[end]) ++end;
        ranges += " [" + std::to_string(i) + ", " + std::to_string(end) + ")";
        ++shown;
        i = end;
    }
    INFO("written " << written.size() << " bytes, golden " << golden.size() << "; differing at" << ranges
                    << " (tests/golden/README.md)");
    CHECK(written == golden);
}

// The header, directory and every structure decoded with format.hpp at the offsets FORMAT.md
// gives, against the values FORMAT.md §10 prints.
TEST_CASE("golden: format.hpp decodes every structure of the golden pack to the spec's values") {
    const std::vector<unsigned char> f = test::read_file(kGolden);
    REQUIRE(f.size() == 5440);
    const unsigned char* p = f.data();

    fmt::FileHeader h = fmt::decode_header(p);
    CHECK(std::string(reinterpret_cast<const char*>(h.magic), 8) == "\x89IMGPACK");
    CHECK(h.version_major == 1);
    CHECK(h.version_minor == 2);
    CHECK(h.flags == 0);
    CHECK(h.file_size == 5440);
    CHECK(h.directory_offset == 5184);
    CHECK(h.section_count == 8);
    CHECK(h.section_entry_size == 32);
    CHECK(h.blob_align == 64);
    CHECK(h.reserved0 == 0);
    CHECK(h.directory_xxh3 == 0x5CC9CA549565A6C0ull);
    CHECK(h.header_xxh3 == 0xAFCF262FAA7A40AFull);
    CHECK(XXH3_64bits(p, 56) == h.header_xxh3);
    CHECK(XXH3_64bits(p + 5184, 8 * 32) == h.directory_xxh3);

    struct Entry {
        uint32_t kind, flags;
        uint64_t offset, length;
    };
    const Entry want[8] = {{5, 1, 4096, 256}, {1, 1, 4352, 253}, {2, 1, 4608, 40}, {3, 1, 4672, 136},
                           {3, 1, 4864, 56},  {4, 1, 4928, 40},  {6, 0, 4992, 32}, {7, 0, 5056, 104}};
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        fmt::SectionEntry e = fmt::decode_section(p + 5184 + 32 * i);
        CHECK(e.kind == want[i].kind);
        CHECK(e.flags == want[i].flags);
        CHECK(e.offset == want[i].offset);
        CHECK(e.length == want[i].length);
        CHECK(e.xxh3 == XXH3_64bits(p + want[i].offset, want[i].length));
    }

    // Class table at 4608: count 2, entry size 16, then (wnid, name) string references.
    CHECK(fmt::load<uint32_t>(p + 4608) == 2);
    CHECK(fmt::load<uint32_t>(p + 4612) == 16);
    fmt::ClassEntry c0 = fmt::decode_class_entry(p + 4616), c1 = fmt::decode_class_entry(p + 4632);
    CHECK((c0.wnid.offset == 0 && c0.wnid.length == 9 && c0.name.offset == 10 && c0.name.length == 5));
    CHECK((c1.wnid.offset == 16 && c1.wnid.length == 9 && c1.name.offset == 26 && c1.name.length == 0));

    // Split "train" at 4672 and its first record.
    fmt::SplitHeader train = fmt::decode_split_header(p + 4672);
    CHECK((train.name.offset == 27 && train.name.length == 5));
    CHECK(train.record_count == 3);
    CHECK(train.record_size == 40);
    fmt::Record r = fmt::decode_record(p + 4688);
    CHECK(r.blob_offset == 4160);
    CHECK(r.xxh3 == 0x907844A65E821D31ull);
    CHECK(r.blob_size == 16);
    CHECK(r.name_offset == 33);
    CHECK(r.name_length == 20);
    CHECK(r.width == 500);
    CHECK(r.height == 375);
    CHECK(r.codec == 1);
    CHECK(r.color_space == 2);
    CHECK(r.label == 0);
    CHECK(r.flags == 0);
    fmt::Record repaired = fmt::decode_record(p + 4688 + 80);
    CHECK(repaired.label == 1);
    CHECK(repaired.flags == fmt::kRecordRepaired);

    // Split "test" at 4864: one unlabeled record.
    fmt::SplitHeader test_split = fmt::decode_split_header(p + 4864);
    CHECK((test_split.name.offset == 94 && test_split.name.length == 4 && test_split.record_count == 1));
    CHECK(fmt::decode_record(p + 4880).label == -1);
    CHECK(fmt::kUnlabeled == -1);

    // Subset at 4928.
    fmt::SubsetHeader sub = fmt::decode_subset_header(p + 4928);
    CHECK((sub.name.offset == 129 && sub.name.length == 4));
    CHECK((sub.split_name.offset == 134 && sub.split_name.length == 5));
    CHECK((sub.origin.offset == 140 && sub.origin.length == 17));
    CHECK(sub.count == 2);
    CHECK(sub.reserved0 == 0);
    CHECK(fmt::load<uint32_t>(p + 4960) == 0);
    CHECK(fmt::load<uint32_t>(p + 4964) == 2);

    // Skipped section at 4992.
    CHECK(fmt::load<uint32_t>(p + 4992) == 1);
    CHECK(fmt::load<uint32_t>(p + 4996) == 24);
    fmt::SkippedEntry k = fmt::decode_skipped_entry(p + 5000);
    CHECK((k.split.offset == 158 && k.split.length == 4));
    CHECK((k.entry.offset == 163 && k.entry.length == 39));
    CHECK((k.reason.offset == 203 && k.reason.length == 10));

    // Provenance section at 5056 (since 1.2).
    fmt::ProvenanceHeader ph = fmt::decode_provenance_header(p + 5056);
    const unsigned char source_id[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                         0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    CHECK(std::equal(ph.source_id, ph.source_id + 16, source_id));
    CHECK(ph.shard_index == 1);
    CHECK(ph.shard_count == 4);
    CHECK(ph.split_count == 2);
    CHECK(ph.split_entry_size == 24);
    CHECK(ph.subset_count == 1);
    CHECK(ph.subset_entry_size == 16);
    fmt::ProvenanceSplit ps0 = fmt::decode_provenance_split(p + 5096), ps1 = fmt::decode_provenance_split(p + 5120);
    CHECK((ps0.name.offset == 214 && ps0.name.length == 5));
    CHECK((ps0.source_split.offset == 220 && ps0.source_split.length == 5));
    CHECK((ps0.source_subset.offset == 226 && ps0.source_subset.length == 5));
    CHECK((ps1.name.offset == 232 && ps1.source_split.offset == 237));
    CHECK((ps1.source_subset.offset == 242 && ps1.source_subset.length == 0));
    fmt::ProvenanceSubset pu = fmt::decode_provenance_subset(p + 5144);
    CHECK((pu.name.offset == 243 && pu.name.length == 4 && pu.source_subset.offset == 248 && pu.source_subset.length == 4));

    // The constants the spec's tables give.
    CHECK(fmt::kHeaderSize == 64);
    CHECK(fmt::kHeaderChecksummedBytes == 56);
    CHECK(fmt::kSectionEntrySize == 32);
    CHECK(fmt::kClassTableHeaderSize == 8);
    CHECK(fmt::kClassEntrySize == 16);
    CHECK(fmt::kSplitHeaderSize == 16);
    CHECK(fmt::kRecordSize == 40);
    CHECK(fmt::kSubsetHeaderSize == 32);
    CHECK(fmt::kSkippedHeaderSize == 8);
    CHECK(fmt::kSkippedEntrySize == 24);
    CHECK(fmt::kProvenanceHeaderSize == 40);
    CHECK(fmt::kProvenanceSplitEntrySize == 24);
    CHECK(fmt::kProvenanceSubsetEntrySize == 16);
    CHECK(fmt::kIdentityBytes == 16);
    CHECK(fmt::kVersionMinor == 2);
    CHECK(fmt::kSectionRequired == 1);
    CHECK(XXH3_64bits("", 0) == 0x2D06800538D394C2ull);  // §2's test vector
}

// Everything the public reader offers, against the spec's values.
TEST_CASE("golden: the reader reads every field of the golden pack as FORMAT.md §10 lists it") {
    auto pack = imgpack::Pack::open(kGolden.string());
    CHECK(pack.file_size() == 5440);
    CHECK(pack.version_major() == 1);
    CHECK(pack.version_minor() == 2);
    CHECK(pack.blob_align() == 64);
    CHECK(pack.id() == "bc1cba41421c1cd8dc7c91af771c76a6");  // §10's last line

    const auto sections = pack.sections();  // a copy: works whether sections() returns a reference or a value
    REQUIRE(sections.size() == 8);
    const uint32_t kinds[8] = {5, 1, 2, 3, 3, 4, 6, 7};
    const uint32_t flags[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    const uint64_t offsets[8] = {4096, 4352, 4608, 4672, 4864, 4928, 4992, 5056};
    const uint64_t lengths[8] = {256, 253, 40, 136, 56, 40, 32, 104};
    for (size_t i = 0; i < 8; ++i) {
        CAPTURE(i);
        const auto& s = sections[i];
        CHECK(s.kind == kinds[i]);
        CHECK(s.flags == flags[i]);
        CHECK(s.offset == offsets[i]);
        CHECK(s.length == lengths[i]);
        CHECK(s.known);
    }
    CHECK(sections[0].xxh3 == 0x6080404EB3830EA1ull);

    REQUIRE(pack.class_count() == 2);
    CHECK(pack.classes()[0].wnid == "n01440764");
    CHECK(pack.classes()[0].name == "tench");
    CHECK(pack.classes()[1].wnid == "n01443537");
    CHECK(pack.classes()[1].name == "");

    REQUIRE(pack.splits().size() == 2);
    CHECK(pack.splits()[0].name() == "train");
    CHECK(pack.splits()[1].name() == "test");

    struct Want {
        const char* name;
        uint64_t offset;
        std::string bytes;
        uint64_t xxh3;
        uint16_t width, height;
        fmt::ColorSpace color_space;
        int32_t label;
        const char* wnid;
        uint32_t flags;
    };
    const Want train_want[3] = {
        {"n01440764_10026.JPEG", 4160, stand_in("tench 10026"), 0x907844A65E821D31ull, 500, 375,
         fmt::ColorSpace::ycbcr, 0, "n01440764", 0},
        {"n01440764_2708.JPEG", 4096, stand_in("tench 2708"), 0xDE1EBC4758AB98DCull, 250, 188, fmt::ColorSpace::gray,
         0, "n01440764", 0},
        {"n01443537_1004.JPEG", 4224, stand_in("goldfish 1004, repaired"), 0x57A93F3845616EB3ull, 400, 300,
         fmt::ColorSpace::ycbcr, 1, "n01443537", 1},
    };
    const Want test_want = {"ILSVRC2012_test_00000001.JPEG", 4288, stand_in("test 1"), 0x3ABE21790D9EDB54ull, 500, 333,
                            fmt::ColorSpace::ycbcr, -1, "", 0};
    auto check_record = [](const imgpack::Record& r, const Want& w) {
        CAPTURE(w.name);
        CHECK(r.name == w.name);
        CHECK(r.offset == w.offset);
        CHECK(as_string(r.data) == w.bytes);
        CHECK(r.xxh3 == w.xxh3);
        CHECK(r.verify());
        CHECK(r.width == w.width);
        CHECK(r.height == w.height);
        CHECK(r.codec == fmt::Codec::jpeg);
        CHECK(r.color_space == w.color_space);
        CHECK(r.label == w.label);
        CHECK(r.labeled() == (w.label != -1));
        CHECK(r.wnid == w.wnid);
        CHECK(r.flags == w.flags);
        CHECK(r.repaired() == (w.flags == 1));
    };

    auto train = pack.split("train");
    REQUIRE(train.size() == 3);
    CHECK(train.blob_bytes() == 16 + 15 + 28);
    for (size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(train[i].index == i);
        check_record(train[i], train_want[i]);
        CHECK(train.find(train_want[i].name) == i);
    }
    CHECK(!train.find("n01440764_2708.jpeg"));

    auto test = pack.split("test");
    REQUIRE(test.size() == 1);
    check_record(test[0], test_want);

    REQUIRE(pack.subsets().size() == 1);
    auto sub = pack.subset("1pct");
    CHECK(sub.name() == "1pct");
    CHECK(sub.origin() == "list:1percent.txt");
    CHECK(sub.split().name() == "train");
    REQUIRE(sub.size() == 2);
    CHECK(sub.index(0) == 0);
    CHECK(sub.index(1) == 2);
    check_record(sub[0], train_want[0]);
    check_record(sub[1], train_want[2]);

    REQUIRE(pack.skipped().size() == 1);
    CHECK(pack.skipped()[0].split == "test");
    CHECK(pack.skipped()[0].entry == "test.tar: ILSVRC2012_test_00000002.JPEG");
    CHECK(pack.skipped()[0].reason == "empty file");

    const std::optional<imgpack::Provenance> prov = pack.provenance();
    REQUIRE(prov);
    CHECK(prov->source_id == "00112233445566778899aabbccddeeff");
    CHECK(prov->sharded());
    CHECK(prov->shard_index == 1);
    CHECK(prov->shard_count == 4);
    REQUIRE(prov->splits.size() == 2);
    CHECK(prov->splits[0].name == "train");
    CHECK(prov->splits[0].source_split == "train");
    CHECK(prov->splits[0].source_subset == "10pct");
    CHECK(prov->splits[1].name == "test");
    CHECK(prov->splits[1].source_split == "test");
    CHECK(prov->splits[1].source_subset == "");
    REQUIRE(prov->subsets.size() == 1);
    CHECK(prov->subsets[0].name == "1pct");
    CHECK(prov->subsets[0].source_subset == "1pct");
}

// The 1.1 golden pack (its contents without the provenance) is what the writer still writes for
// those contents: a pack without a 1.2 feature is written as 1.1, byte for byte as before.
TEST_CASE("golden: without a provenance section the writer writes the 1.1 golden pack, byte for byte") {
    test::TempDir dir;
    const auto out = dir / "golden-1.1.imgpack";
    {
        imgpack::PackWriter w(out, false);
        imgpack::PackContents contents = golden::write_blobs(w);
        contents.provenance.reset();
        w.finish(contents);
    }
    const auto old = std::filesystem::path(IMGPACK_TESTS_DIR) / "compat" / "1.1-golden.imgpack";
    CHECK(test::read_file(out) == test::read_file(old));
    CHECK(imgpack::Pack::open(out.string()).version_minor() == 1);
    CHECK(imgpack::Pack::open(out.string()).id() == "b8bda2c30ca88352c6938f890d9dd46f");  // tests/compat/1.1-golden.txt
}
