// The verify pass's threads (tool/verify_pass.cpp): part of imgpack_thread_tests, so that
// `./dev test` runs it under ThreadSanitizer. The same results on 1 to 8 threads, for a good pack
// and for damage to records and to the padding only the section checksum covers.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "interleaved_pack.hpp"
#include "verify_pass.hpp"

#include <imgpack/reader.hpp>

namespace {

imgpack::cli::BlobCheck check(const imgpack::Pack& pack, unsigned threads) {
    for (size_t s = 0; s < pack.sections().size(); ++s)
        if (pack.sections()[s].kind == uint32_t(imgpack::format::SectionKind::blobs))
            return imgpack::cli::check_blobs(pack, s, threads);
    FAIL("no blob section");
    return {};
}

}  // namespace

TEST_CASE("verify pass: every record and the blob section, the same on 1 to 8 threads") {
    test::TempDir dir;
    auto good = dir / "good.imgpack";
    test::write_interleaved_pack(good);
    imgpack::Pack pack = imgpack::Pack::open(good.string());
    uint64_t total = 0;
    for (const imgpack::Split& s : pack.splits()) total += s.blob_bytes();

    auto bytes = test::read_file(good);
    const imgpack::Split& a = pack.split("a");
    bytes[a[3].offset] ^= 0x80;                       // a record
    bytes[a[120].offset + a[120].data.size() - 1] ^= 1;  // another, at its last byte
    auto bad = dir / "bad.imgpack";
    test::write_file(bad, bytes);
    imgpack::Pack damaged = imgpack::Pack::open(bad.string());

    for (unsigned threads : {1u, 2u, 3u, 8u}) {
        CAPTURE(threads);
        auto ok = check(pack, threads);
        CHECK(ok.section_ok);
        CHECK(ok.corrupt.empty());
        CHECK(ok.record_bytes == total);

        auto r = check(damaged, threads);
        CHECK_FALSE(r.section_ok);
        REQUIRE(r.corrupt.size() == 2);
        CHECK(r.corrupt[0].split == 0);
        CHECK(r.corrupt[0].index == 3);
        CHECK(r.corrupt[1].index == 120);
    }
}
