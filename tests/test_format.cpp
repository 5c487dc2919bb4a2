// The shared layout: sizes and offsets are the contract in docs/FORMAT.md.
#include <doctest/doctest.h>

#include <imgpack/format.hpp>

#include <cstring>

namespace fmt = imgpack::format;

TEST_CASE("format: header fields sit at the documented offsets") {
    fmt::FileHeader h{};
    std::memcpy(h.magic, fmt::kMagic, 8);
    h.version_major = 0x0102;
    h.version_minor = 0x0304;
    h.flags = 0x05060708;
    h.file_size = 0x1112131415161718ull;
    h.directory_offset = 0x2122232425262728ull;
    h.section_count = 0x31323334;
    h.section_entry_size = 32;
    h.blob_align = 64;
    h.directory_xxh3 = 0x4142434445464748ull;
    h.header_xxh3 = 0x5152535455565758ull;
    unsigned char b[fmt::kHeaderSize];
    fmt::encode_header(h, b);
    CHECK(b[0] == 0x89);
    CHECK(std::memcmp(b + 1, "IMGPACK", 7) == 0);
    CHECK(b[8] == 0x02);   // little-endian u16 at 8
    CHECK(b[9] == 0x01);
    CHECK(b[10] == 0x04);
    CHECK(b[12] == 0x08);
    CHECK(b[16] == 0x18);
    CHECK(b[23] == 0x11);
    CHECK(b[24] == 0x28);
    CHECK(b[32] == 0x34);
    CHECK(b[36] == 32);
    CHECK(b[40] == 64);
    CHECK(b[48] == 0x48);
    CHECK(b[56] == 0x58);
    fmt::FileHeader d = fmt::decode_header(b);
    CHECK(d.file_size == h.file_size);
    CHECK(d.directory_offset == h.directory_offset);
    CHECK(d.header_xxh3 == h.header_xxh3);
}

TEST_CASE("format: a record round-trips through its 40 bytes") {
    fmt::Record r{0x0102030405060708ull, 0xA1A2A3A4A5A6A7A8ull, 123456, 7890, 21, 500, 375,
                  uint8_t(fmt::Codec::jpeg), uint8_t(fmt::ColorSpace::ycck), -1, fmt::kRecordRepaired};
    unsigned char b[fmt::kRecordSize + 1];
    b[fmt::kRecordSize] = 0xEE;  // a guard: encode writes exactly 40 bytes
    fmt::encode_record(r, b);
    CHECK(b[fmt::kRecordSize] == 0xEE);
    CHECK(b[0] == 0x08);
    CHECK(fmt::load<uint32_t>(b + 16) == 123456);
    CHECK(fmt::load<uint16_t>(b + 26) == 500);
    CHECK(b[30] == 1);
    CHECK(b[31] == 5);
    CHECK(fmt::load<int32_t>(b + 32) == -1);
    fmt::Record d = fmt::decode_record(b);
    CHECK(d.blob_offset == r.blob_offset);
    CHECK(d.xxh3 == r.xxh3);
    CHECK(d.blob_size == r.blob_size);
    CHECK(d.name_offset == r.name_offset);
    CHECK(d.name_length == r.name_length);
    CHECK(d.width == 500);
    CHECK(d.height == 375);
    CHECK(d.label == -1);
    CHECK(d.flags == fmt::kRecordRepaired);
}

TEST_CASE("format: section entries, subset and split headers round-trip") {
    unsigned char b[64] = {};
    fmt::encode_section({5, 1, 4096, 12345, 0xDEADBEEFull}, b);
    fmt::SectionEntry s = fmt::decode_section(b);
    CHECK(s.kind == 5);
    CHECK(s.flags == 1);
    CHECK(s.offset == 4096);
    CHECK(s.length == 12345);
    CHECK(s.xxh3 == 0xDEADBEEFull);

    fmt::encode_subset_header({{1, 2}, {3, 4}, {5, 6}, 7, 0}, b);
    fmt::SubsetHeader sub = fmt::decode_subset_header(b);
    CHECK(sub.name.offset == 1);
    CHECK(sub.split_name.length == 4);
    CHECK(sub.origin.offset == 5);
    CHECK(sub.count == 7);

    fmt::encode_split_header({{9, 10}, 11, fmt::kRecordSize}, b);
    fmt::SplitHeader sp = fmt::decode_split_header(b);
    CHECK(sp.name.offset == 9);
    CHECK(sp.record_count == 11);
    CHECK(sp.record_size == 40);
}

TEST_CASE("format: align_up") {
    CHECK(fmt::align_up(0, 64) == 0);
    CHECK(fmt::align_up(1, 64) == 64);
    CHECK(fmt::align_up(64, 64) == 64);
    CHECK(fmt::align_up(4097, 4096) == 8192);
}
