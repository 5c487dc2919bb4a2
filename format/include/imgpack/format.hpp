// imgpack on-disk format, version 1: the layouts and constants that the writer and the reader
// share. docs/FORMAT.md is the contract; this header is its transcription, byte for byte.
//
// Every multi-byte integer is little-endian. Structures are read and written field by field with
// memcpy (never by casting a pointer into the mapping), so alignment and aliasing never matter.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace imgpack::format {

static_assert(std::endian::native == std::endian::little,
              "imgpack v1 reads and writes little-endian integers in place");

// --- file header: 64 bytes at offset 0 --------------------------------------------------------
inline constexpr unsigned char kMagic[8] = {0x89, 'I', 'M', 'G', 'P', 'A', 'C', 'K'};
inline constexpr uint16_t kVersionMajor = 1;
inline constexpr uint16_t kVersionMinor = 2;  // 1.1 added the skipped section (kind 6), 1.2 provenance (kind 7)
// v1 writers write the lowest minor whose features the file uses (FORMAT.md §7): 1.2 with a
// provenance section, else 1.1, so a file without one is byte for byte what a 1.1 writer wrote.
inline constexpr uint16_t kVersionMinorWithoutProvenance = 1;
inline constexpr uint32_t kHeaderSize = 64;
inline constexpr uint32_t kSectionEntrySize = 32;
inline constexpr uint32_t kSectionAlign = 8;       // every section offset is a multiple of this
inline constexpr uint64_t kBlobRegionAlign = 4096; // the blob section starts on a page
inline constexpr uint32_t kBlobAlign = 64;         // v1 writers start every blob on a cache line
inline constexpr uint32_t kMaxSections = 65536;

// Header flag bits 0-15 are "required": a reader rejects a file with one it does not know.
// Bits 16-31 are "optional": a reader ignores the ones it does not know. v1 defines none.
inline constexpr uint32_t kHeaderRequiredFlagsMask = 0x0000FFFFu;

struct FileHeader {
    unsigned char magic[8];
    uint16_t version_major;
    uint16_t version_minor;
    uint32_t flags;
    uint64_t file_size;          // the whole file, in bytes
    uint64_t directory_offset;   // where the section directory starts
    uint32_t section_count;      // entries in the directory
    uint32_t section_entry_size; // bytes per entry (32 in v1; larger in a later minor)
    uint32_t blob_align;         // the alignment the writer used for blobs (informative)
    uint32_t reserved0;          // 0
    uint64_t directory_xxh3;     // XXH3-64 of the directory bytes
    uint64_t header_xxh3;        // XXH3-64 of header bytes [0, 56)
};
inline constexpr size_t kHeaderChecksummedBytes = 56;

// --- section directory entry: 32 bytes ------------------------------------------------------
enum class SectionKind : uint32_t {
    strings = 1,     // raw bytes: file names, class names, split and subset names
    class_table = 2, // label -> (WNID, name)
    split = 3,       // one split: name and its fixed-width record array
    subset = 4,      // one named subset: sorted record indices into one split
    blobs = 5,       // the image bytes
    skipped = 6,     // since 1.1, optional: input entries the converter left out, and why
    provenance = 7,  // since 1.2, optional: the pack an export came from, and what it took
};
inline constexpr uint32_t kLastKnownSectionKind = 7;
// Section flag bit 0: the reader must understand this section's kind to read the file.
inline constexpr uint32_t kSectionRequired = 1u;

struct SectionEntry {
    uint32_t kind;
    uint32_t flags;
    uint64_t offset;
    uint64_t length;
    uint64_t xxh3;   // XXH3-64 of the section's bytes [offset, offset + length)
};

// A reference into the strings section: bytes [offset, offset + length), followed by a NUL.
struct StringRef {
    uint32_t offset;
    uint32_t length;
};

// --- class table section ----------------------------------------------------------------------
// u32 class_count, u32 entry_size (16), then class_count entries.
inline constexpr uint32_t kClassTableHeaderSize = 8;
inline constexpr uint32_t kClassEntrySize = 16;
struct ClassEntry {
    StringRef wnid;
    StringRef name;  // human-readable; may be empty
};

// --- split section ----------------------------------------------------------------------------
// 16-byte header, then record_count records of record_size bytes each.
inline constexpr uint32_t kSplitHeaderSize = 16;
inline constexpr uint32_t kRecordSize = 40;
struct SplitHeader {
    StringRef name;
    uint32_t record_count;
    uint32_t record_size;  // 40 in v1; a later minor may append fields
};

inline constexpr int32_t kUnlabeled = -1;

enum class Codec : uint8_t { unknown = 0, jpeg = 1, png = 2 };
enum class ColorSpace : uint8_t { unknown = 0, gray = 1, ycbcr = 2, rgb = 3, cmyk = 4, ycck = 5 };
// Record flag bits. Bits not defined here are 0 in v1 files and ignored by v1 readers.
inline constexpr uint32_t kRecordRepaired = 1u;  // bytes were re-encoded by the converter

