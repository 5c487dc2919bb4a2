// ImageNet recompressed, as users hold it on clusters: the train tar of tars, the validation and
// the test tars as .tar.zst, .tar.gz, .tar.xz or .tar.bz2. The converter reads them in-stream
// through libarchive's decompression filters; each must give the very pack the plain tars give.
#include <doctest/doctest.h>

#include "synth_fixture.hpp"

#include <archive.h>
#include <archive_entry.h>

namespace {

using test::fs::path;

// `in`, compressed whole with libarchive's `filter` (its "raw" format: the data alone, no archive
// around it), as `zstd`, `gzip`, `xz` or `bzip2` would.
void compress(const path& in, const path& out, const char* filter) {
    const std::vector<unsigned char> bytes = test::read_file(in);
    archive* a = archive_write_new();
    REQUIRE(archive_write_add_filter_by_name(a, filter) == ARCHIVE_OK);
    REQUIRE(archive_write_set_format_raw(a) == ARCHIVE_OK);
    REQUIRE(archive_write_open_filename(a, out.c_str()) == ARCHIVE_OK);
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a, bytes.data(), bytes.size()) == static_cast<la_ssize_t>(bytes.size()));
    archive_entry_free(e);
    REQUIRE(archive_write_close(a) == ARCHIVE_OK);
    archive_write_free(a);
}

}  // namespace

TEST_CASE("recompressed inputs: .tar.zst, .tar.gz, .tar.xz and .tar.bz2 give the pack the plain tars give") {
    const auto& d = test::synth_imagenet();
    const std::vector<unsigned char> want = test::read_file(d.pack);
    test::TempDir dir;
    struct Kind {
        const char* filter;
        const char* ext;
        std::vector<unsigned char> magic;
    };
    for (const Kind& k : {Kind{"zstd", "zst", {0x28, 0xB5, 0x2F, 0xFD}}, Kind{"gzip", "gz", {0x1F, 0x8B}},
                          Kind{"xz", "xz", {0xFD, '7', 'z', 'X', 'Z'}}, Kind{"bzip2", "bz2", {'B', 'Z', 'h'}}}) {
        CAPTURE(k.filter);
        auto o = d.options(dir / (std::string(k.ext) + ".imgpack"));
        auto recompressed = [&](const path& tar) {
            path out = dir / (tar.filename().string() + "." + k.ext);
            compress(tar, out, k.filter);
            const std::vector<unsigned char> head = test::read_file(out);
            REQUIRE(head.size() > k.magic.size());
            CHECK(std::equal(k.magic.begin(), k.magic.end(), head.begin()));  // really compressed
            CHECK(head.size() < test::fs::file_size(tar));
            return out;
        };
        o.train = recompressed(d.s.train_tar);
        o.val = recompressed(d.s.val_tar);
        o.test = recompressed(d.s.test_tar);
        imgpack::ConvertSummary s = imgpack::convert(o);
        CHECK(s.splits.size() == 3);
        CHECK(test::read_file(o.output) == want);
    }
}
