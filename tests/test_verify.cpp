// imgpack verify: one pass that checks every record and the blob section's own checksum, on a
// pack where the pass's sort by offset and its hand-over of the section hash between threads
// both matter (interleaved_pack.hpp). The same pass under ThreadSanitizer: test_verify_pass.cpp.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include "interleaved_pack.hpp"

#include <imgpack/reader.hpp>

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct VerifyPack {
    test::TempDir dir;
    test::fs::path path = dir / "v.imgpack";
    VerifyPack() { test::write_interleaved_pack(path); }
};

const VerifyPack& verify_pack() {
    static VerifyPack p;
    return p;
}

test::RunResult verify(const test::fs::path& p, unsigned jobs) {
    return test::cli("verify -j " + std::to_string(jobs) + " " + test::quote(p.string()));
}

}  // namespace

TEST_CASE("verify: a good pack passes on any number of threads") {
    for (unsigned jobs : {1u, 2u, 3u, 8u}) {
        CAPTURE(jobs);
        auto r = verify(verify_pack().path, jobs);
        CHECK(r.status == 0);
        CHECK(contains(r.out, "OK: 400 records"));
        CHECK(r.err.empty());
    }
}

TEST_CASE("verify: damage to a record, to the padding between blobs or after the last one is found") {
    const auto& vp = verify_pack();
    imgpack::Pack pack = imgpack::Pack::open(vp.path.string());
    const imgpack::Split& b = pack.split("b");
    const auto good = test::read_file(vp.path);
    // A padding byte: after a blob that does not end on a 64-byte boundary.
    uint64_t padding = 0;
    for (imgpack::Record r : b)
        if ((r.offset + r.data.size()) % 64 != 0) {
            padding = r.offset + r.data.size();
            break;
        }
    REQUIRE(padding != 0);
    uint64_t section_end = 0;
    for (const imgpack::SectionInfo& s : pack.sections())
        if (s.kind == uint32_t(imgpack::format::SectionKind::blobs)) section_end = s.offset + s.length;

    struct Damage {
        const char* what;
        std::vector<uint64_t> at;
        size_t corrupt_records;
    };
    const Damage cases[] = {
        {"two records", {b[7].offset + b[7].data.size() / 2, b[150].offset}, 2},
        {"padding between blobs", {padding}, 0},
        {"the blob section's last byte", {section_end - 1}, 0},
    };
    test::TempDir dir;
    for (const Damage& d : cases) {
        CAPTURE(d.what);
        auto bytes = good;
        for (uint64_t at : d.at) bytes[at] ^= 0x01;
        auto bad = dir / "bad.imgpack";
        test::write_file(bad, bytes);
        for (unsigned jobs : {1u, 2u, 5u}) {
            CAPTURE(jobs);
            auto r = verify(bad, jobs);
            CHECK(r.status == 1);
            CHECK(contains(r.err, "FAILED: " + std::to_string(d.corrupt_records) + " of 400 records corrupt"));
            CHECK(contains(r.err, "blob section checksum mismatch"));
            if (d.corrupt_records == 2) {
                CHECK(contains(r.err, "split 'b' record 7 (" + std::string(b.name_at(7)) + "): checksum mismatch"));
                CHECK(contains(r.err, "split 'b' record 150 (" + std::string(b.name_at(150)) + ")"));
            }
        }
    }
}

TEST_CASE("verify --quick: the metadata only, what it passes and what it catches") {
    test::TempDir dir;
    const auto good = test::read_file(verify_pack().path);
    const std::string id = imgpack::Pack::open(verify_pack().path.string()).id();
    auto quick = [](const test::fs::path& p) { return test::cli("verify --quick " + test::quote(p.string())); };

    auto r = quick(verify_pack().path);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "OK (quick)"));
    CHECK(contains(r.out, "400 records, image bytes not checked"));
    CHECK(contains(r.out, "id " + id));

    // A damaged image byte: --quick does not read images, so it passes; the full check fails.
    auto image = good;
    auto blobs = test::find_section(image, imgpack::format::SectionKind::blobs);
    image[blobs.offset + 1] ^= 0x40;
    test::write_file(dir / "image.imgpack", image);
    CHECK(quick(dir / "image.imgpack").status == 0);
    CHECK(verify(dir / "image.imgpack", 2).status == 1);

    // A damaged metadata byte (a record's label in a split section): --quick fails, naming it.
    auto meta = good;
    auto split = test::find_section(meta, imgpack::format::SectionKind::split);
    meta[split.offset + 16 + 32] ^= 0x01;
    test::write_file(dir / "meta.imgpack", meta);
    r = quick(dir / "meta.imgpack");
    CHECK(r.status == 1);
    CHECK(contains(r.err, "(split) checksum mismatch"));
    CHECK(contains(r.err, (dir / "meta.imgpack").string()));
}
