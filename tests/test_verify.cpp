// imgpack verify: one pass that checks every record and the blob section's own checksum, on a
// pack where the pass's sort by offset and its hand-over of the section hash between threads
// both matter (interleaved_pack.hpp). The same pass under ThreadSanitizer: test_verify_pass.cpp.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include "interleaved_pack.hpp"
#include "jpeg_encode.hpp"
#include "synth_fixture.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <turbojpeg.h>
#include <xxhash.h>

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

// --- verify --decode (issue 13 item 15): damage a checksum cannot see --------------------------

namespace {

using Bytes = std::vector<unsigned char>;

// A pack of one split, "validation", holding these records (sorted by name) as they are, each
// with the checksum of its own bytes: the converter stored them so, and plain verify passes it.
void write_pack_of(const test::fs::path& out, std::vector<std::pair<std::string, Bytes>> records) {
    std::sort(records.begin(), records.end());
    imgpack::PackWriter w(out, false);
    imgpack::PackContents c;
    c.splits.push_back({"validation", {}});
    for (const auto& [name, bytes] : records) {
        imgpack::RecordDef r;
        r.name = name;
        r.blob_offset = w.append_blob(bytes);
        r.blob_size = uint32_t(bytes.size());
        r.xxh3 = XXH3_64bits(bytes.data(), bytes.size());
        r.codec = imgpack::format::Codec::jpeg;
        c.splits[0].records.push_back(r);
    }
    w.finish(c);
}

// The same picture as a progressive JPEG (several scans, each with its own header).
Bytes progressive(const Bytes& jpeg) {
    tjhandle d = tjInitDecompress();
    int w = 0, h = 0, sub = 0, cs = 0;
    REQUIRE(tjDecompressHeader3(d, jpeg.data(), jpeg.size(), &w, &h, &sub, &cs) == 0);
    Bytes rgb(size_t(w) * size_t(h) * 3);
    REQUIRE(tjDecompress2(d, jpeg.data(), jpeg.size(), rgb.data(), w, 0, h, TJPF_RGB, 0) == 0);
    tjDestroy(d);
    return test::encode_jpeg(rgb.data(), w, h, TJPF_RGB, TJSAMP_420, 90, TJFLAG_PROGRESSIVE);
}

// Where the n-th scan (SOS marker, FF DA) starts; n counts from 0.
size_t scan_at(const Bytes& jpeg, int n) {
    for (size_t i = 2; i + 1 < jpeg.size(); ++i)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA && n-- == 0) return i;
    FAIL("too few scans");
    return 0;
}

}  // namespace

TEST_CASE("verify --decode: images whose checksum matches but that do not decode are named, on any number of threads") {
    const auto& d = test::synth_imagenet();
    imgpack::Pack source = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& val = source.split("validation");
    REQUIRE(val.size() >= 5);
    auto bytes_of = [&](size_t i) { return Bytes(val[i].data.begin(), val[i].data.end()); };
    auto name = [](int n) { return "ILSVRC2012_val_0000000" + std::to_string(n) + ".JPEG"; };

    // The case: a JPEG cut short in the middle of its scan, its header intact.
    Bytes truncated = bytes_of(1);
    const size_t scan = scan_at(truncated, 0);
    truncated.resize(scan + (truncated.size() - scan) / 2);
    // A second case of the class: a progressive JPEG whose third scan's header is damaged (its
    // spectral end set past 63). Header checks stop at the first scan; only decoding reaches it.
    const Bytes intact_progressive = progressive(bytes_of(2));
    Bytes bad_scan = intact_progressive;
    const size_t sos = scan_at(bad_scan, 2);
    bad_scan[sos + 5 + 2 * size_t(bad_scan[sos + 4]) + 1] = 64;
    // A third: bytes that are no JPEG at all (a PNG signature and header).
    const Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};

    test::TempDir dir;
    const auto pack = dir / "damaged.imgpack";
    write_pack_of(pack, {{name(1), bytes_of(0)},
                         {name(2), truncated},
                         {name(3), intact_progressive},
                         {name(4), bad_scan},
                         {name(5), png},
                         {name(6), bytes_of(3)}});

    auto plain = test::cli("verify " + test::quote(pack.string()));
    CHECK_MESSAGE(plain.status == 0, plain.err);  // every checksum matches: plain verify cannot see it

    std::string first_err;
    for (unsigned jobs : {1u, 2u, 3u}) {
        CAPTURE(jobs);
        auto r = test::cli("verify --decode -j " + std::to_string(jobs) + " " + test::quote(pack.string()));
        CHECK(r.status == 1);
        CHECK(r.out.empty());
        CHECK_MESSAGE(contains(r.err, "split 'validation' record 1 (" + name(2) + "): does not decode: JPEG: "
                                      "Premature end of JPEG file"), r.err);
        CHECK_MESSAGE(contains(r.err, "split 'validation' record 3 (" + name(4) + "): does not decode: JPEG: "
                                      "Invalid progressive parameters"), r.err);
        CHECK_MESSAGE(contains(r.err, "split 'validation' record 4 (" + name(5) + "): does not decode: JPEG: "
                                      "Not a JPEG file"), r.err);
        for (int intact : {1, 3, 6}) CHECK_MESSAGE(!contains(r.err, name(intact)), r.err);
        CHECK(contains(r.err, "FAILED: 0 of 6 records corrupt, 3 that do not decode"));
        if (jobs == 1) first_err = r.err;
        CHECK(r.err == first_err);  // named in split order, whichever thread decoded them
    }
}

TEST_CASE("verify --decode: a converted pack decodes whole, and a record with a bad checksum is named once, as corrupt") {
    const auto& d = test::synth_imagenet();
    auto ok = test::cli("verify --decode -j 2 " + test::quote(d.pack.string()));
    CHECK_MESSAGE(ok.status == 0, ok.err);
    CHECK(contains(ok.out, "all checksums match, every image decodes"));

    imgpack::Pack pack = imgpack::Pack::open(d.pack.string());
    const imgpack::Split& val = pack.split("validation");
    auto bytes = test::read_file(d.pack);
    bytes[val[4].offset + val[4].data.size() - 3] ^= 0x40;  // inside the scan, near its end
    test::TempDir dir;
    test::write_file(dir / "bad.imgpack", bytes);
    auto bad = test::cli("verify --decode " + test::quote((dir / "bad.imgpack").string()));
    CHECK(bad.status == 1);
    const std::string named = "record 4 (" + std::string(val[4].name) + ")";
    CHECK_MESSAGE(contains(bad.err, named + ": checksum mismatch"), bad.err);
    CHECK_MESSAGE(bad.err.find(named) == bad.err.rfind(named), bad.err);
    CHECK(contains(bad.err, "1 of"));
    CHECK(contains(bad.err, "0 that do not decode"));
}