struct Record {
    uint64_t blob_offset;  // absolute file offset of the image bytes
    uint64_t xxh3;         // XXH3-64 (seed 0) of the image bytes
    uint32_t blob_size;    // bytes
    uint32_t name_offset;  // file name, a StringRef split in two fields
    uint16_t name_length;
    uint16_t width;
    uint16_t height;
    uint8_t codec;         // Codec
    uint8_t color_space;   // ColorSpace
    int32_t label;         // class index, or kUnlabeled
    uint32_t flags;        // kRecord* bits
};

// --- subset section ---------------------------------------------------------------------------
// 32-byte header, then count u32 record indices into the split, strictly increasing.
inline constexpr uint32_t kSubsetHeaderSize = 32;
struct SubsetHeader {
    StringRef name;
    StringRef split_name;
    StringRef origin;      // how it was made, e.g. "list:1percent.txt"; may be empty
    uint32_t count;
    uint32_t reserved0;    // 0
};

// --- skipped section (since 1.1; written with the required flag clear) ----------------------
// u32 count, u32 entry_size (24), then count entries.
inline constexpr uint32_t kSkippedHeaderSize = 8;
inline constexpr uint32_t kSkippedEntrySize = 24;
struct SkippedEntry {
    StringRef split;   // the split the entry would have gone to
    StringRef entry;   // where it was: "<archive>: <member>" as the converter names it
    StringRef reason;  // why it was left out
};

// --- provenance section (since 1.2; written with the required flag clear) --------------------
// 40-byte header, then split_count split entries, then subset_count subset entries.
inline constexpr uint32_t kProvenanceHeaderSize = 40;
inline constexpr uint32_t kProvenanceSplitEntrySize = 24;
inline constexpr uint32_t kProvenanceSubsetEntrySize = 16;
inline constexpr size_t kIdentityBytes = 16;  // a pack identity (XXH3-128), canonical byte order
struct ProvenanceHeader {
    unsigned char source_id[kIdentityBytes];  // the source pack's identity (FORMAT.md §5.1)
    uint32_t shard_index;        // K of --shard K/N; 0 when not sharded
    uint32_t shard_count;        // N; 0 when not sharded
    uint32_t split_count;
    uint32_t split_entry_size;   // 24 in 1.2
    uint32_t subset_count;
    uint32_t subset_entry_size;  // 16 in 1.2
};
struct ProvenanceSplit {
    StringRef name;           // a split of this file
    StringRef source_split;   // the source split its records come from
    StringRef source_subset;  // the source subset it was made of; empty: the whole split
};
struct ProvenanceSubset {
    StringRef name;           // a subset of this file
    StringRef source_subset;  // the source subset it was carried from; empty: drawn at export
};

