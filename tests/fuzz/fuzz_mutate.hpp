// Pack-aware mutations for the fuzz target: re-sealing checksums after an edit (as a writer
// would), and writing interesting values into the fields of the header, the directory and the
// metadata sections. Used by LLVMFuzzerCustomMutator (fuzz_open.cpp) and by replay_main.cpp.
// Like tests/helpers.hpp's reseal(), but on a raw buffer of any content.
#pragma once

#include <imgpack/format.hpp>

#include <xxhash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>

namespace imgpack::fuzz {

namespace fmt = imgpack::format;

// [offset, +length) lies inside a buffer of `size` bytes.
inline bool inside(uint64_t offset, uint64_t length, size_t size) { return offset <= size && length <= size - offset; }

// Recomputes every in-range section checksum, the directory checksum and the header checksum;
// with fix_file_size, also sets file_size to the buffer's size.
inline void reseal(uint8_t* f, size_t size, bool fix_file_size) {
    if (size < fmt::kHeaderSize) return;
    fmt::FileHeader h = fmt::decode_header(f);
    if (fix_file_size) h.file_size = size;
    const uint64_t dir_bytes = uint64_t{h.section_count} * h.section_entry_size;
    if (h.section_entry_size >= fmt::kSectionEntrySize && h.section_count <= fmt::kMaxSections &&
        inside(h.directory_offset, dir_bytes, size) && h.directory_offset >= fmt::kHeaderSize) {
        for (uint32_t i = 0; i < h.section_count; ++i) {
            uint8_t* e = f + h.directory_offset + uint64_t{i} * h.section_entry_size;
            fmt::SectionEntry s = fmt::decode_section(e);
            if (inside(s.offset, s.length, size)) s.xxh3 = XXH3_64bits(f + s.offset, s.length);
            fmt::encode_section(s, e);
        }
        h.directory_xxh3 = XXH3_64bits(f + h.directory_offset, dir_bytes);
    }
    fmt::encode_header(h, f);
    h.header_xxh3 = XXH3_64bits(f, fmt::kHeaderChecksummedBytes);
    fmt::encode_header(h, f);
}

// Writes an interesting value into one field: of the header, of a directory entry, or at an
// aligned position in a section (string references, counts, sizes, record fields, indices).
// Returns false when the buffer has no usable structure to aim at.
template <class Rng>
bool mutate_field(uint8_t* f, size_t size, Rng& rng) {
    if (size < fmt::kHeaderSize) return false;
    const fmt::FileHeader h = fmt::decode_header(f);
    auto pick = [&](uint64_t n) { return n ? rng() % n : 0; };
    // Candidate values: edges, sizes and offsets found in this file, and small numbers.
    auto value = [&](uint64_t near_offset, uint64_t near_length) -> uint64_t {
        switch (pick(12)) {
            case 0: return 0;
            case 1: return 1;
            case 2: return pick(64);
            case 3: return ~uint64_t{0};
            case 4: return 0xFFFFFFFFu;
            case 5: return 0x7FFFFFFFu;
            case 6: return 0x80000000u;
            case 7: return size - pick(2);
            case 8: return near_offset + pick(3) * 8 - 8;
            case 9: return near_length + pick(3) - 1;
            case 10: return near_offset + near_length;
            default: return uint64_t{1} << pick(64);
        }
    };
    auto store = [&](uint64_t at, unsigned width, uint64_t v) {
        if (!inside(at, width, size)) return false;
        for (unsigned b = 0; b < width; ++b) f[at + b] = static_cast<uint8_t>(v >> (8 * b));
        return true;
    };
    const uint64_t dir_bytes = uint64_t{h.section_count} * h.section_entry_size;
    const bool dir_ok = h.section_count > 0 && h.section_entry_size >= fmt::kSectionEntrySize &&
                        inside(h.directory_offset, dir_bytes, size);
    const unsigned choice = static_cast<unsigned>(pick(8));
    if (choice == 0 || !dir_ok) {
        // Header: flags, file_size, directory_offset, section_count, entry size, blob_align.
        static constexpr struct { unsigned at, width; } fields[] = {{8, 2}, {10, 2}, {12, 4}, {16, 8},
                                                                    {24, 8}, {32, 4}, {36, 4}, {40, 4}};
        const auto& fl = fields[pick(std::size(fields))];
        return store(fl.at, fl.width, value(h.directory_offset, dir_bytes));
    }
    const uint64_t entry_at = h.directory_offset + pick(h.section_count) * h.section_entry_size;
    const fmt::SectionEntry s = fmt::decode_section(f + entry_at);
    if (choice == 1) {
        // Directory entry: kind, flags, offset, length.
        static constexpr struct { unsigned at, width; } fields[] = {{0, 4}, {4, 4}, {8, 8}, {16, 8}};
        const auto& fl = fields[pick(std::size(fields))];
        uint64_t v = fl.at == 0 ? pick(10) : value(s.offset, s.length);
        return store(entry_at + fl.at, fl.width, v);
    }
    if (!inside(s.offset, s.length, size) || s.length < 4) return false;
    // Inside the section, mostly near its start (headers, first entries), at 2- or 4-byte steps.
    const uint64_t span = pick(4) ? std::min<uint64_t>(s.length, 256) : s.length;
    const unsigned width = pick(4) ? 4 : (pick(2) ? 2 : 1);
    const uint64_t at = s.offset + (pick((span - (width - 1) + 1) / 2) * 2);
    if (pick(3) == 0) {
        // Copy another field's value of this section: plausible offsets, lengths and indices.
        const uint64_t from = s.offset + pick(s.length / 4) * 4;
        if (!inside(from, 4, size)) return false;
        uint64_t v = uint64_t{f[from]} | uint64_t{f[from + 1]} << 8 | uint64_t{f[from + 2]} << 16 |
                     uint64_t{f[from + 3]} << 24;
        return store(at, width, v + pick(3) - 1);
    }
    return store(at, width, value(s.offset, s.length));
}

}  // namespace imgpack::fuzz