// --- little-endian field access -------------------------------------------------------------
// The host is little-endian (asserted above), so a field is its bytes copied.
template <class T>
inline T load(const unsigned char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
template <class T>
inline void store(unsigned char* p, T v) {
    std::memcpy(p, &v, sizeof v);
}

inline FileHeader decode_header(const unsigned char* p) {
    FileHeader h;
    std::memcpy(h.magic, p, 8);
    h.version_major = load<uint16_t>(p + 8);
    h.version_minor = load<uint16_t>(p + 10);
    h.flags = load<uint32_t>(p + 12);
    h.file_size = load<uint64_t>(p + 16);
    h.directory_offset = load<uint64_t>(p + 24);
    h.section_count = load<uint32_t>(p + 32);
    h.section_entry_size = load<uint32_t>(p + 36);
    h.blob_align = load<uint32_t>(p + 40);
    h.reserved0 = load<uint32_t>(p + 44);
    h.directory_xxh3 = load<uint64_t>(p + 48);
    h.header_xxh3 = load<uint64_t>(p + 56);
    return h;
}
inline void encode_header(const FileHeader& h, unsigned char* p) {
    std::memcpy(p, h.magic, 8);
    store(p + 8, h.version_major);
    store(p + 10, h.version_minor);
    store(p + 12, h.flags);
    store(p + 16, h.file_size);
    store(p + 24, h.directory_offset);
    store(p + 32, h.section_count);
    store(p + 36, h.section_entry_size);
    store(p + 40, h.blob_align);
    store(p + 44, h.reserved0);
    store(p + 48, h.directory_xxh3);
    store(p + 56, h.header_xxh3);
}

inline SectionEntry decode_section(const unsigned char* p) {
    return {load<uint32_t>(p), load<uint32_t>(p + 4), load<uint64_t>(p + 8),
            load<uint64_t>(p + 16), load<uint64_t>(p + 24)};
}
inline void encode_section(const SectionEntry& s, unsigned char* p) {
    store(p, s.kind);
    store(p + 4, s.flags);
    store(p + 8, s.offset);
    store(p + 16, s.length);
    store(p + 24, s.xxh3);
}

inline StringRef decode_string_ref(const unsigned char* p) {
    return {load<uint32_t>(p), load<uint32_t>(p + 4)};
}
inline void encode_string_ref(const StringRef& s, unsigned char* p) {
    store(p, s.offset);
    store(p + 4, s.length);
}

inline SplitHeader decode_split_header(const unsigned char* p) {
    return {decode_string_ref(p), load<uint32_t>(p + 8), load<uint32_t>(p + 12)};
}
inline void encode_split_header(const SplitHeader& h, unsigned char* p) {
    encode_string_ref(h.name, p);
    store(p + 8, h.record_count);
    store(p + 12, h.record_size);
}

inline Record decode_record(const unsigned char* p) {
    Record r;
    r.blob_offset = load<uint64_t>(p);
    r.xxh3 = load<uint64_t>(p + 8);
    r.blob_size = load<uint32_t>(p + 16);
    r.name_offset = load<uint32_t>(p + 20);
    r.name_length = load<uint16_t>(p + 24);
    r.width = load<uint16_t>(p + 26);
    r.height = load<uint16_t>(p + 28);
    r.codec = p[30];
    r.color_space = p[31];
    r.label = load<int32_t>(p + 32);
    r.flags = load<uint32_t>(p + 36);
    return r;
}
inline void encode_record(const Record& r, unsigned char* p) {
    store(p, r.blob_offset);
    store(p + 8, r.xxh3);
    store(p + 16, r.blob_size);
    store(p + 20, r.name_offset);
    store(p + 24, r.name_length);
    store(p + 26, r.width);
    store(p + 28, r.height);
    p[30] = r.codec;
    p[31] = r.color_space;
    store(p + 32, r.label);
    store(p + 36, r.flags);
}

inline SubsetHeader decode_subset_header(const unsigned char* p) {
    return {decode_string_ref(p), decode_string_ref(p + 8), decode_string_ref(p + 16),
            load<uint32_t>(p + 24), load<uint32_t>(p + 28)};
}
inline void encode_subset_header(const SubsetHeader& h, unsigned char* p) {
    encode_string_ref(h.name, p);
    encode_string_ref(h.split_name, p + 8);
    encode_string_ref(h.origin, p + 16);
    store(p + 24, h.count);
    store(p + 28, h.reserved0);
}

inline ClassEntry decode_class_entry(const unsigned char* p) {
    return {decode_string_ref(p), decode_string_ref(p + 8)};
}
inline void encode_class_entry(const ClassEntry& c, unsigned char* p) {
    encode_string_ref(c.wnid, p);
    encode_string_ref(c.name, p + 8);
}

inline SkippedEntry decode_skipped_entry(const unsigned char* p) {
    return {decode_string_ref(p), decode_string_ref(p + 8), decode_string_ref(p + 16)};
}
inline void encode_skipped_entry(const SkippedEntry& e, unsigned char* p) {
    encode_string_ref(e.split, p);
    encode_string_ref(e.entry, p + 8);
    encode_string_ref(e.reason, p + 16);
}

inline ProvenanceHeader decode_provenance_header(const unsigned char* p) {
    ProvenanceHeader h;
    std::memcpy(h.source_id, p, kIdentityBytes);
    h.shard_index = load<uint32_t>(p + 16);
    h.shard_count = load<uint32_t>(p + 20);
    h.split_count = load<uint32_t>(p + 24);
    h.split_entry_size = load<uint32_t>(p + 28);
    h.subset_count = load<uint32_t>(p + 32);
    h.subset_entry_size = load<uint32_t>(p + 36);
    return h;
}
inline void encode_provenance_header(const ProvenanceHeader& h, unsigned char* p) {
    std::memcpy(p, h.source_id, kIdentityBytes);
    store(p + 16, h.shard_index);
    store(p + 20, h.shard_count);
    store(p + 24, h.split_count);
    store(p + 28, h.split_entry_size);
    store(p + 32, h.subset_count);
    store(p + 36, h.subset_entry_size);
}
inline ProvenanceSplit decode_provenance_split(const unsigned char* p) {
    return {decode_string_ref(p), decode_string_ref(p + 8), decode_string_ref(p + 16)};
}
inline void encode_provenance_split(const ProvenanceSplit& e, unsigned char* p) {
    encode_string_ref(e.name, p);
    encode_string_ref(e.source_split, p + 8);
    encode_string_ref(e.source_subset, p + 16);
}
inline ProvenanceSubset decode_provenance_subset(const unsigned char* p) {
    return {decode_string_ref(p), decode_string_ref(p + 8)};
}
inline void encode_provenance_subset(const ProvenanceSubset& e, unsigned char* p) {
    encode_string_ref(e.name, p);
    encode_string_ref(e.source_subset, p + 8);
}

inline constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

inline const char* section_kind_name(uint32_t kind) {
    switch (static_cast<SectionKind>(kind)) {
        case SectionKind::strings: return "strings";
        case SectionKind::class_table: return "class_table";
        case SectionKind::split: return "split";
        case SectionKind::subset: return "subset";
        case SectionKind::blobs: return "blobs";
        case SectionKind::skipped: return "skipped";
        case SectionKind::provenance: return "provenance";
    }
    return "unknown";
}

}  // namespace imgpack::format
