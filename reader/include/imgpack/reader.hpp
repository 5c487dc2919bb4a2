// imgpack reader SDK: header-only. Maps a pack read-only, validates every offset, length, count,
// string reference and subset index once at open, then serves records with no copies.
//
//   imgpack::Pack pack = imgpack::Pack::open("imagenet.imgpack");
//   imgpack::Split train = pack.split("train");   // a view: it keeps the file mapped
//   imgpack::Record r = train[42];                // O(1): r.data, r.label, r.wnid, r.name, ...
//   for (imgpack::Record r : pack.subset("1pct")) { ... }   // a view into train, no copies
//
// Lifetimes. Pack, Split, Subset and the Splits/Subsets lists share ownership of one mapping:
// copy them freely, keep a Split or a Subset after the Pack that gave it is gone; the file stays
// mapped while any of them lives. None has a default constructor or a move (a moved-from one is
// a copy), so none is ever empty. What they hand out is a plain view into the mapping, like
// std::string_view: a Record, ClassInfo or SkippedInfo, every string_view and span in them, and
// the spans classes(), skipped() and sections() return are valid while the mapping lives, that
// is while any Pack, Split or Subset sharing it does (a second Pack::open of the same file makes
// a new mapping). Iterators are valid while the Split, Subset or list they came from lives;
// begin() of a temporary does not compile.
//
// The file under the mapping. Pack::open opens the path once and maps what it opened, so it sees
// one file whole: a pack replaced by rename (as `imgpack convert` and PackWriter replace one) is
// seen old or new, never mixed, and a Pack keeps reading the file it opened, even once renamed
// over or deleted. A mapped file must not be truncated or written in place: a read of a page that
// truncation removed raises SIGBUS (as with LMDB or any other mmap reader), and bytes changed in
// place are read unchecked. Replace a pack by writing a new file and renaming it over the old.
//
// Needs the C++20 standard library, POSIX (mmap) and xxHash's header. All reads are const and
// touch no shared mutable state, so one Pack may be used from many threads at once.
#pragma once

#include <imgpack/format.hpp>

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace imgpack {

// Every failure to open or read a pack: the message names the file and what is wrong.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ClassInfo {
    std::string_view wnid;
    std::string_view name;  // may be empty
};

// One record of a split: a plain value of views into the mapping, valid while the mapping lives
// (while any Pack, Split or Subset sharing it does; see the top of this file).
struct Record {
    uint32_t index = 0;               // position in its split (sorted by name)
    std::string_view name;            // file name, e.g. "n01440764_10026.JPEG"
    std::span<const unsigned char> data;  // the stored image bytes
    uint64_t offset = 0;              // where data starts in the file (for pread, O_DIRECT, ...)
    int32_t label = format::kUnlabeled;
    std::string_view wnid;            // empty when unlabeled
    uint16_t width = 0, height = 0;
    format::Codec codec = format::Codec::unknown;  // a value this reader does not know reads as unknown
    format::ColorSpace color_space = format::ColorSpace::unknown;  // likewise
    uint32_t flags = 0;
    uint64_t xxh3 = 0;                // checksum of data, as stored

    bool labeled() const { return label != format::kUnlabeled; }
    bool repaired() const { return (flags & format::kRecordRepaired) != 0; }
    bool verify() const { return XXH3_64bits(data.data(), data.size()) == xxh3; }
};

// How to map a pack. The defaults suit any pack; see each option for when to change it.
struct OpenOptions {
    // Ask the kernel to cache and map the file in 2 MiB pages (madvise MADV_HUGEPAGE; takes
    // effect where transparent huge pages are "madvise" or "always"). The page cache is filled by
    // whoever reads first, and mapped reads fill it 4 KiB at a time: random reads of small
    // records then take 20-30% longer, and 60-70% longer through a new mapping, than from a pack
    // cached in 2 MiB pages (docs/performance.md). With this set, every read that misses the
    // page cache reads 2-4 MiB from disk: right for a pack that fits in memory (read again and
    // again, as in training), wrong for one much larger than memory read at random.
    bool huge_pages = false;
};

// An input entry the converter left out of the pack (with --on-bad-image=skip), and why.
struct SkippedInfo {
    std::string_view split;
    std::string_view entry;   // "<archive>: <member>"
    std::string_view reason;
};

// Where a pack made by `imgpack export` came from (FORMAT.md §4.9): the source pack's identity and
// what was taken from it. Views into the mapping, like SkippedInfo.
struct ProvenanceSplit {
    std::string_view name;           // a split of this pack
    std::string_view source_split;   // the source split its records come from
    std::string_view source_subset;  // the source subset it was made of; empty: the whole split
};
struct ProvenanceSubset {
    std::string_view name;           // a subset of this pack
    std::string_view source_subset;  // the source subset it was carried from; empty: drawn at export
};
struct Provenance {
    std::string source_id;  // the source pack's identity, as Pack::id() gives it
    uint32_t shard_index = 0, shard_count = 0;  // shard K of N; both 0 when not sharded
    std::span<const ProvenanceSplit> splits;
    std::span<const ProvenanceSubset> subsets;
    bool sharded() const { return shard_count != 0; }
};

// One entry of the section directory, as found in the file.
struct SectionInfo {
    uint32_t kind;
    uint32_t flags;
    uint64_t offset;
    uint64_t length;
    uint64_t xxh3;
    bool known;  // a kind this reader understands
};

namespace detail {
struct State;
template <class Container, class Value>
class IndexIterator;
// What open() found for one split and for one subset: a Split or a Subset is this plus a share
// of the mapping's ownership.
struct SplitFields {
    std::string_view name;
    const unsigned char* records = nullptr;
    size_t count = 0;
    size_t stride = format::kRecordSize;
    uint64_t blob_bytes = 0;
};
struct SubsetFields {
    std::string_view name, origin;
    size_t split = 0;  // index into the pack's splits
    const unsigned char* indices = nullptr;
    size_t count = 0;
};
// begin() and end() of a view that has size() and operator[] (Split, Subset, the lists): only of
// a named view, since an iterator into a temporary one would dangle. A range-for over a
// temporary still works: it names the temporary first.
template <class View, class Value>
class IndexRange {
public:
    using iterator = IndexIterator<View, Value>;
    iterator begin() const& { return {view(), 0}; }
    iterator end() const& { return {view(), view()->size()}; }
    iterator begin() const&& = delete;
    iterator end() const&& = delete;

private:
    const View* view() const { return static_cast<const View*>(this); }
};
}  // namespace detail

template <class View>
class List;
class Subset;

// A split: a fixed-width record array sorted by file name. Keeps the mapping alive.
class Split : public detail::IndexRange<Split, Record> {
public:
    Split(const Split&) = default;  // copies share the mapping; no move: a moved-from Split stays whole
    Split& operator=(const Split&) = default;

    std::string_view name() const { return f_.name; }
    size_t size() const { return f_.count; }
    bool empty() const { return f_.count == 0; }
    uint64_t blob_bytes() const { return f_.blob_bytes; }  // sum of the records' data sizes

    // Record i, no bounds check (i < size()).
    Record operator[](size_t i) const;
    // Record i; throws Error when i >= size().
    Record at(size_t i) const;
    // The file name of record i (i < size()), without decoding the rest of it.
    std::string_view name_at(size_t i) const;
    // Binary search by file name: the record's index, or nullopt.
    std::optional<size_t> find(std::string_view file_name) const;
    // The pack's subset `name`, which must index this split: throws Error when the pack has no
    // such subset or it is a subset of another split (train's 1pct asked of validation).
    Subset subset(std::string_view name) const;

private:
    friend class Pack;
    friend class Subset;
    friend class List<Split>;
    Split(std::shared_ptr<const detail::State> state, size_t index);
    std::shared_ptr<const detail::State> state_;
    detail::SplitFields f_;
};

// A named subset: sorted record indices into one split. A view, never a copy; keeps the mapping
// alive.
class Subset : public detail::IndexRange<Subset, Record> {
public:
    Subset(const Subset&) = default;  // as Split: copies share the mapping, no move
    Subset& operator=(const Subset&) = default;

    std::string_view name() const { return f_.name; }
    std::string_view origin() const { return f_.origin; }  // how it was made; may be empty
    Split split() const { return split_; }  // the split it indexes
    size_t size() const { return f_.count; }
    bool empty() const { return f_.count == 0; }
    // The split index of the subset's i-th record (i < size()).
    uint32_t index(size_t i) const { return format::load<uint32_t>(f_.indices + 4 * i); }
    // The subset's i-th record, no bounds check (i < size()).
    Record operator[](size_t i) const { return split_[index(i)]; }
    // The subset's i-th record; throws Error when i >= size().
    Record at(size_t i) const;

private:
    friend class Pack;
    friend class Split;  // Split::subset
    friend class List<Subset>;
    Subset(const std::shared_ptr<const detail::State>& state, size_t index);
    Split split_;
    detail::SubsetFields f_;
};

// The splits or the subsets of a pack, in the directory's order (Pack::splits(), subsets()).
// Keeps the mapping alive, and gives each element by value.
template <class View>
class List : public detail::IndexRange<List<View>, View> {
public:
    List(const List&) = default;
    List& operator=(const List&) = default;

    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    View operator[](size_t i) const { return View(state_, i); }  // i < size()

private:
    friend class Pack;
    List(std::shared_ptr<const detail::State> state, size_t size) : state_(std::move(state)), size_(size) {}
    std::shared_ptr<const detail::State> state_;
    size_t size_;
};
using Splits = List<Split>;
using Subsets = List<Subset>;

// An open pack. Cheap to copy (copies share one mapping); the mapping lives while any copy, or
// any Split or Subset taken from one, does.
class Pack {
public:
    // Maps and validates the file; throws Error naming the file and the first problem found.
    static Pack open(const std::string& path, const OpenOptions& options = {});

    Pack(const Pack&) = default;  // no default constructor and no move: a Pack is never empty
    Pack& operator=(const Pack&) = default;

    std::string path() const;
    uint64_t file_size() const;
    uint16_t version_major() const;
    uint16_t version_minor() const;
    uint32_t blob_align() const;

    // The pack's content identity (FORMAT.md §5.1): the XXH3-128 of the header's checksummed
    // bytes and the section directory, as 32 lowercase hex digits. Known at open without reading
    // the blobs; it changes when any byte that a checksum covers changes (the directory holds
    // every section's checksum, the blob section's too), and not with the file's name, place or
    // times. Two packs with the same identity hold the same bytes, as written (up to XXH3's
    // chance of a collision; not proof against tampering); `imgpack verify` checks that the bytes
    // still are as written.
    std::string id() const;

    size_t class_count() const;
    // Views into the mapping; of a temporary Pack they would dangle, so that does not compile.
    std::span<const ClassInfo> classes() const&;
    std::span<const ClassInfo> classes() const&& = delete;
    // The class index of a WNID, or nullopt.
    std::optional<int32_t> find_class(std::string_view wnid) const;

    Splits splits() const;
    std::optional<Split> find_split(std::string_view name) const;
    Split split(std::string_view name) const;  // throws Error when there is no such split

    Subsets subsets() const;
    std::optional<Subset> find_subset(std::string_view name) const;
    Subset subset(std::string_view name) const;  // throws Error when there is no such subset

    // Input entries the converter left out (--on-bad-image=skip), in the order FORMAT.md §5 gives;
    // empty when none were, and for files older than format 1.1.
    std::span<const SkippedInfo> skipped() const&;
    std::span<const SkippedInfo> skipped() const&& = delete;

    // Where this pack came from, for a pack made by `imgpack export` (format 1.2); nullopt for
    // any other pack. Its spans and views are valid while the mapping lives.
    std::optional<Provenance> provenance() const&;
    std::optional<Provenance> provenance() const&& = delete;

    // The section directory as found in the file (unknown optional kinds included).
    std::span<const SectionInfo> sections() const&;
    std::span<const SectionInfo> sections() const&& = delete;

    // Checks the XXH3-64 of sections()[index] against the directory (open() already did this for
    // every metadata section; this is how the blob section's own checksum is checked). Takes an
    // index, not a SectionInfo, so that only ranges open() validated are ever read; throws Error
    // when index >= sections().size().
    bool verify_section(size_t index) const;

private:
    explicit Pack(std::shared_ptr<const detail::State> state) : state_(std::move(state)) {}
    std::shared_ptr<const detail::State> state_;
};

// ================================================================================================
// Implementation: nothing below is part of the API.
// ================================================================================================

namespace detail {

// Index-based iterator over anything with operator[] returning Value by value.
template <class Container, class Value>
class IndexIterator {
public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::random_access_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using reference = Value;

    IndexIterator() = default;
    IndexIterator(const Container* c, size_t i) : c_(c), i_(i) {}
    Value operator*() const { return (*c_)[i_]; }
    Value operator[](difference_type n) const { return (*c_)[i_ + n]; }
    IndexIterator& operator++() { ++i_; return *this; }
    IndexIterator operator++(int) { auto t = *this; ++i_; return t; }
    IndexIterator& operator--() { --i_; return *this; }
    IndexIterator operator--(int) { auto t = *this; --i_; return t; }
    IndexIterator& operator+=(difference_type n) { i_ += n; return *this; }
    IndexIterator& operator-=(difference_type n) { i_ -= n; return *this; }
    friend IndexIterator operator+(IndexIterator a, difference_type n) { return a += n; }
    friend IndexIterator operator+(difference_type n, IndexIterator a) { return a += n; }
    friend IndexIterator operator-(IndexIterator a, difference_type n) { return a -= n; }
    friend difference_type operator-(const IndexIterator& a, const IndexIterator& b) {
        return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const IndexIterator& a, const IndexIterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const IndexIterator& a, const IndexIterator& b) { return a.i_ <=> b.i_; }

private:
    const Container* c_ = nullptr;
    size_t i_ = 0;
};

// Unknown codec and color-space values read as unknown (FORMAT.md §4.5: a later minor version
// may add values). The last known value of each is the last enumerator in format.hpp.
inline format::Codec known_codec(uint8_t v) {
    return v <= static_cast<uint8_t>(format::Codec::png) ? static_cast<format::Codec>(v) : format::Codec::unknown;
}
inline format::ColorSpace known_color_space(uint8_t v) {
    return v <= static_cast<uint8_t>(format::ColorSpace::ycck) ? static_cast<format::ColorSpace>(v)
                                                               : format::ColorSpace::unknown;
}

// The XXH3-64 of one section, computed a block at a time as open()'s checks reach the bytes, so
// the strings and the record arrays come from memory once, not once to hash and again to check.
class SectionHasher {
public:
    SectionHasher(const unsigned char* data, uint64_t length) : data_(data), length_(length) {
        XXH3_64bits_reset(&state_);
    }
    // Everything before byte `end` of the section has been hashed (and often a block more).
    void advance_to(uint64_t end) {
        if (end > done_) advance(end);
        // One core's loads alone reach a fraction of the memory's bandwidth: ask for the next
        // block's lines while the checks work on this one, so hashing it finds them in cache.
        if (length_ > 0) __builtin_prefetch(data_ + std::min(end + kBlock, length_ - 1));
    }
    uint64_t finish() {
        advance(length_);
        return XXH3_64bits_digest(&state_);
    }

private:
    // Hashed a block at a time, and the next block prefetched: 16 KiB measured as fast as any
    // size from 8 to 64 KiB, and faster than 128 KiB or more (ImageNet-sized pack, 2 cores).
    static constexpr uint64_t kBlock = 16 << 10;
    void advance(uint64_t end) {
        uint64_t to = std::min(length_, std::max(end, done_ + kBlock));
        XXH3_64bits_update(&state_, data_ + done_, to - done_);
        done_ = to;
    }
    XXH3_state_t state_;
    const unsigned char* data_;
    uint64_t length_, done_ = 0;
};

// Owns the mapping and everything derived from it at open. Immutable after open.
struct State {
    std::string path;
    const unsigned char* base = nullptr;
    size_t size = 0;
    format::FileHeader header{};
    std::string id;                 // FORMAT.md §5.1, 32 lowercase hex digits
    std::vector<SectionInfo> sections;
    std::string_view strings;       // whole strings section (each string NUL-terminated)
    std::vector<ClassInfo> classes;
    std::vector<SplitFields> splits;
    std::vector<SubsetFields> subsets;
    // Indices into splits and subsets, sorted by name: duplicate checks and lookups by name in
    // O(n log n) and O(log n) (a pack may hold up to 65,536 sections).
    std::vector<uint32_t> splits_by_name, subsets_by_name;
    std::vector<SkippedInfo> skipped;
    std::optional<Provenance> provenance;  // its spans point into the two vectors below
    std::vector<ProvenanceSplit> provenance_splits;
    std::vector<ProvenanceSubset> provenance_subsets;
    const SectionInfo* blob_section = nullptr;
    // Open-time only: the strings section's checksum, advanced as string references are checked.
    std::unique_ptr<SectionHasher> strings_hash;
    size_t strings_section = 0;

    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        if (base) ::munmap(const_cast<unsigned char*>(base), size);
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw Error("imgpack: " + path + ": " + what);
    }

    void map(const std::string& file, const OpenOptions& options) {
        path = file;
        // Everything below goes through this one descriptor: a rename over `file` from now on
        // changes nothing that this open sees.
        int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            int e = errno;
            ::close(fd);
            fail(std::string("cannot stat: ") + std::strerror(e));
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            fail("not a regular file");
        }
        if (static_cast<uint64_t>(st.st_size) < format::kHeaderSize) {
            ::close(fd);
            fail("file is " + std::to_string(st.st_size) + " bytes, shorter than the " +
                 std::to_string(format::kHeaderSize) + "-byte header");
        }
        size = static_cast<size_t>(st.st_size);
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        int e = errno;
        ::close(fd);  // the mapping keeps the file alive
        if (p == MAP_FAILED) fail(std::string("mmap failed: ") + std::strerror(e));
        base = static_cast<const unsigned char*>(p);
        // Advice only: a kernel without transparent huge pages refuses it, and nothing changes.
#ifdef MADV_HUGEPAGE
        if (options.huge_pages) (void)::madvise(p, size, MADV_HUGEPAGE);
#endif
    }

    // A new mapping has no page-table entries, and validation reads every byte of the metadata
    // (83 MiB for ImageNet): faulted in as the checks reach it, that is a trap per 4-64 KiB (22 ms
    // of a 41 ms open on one machine, 2 ms of 18 on another). Map it in one call per contiguous
    // run instead (the blobs are left alone). Advice only: a kernel without MADV_POPULATE_READ
    // (before 5.14) refuses it, and the pages fault in as they are read.
    void populate_metadata() const {
#ifdef MADV_POPULATE_READ
        const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
        struct Run { uint64_t begin, end; };
        std::vector<Run> runs;
        for (const SectionInfo& s : sections)
            if (s.known && s.kind != uint32_t(format::SectionKind::blobs) && s.length > 0)
                runs.push_back({s.offset / page * page, s.offset + s.length});
        std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.begin < b.begin; });
        for (size_t i = 0; i < runs.size();) {
            Run r = runs[i];
            for (++i; i < runs.size() && runs[i].begin <= r.end; ++i) r.end = std::max(r.end, runs[i].end);
            (void)::madvise(const_cast<unsigned char*>(base) + r.begin, r.end - r.begin, MADV_POPULATE_READ);
        }
#endif
    }

    // [offset, offset + length) lies inside the file, without overflow.
    bool in_file(uint64_t offset, uint64_t length) const {
        return offset <= size && length <= size - offset;
    }

    // The string a reference names, after checking that it and its terminating NUL lie inside
    // the strings section. `what` describes the reference for the error message; it is a
    // callable so the hot path (one call per record) builds no message.
    template <class What>
    std::string_view string(format::StringRef ref, What&& what) {
        if (ref.offset > strings.size() || ref.length >= strings.size() - ref.offset) [[unlikely]]
            bad_string(ref, what);
        uint64_t end = uint64_t{ref.offset} + ref.length + 1;
        if (strings_hash) strings_hash->advance_to(end);
        if (strings[end - 1] != '\0') [[unlikely]] bad_string(ref, what);
        return {strings.data() + ref.offset, ref.length};
    }
    // Out of line, so that string() stays small enough to inline into the per-record loop.
    template <class What>
    [[noreturn, gnu::noinline, gnu::cold]] void bad_string(format::StringRef ref, What& what) const {
        if (ref.offset > strings.size() || ref.length >= strings.size() - ref.offset)
            fail(describe(what) + ": string [" + std::to_string(ref.offset) + ", +" + std::to_string(ref.length) +
                 "] outside the strings section (" + std::to_string(strings.size()) + " bytes)");
        fail(describe(what) + ": string is not NUL-terminated");
    }
    template <class What>
    static std::string describe(What& what) {
        if constexpr (std::is_invocable_v<What&>) return what();
        else return std::string(what);
    }

    void check_header() {
        const format::FileHeader& h = header = format::decode_header(base);
        if (std::memcmp(h.magic, format::kMagic, sizeof format::kMagic) != 0)
            fail("not an imgpack file (bad magic)");
        // The version first: a later major version may lay out (and checksum) its header anew.
        if (h.version_major != format::kVersionMajor)
            fail("format version " + std::to_string(h.version_major) + "." +
                 std::to_string(h.version_minor) + " is not readable by this reader (reads " +
                 std::to_string(format::kVersionMajor) + ".x)");
        if (XXH3_64bits(base, format::kHeaderChecksummedBytes) != h.header_xxh3)
            fail("header checksum mismatch (the header is corrupt)");
        // v1 defines no required flag, so any required bit is one this reader does not know.
        if (h.flags & format::kHeaderRequiredFlagsMask)
            fail("header has required flags this reader does not know: 0x" +
                 hex(h.flags & format::kHeaderRequiredFlagsMask));
        if (h.file_size != size)
            fail("header says the file is " + std::to_string(h.file_size) + " bytes but it is " +
                 std::to_string(size) + " (truncated or appended to)");
        if (h.section_entry_size < format::kSectionEntrySize)
            fail("section entry size " + std::to_string(h.section_entry_size) + " is below " +
                 std::to_string(format::kSectionEntrySize));
        if (h.section_count > format::kMaxSections)
            fail("section count " + std::to_string(h.section_count) + " exceeds " +
                 std::to_string(format::kMaxSections));
        uint64_t dir_bytes = uint64_t{h.section_count} * h.section_entry_size;
        if (h.directory_offset % format::kSectionAlign != 0)
            fail("section directory offset " + std::to_string(h.directory_offset) + " is not a multiple of " +
                 std::to_string(format::kSectionAlign));
        if (h.directory_offset < format::kHeaderSize || !in_file(h.directory_offset, dir_bytes))
            fail("section directory [" + std::to_string(h.directory_offset) + ", +" +
                 std::to_string(dir_bytes) + ") lies outside the file");
        if (XXH3_64bits(base + h.directory_offset, dir_bytes) != h.directory_xxh3)
            fail("section directory checksum mismatch");
        id = identity(base, base + h.directory_offset, dir_bytes);
    }

    // FORMAT.md §5.1: XXH3-128 (seed 0) of header bytes [0, 56) followed by the directory's
    // bytes, in its canonical (big-endian) form, as hex.
    static std::string identity(const unsigned char* header, const unsigned char* directory, uint64_t directory_bytes) {
        XXH3_state_t st;
        XXH3_128bits_reset(&st);
        XXH3_128bits_update(&st, header, format::kHeaderChecksummedBytes);
        XXH3_128bits_update(&st, directory, directory_bytes);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned char b : c.digest) out += {digits[b >> 4], digits[b & 15]};
        return out;
    }

    static std::string hex(uint64_t v) {
        static const char* digits = "0123456789abcdef";
        std::string s(16, '0');
        for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
        return s;
    }

    void read_directory() {
        const format::FileHeader& h = header;
        struct Range { uint64_t begin, end; std::string what; };
        std::vector<Range> ranges{{0, format::kHeaderSize, "header"},
                                  {h.directory_offset,
                                   h.directory_offset + uint64_t{h.section_count} * h.section_entry_size,
                                   "section directory"}};
        sections.reserve(h.section_count);
        for (uint32_t i = 0; i < h.section_count; ++i) {
            format::SectionEntry e =
                format::decode_section(base + h.directory_offset + uint64_t{i} * h.section_entry_size);
            std::string what = "section " + std::to_string(i) + " (" + format::section_kind_name(e.kind) + ")";
            bool known = e.kind >= 1 && e.kind <= format::kLastKnownSectionKind;
            if (!known && (e.flags & format::kSectionRequired))
                fail(what + ": kind " + std::to_string(e.kind) +
                     " is marked required but this reader does not know it");
            if (e.offset % format::kSectionAlign != 0)
                fail(what + ": offset " + std::to_string(e.offset) + " is not a multiple of " +
                     std::to_string(format::kSectionAlign));
            if (!in_file(e.offset, e.length))
                fail(what + ": range [" + std::to_string(e.offset) + ", +" + std::to_string(e.length) +
                     ") lies outside the file (" + std::to_string(size) + " bytes)");
            if (e.length > 0) ranges.push_back({e.offset, e.offset + e.length, what});  // empty: overlaps nothing
            sections.push_back({e.kind, e.flags, e.offset, e.length, e.xxh3, known});
        }
        std::sort(ranges.begin(), ranges.end(),
                  [](const Range& a, const Range& b) { return a.begin < b.begin; });
        for (size_t i = 1; i < ranges.size(); ++i)
            if (ranges[i].begin < ranges[i - 1].end)
                fail(ranges[i - 1].what + " and " + ranges[i].what + " overlap");
        // Rule 15. The small sections are checked now; the strings and the splits (99% of the
        // metadata) while their contents are checked. Blobs are checked per record, on demand.
        for (size_t i = 0; i < sections.size(); ++i) {
            const SectionInfo& s = sections[i];
            if (!s.known || s.kind == uint32_t(format::SectionKind::blobs) || hashed_while_checked(s.kind)) continue;
            check_checksum(i, XXH3_64bits(base + s.offset, s.length));
        }
    }

    static bool hashed_while_checked(uint32_t kind) {
        return kind == uint32_t(format::SectionKind::strings) || kind == uint32_t(format::SectionKind::split);
    }
    void check_checksum(size_t i, uint64_t actual) const {
        if (actual != sections[i].xxh3)
            fail("section " + std::to_string(i) + " (" + format::section_kind_name(sections[i].kind) +
                 ") checksum mismatch (the section is corrupt)");
    }
    // On the way out with an error: a section that fails its checksum is the better message (the
    // structural error was likely its damage), so look for one among those not yet hashed whole.
    void check_deferred_checksums() const {
        for (size_t i = 0; i < sections.size(); ++i)
            if (sections[i].known && hashed_while_checked(sections[i].kind))
                check_checksum(i, XXH3_64bits(base + sections[i].offset, sections[i].length));
    }

    const SectionInfo* the_one(format::SectionKind kind) const {
        const SectionInfo* found = nullptr;
        for (const SectionInfo& s : sections)
            if (s.kind == uint32_t(kind)) {
                if (found) fail(std::string("more than one ") + format::section_kind_name(s.kind) + " section");
                found = &s;
            }
        return found;
    }

    void read_strings() {
        const SectionInfo* s = the_one(format::SectionKind::strings);
        if (!s) fail("no strings section (every pack has exactly one)");
        strings = std::string_view(reinterpret_cast<const char*>(base + s->offset), s->length);
        strings_section = size_t(s - sections.data());
        strings_hash = std::make_unique<SectionHasher>(base + s->offset, s->length);
    }

    // A table section (class table, skipped): u32 count, u32 entry_size, then the entries, all
    // inside the section. `entries` is null when the file has no such section.
    struct Table {
        const unsigned char* entries = nullptr;
        uint32_t count = 0, entry_size = 0;
        const unsigned char* entry(uint32_t i) const { return entries + uint64_t{i} * entry_size; }
    };
    Table read_table(format::SectionKind kind, uint32_t min_entry_size, const std::string& what) const {
        static_assert(format::kClassTableHeaderSize == 8 && format::kSkippedHeaderSize == 8);
        const SectionInfo* s = the_one(kind);
        if (!s) return {};
        const unsigned char* p = base + s->offset;
        if (s->length < 8) fail(what + " shorter than its header");
        uint32_t count = format::load<uint32_t>(p), entry = format::load<uint32_t>(p + 4);
        if (entry < min_entry_size) fail(what + " entry size " + std::to_string(entry) + " too small");
        if (uint64_t{count} * entry > s->length - 8)
            fail(what + " of " + std::to_string(count) + " entries overruns its section");
        return {p + 8, count, entry};
    }

    void read_classes() {
        const Table t = read_table(format::SectionKind::class_table, format::kClassEntrySize, "class table");
        if (t.count > uint32_t(INT32_MAX)) fail("class table too large");
        classes.reserve(t.count);
        for (uint32_t i = 0; i < t.count; ++i) {
            format::ClassEntry c = format::decode_class_entry(t.entry(i));
            std::string what = "class " + std::to_string(i);
            classes.push_back({string(c.wnid, what + " WNID"), string(c.name, what + " name")});
            if (classes.back().wnid.empty()) fail(what + ": empty WNID");
        }
        // A WNID names one class: lookups by WNID must not depend on which duplicate comes first.
        std::vector<std::string_view> wnids;
        for (const ClassInfo& c : classes) wnids.push_back(c.wnid);
        std::sort(wnids.begin(), wnids.end());
        auto dup = std::adjacent_find(wnids.begin(), wnids.end());
        if (dup != wnids.end()) fail("class table lists WNID '" + std::string(*dup) + "' twice");
    }

    void read_splits() {
        blob_section = the_one(format::SectionKind::blobs);
        for (const SectionInfo& s : sections) {
            if (s.kind != uint32_t(format::SectionKind::split)) continue;
            if (s.length < format::kSplitHeaderSize) fail("a split section is shorter than its header");
            const unsigned char* p = base + s.offset;
            format::SplitHeader h = format::decode_split_header(p);
            SplitFields sp;
            sp.name = string(h.name, "split name");
            std::string what = "split '" + std::string(sp.name) + "'";
            if (h.record_size < format::kRecordSize)
                fail(what + ": record size " + std::to_string(h.record_size) + " is below " +
                     std::to_string(format::kRecordSize));
            if (uint64_t{h.record_count} * h.record_size > s.length - format::kSplitHeaderSize)
                fail(what + ": " + std::to_string(h.record_count) + " records of " +
                     std::to_string(h.record_size) + " bytes overrun the section");
            sp.records = p + format::kSplitHeaderSize;
            sp.count = h.record_count;
            sp.stride = h.record_size;
            if (sp.count > 0 && !blob_section) fail(what + " has records but the file has no blob section");
            SectionHasher hash(p, s.length);
            check_records(sp, what, hash);
            check_checksum(size_t(&s - sections.data()), hash.finish());
            splits.push_back(sp);
        }
        splits_by_name = sorted_by_name(splits, "splits");
    }

    // The indices of `views` sorted by name; fails if two share a name.
    template <class Fields>
    std::vector<uint32_t> sorted_by_name(const std::vector<Fields>& views, const char* what) const {
        std::vector<uint32_t> order(views.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
        std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return views[a].name < views[b].name; });
        auto same = [&](uint32_t a, uint32_t b) { return views[a].name == views[b].name; };
        auto dup = std::adjacent_find(order.begin(), order.end(), same);
        if (dup != order.end()) fail(std::string("two ") + what + " are named '" + std::string(views[*dup].name) + "'");
        return order;
    }
    // The index of the view named `name`, by binary search in `order` (from sorted_by_name).
    template <class Fields>
    static std::optional<size_t> find_by_name(const std::vector<Fields>& views, const std::vector<uint32_t>& order,
                                              std::string_view name) {
        auto it = std::lower_bound(order.begin(), order.end(), name,
                                   [&](uint32_t i, std::string_view n) { return views[i].name < n; });
        if (it == order.end() || views[*it].name != name) return std::nullopt;
        return *it;
    }

    // a < b, comparing bytes as unsigned (as std::string_view's < does), 8 at a time: most
    // names share a long prefix with the one before ("n01440764_1..."), and a call to memcmp
    // per record cost more than the rest of the record's checks.
    static bool bytewise_less(std::string_view a, std::string_view b) {
        size_t n = std::min(a.size(), b.size()), i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t x = format::load<uint64_t>(reinterpret_cast<const unsigned char*>(a.data() + i));
            uint64_t y = format::load<uint64_t>(reinterpret_cast<const unsigned char*>(b.data() + i));
            if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y);  // big-endian order = byte order
        }
        for (; i < n; ++i)
            if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
        return a.size() < b.size();
    }

    void check_records(SplitFields& sp, const std::string& what, SectionHasher& hash) {
        std::string_view previous;
        uint64_t total = 0;
        for (size_t i = 0; i < sp.count; ++i) {
            hash.advance_to(format::kSplitHeaderSize + (i + 1) * sp.stride);
            format::Record r = format::decode_record(sp.records + i * sp.stride);
            auto where = [&] { return what + " record " + std::to_string(i); };
            if (r.blob_offset < blob_section->offset ||
                r.blob_offset - blob_section->offset > blob_section->length ||
                r.blob_size > blob_section->length - (r.blob_offset - blob_section->offset))
                fail(where() + ": data [" + std::to_string(r.blob_offset) + ", +" + std::to_string(r.blob_size) +
                     ") lies outside the blob section [" + std::to_string(blob_section->offset) + ", +" +
                     std::to_string(blob_section->length) + ")");
            std::string_view name = string({r.name_offset, r.name_length}, [&] { return where() + " name"; });
            if (name.empty()) fail(where() + ": empty file name");
            if (i > 0 && !bytewise_less(previous, name))
                fail(where() + ": file name '" + std::string(name) + "' is not after '" + std::string(previous) +
                     "' (records must be sorted by name, without duplicates)");
            if (r.label != format::kUnlabeled && (r.label < 0 || size_t(r.label) >= classes.size()))
                fail(where() + " ('" + std::string(name) + "'): label " + std::to_string(r.label) +
                     " is not a class (the class table has " + std::to_string(classes.size()) + ")");
            previous = name;
            total += r.blob_size;
        }
        sp.blob_bytes = total;
    }

    void read_subsets() {
        for (const SectionInfo& s : sections) {
            if (s.kind != uint32_t(format::SectionKind::subset)) continue;
            if (s.length < format::kSubsetHeaderSize) fail("a subset section is shorter than its header");
            const unsigned char* p = base + s.offset;
            format::SubsetHeader h = format::decode_subset_header(p);
            SubsetFields sub;
            sub.name = string(h.name, "subset name");
            std::string what = "subset '" + std::string(sub.name) + "'";
            sub.origin = string(h.origin, what + " origin");
            std::string_view split_name = string(h.split_name, what + " split name");
            std::optional<size_t> split = find_by_name(splits, splits_by_name, split_name);
            if (!split) fail(what + " refers to split '" + std::string(split_name) + "', which is not in the file");
            sub.split = *split;
            const size_t records = splits[*split].count;
            if (uint64_t{h.count} * 4 > s.length - format::kSubsetHeaderSize)
                fail(what + ": " + std::to_string(h.count) + " indices overrun the section");
            sub.indices = p + format::kSubsetHeaderSize;
            sub.count = h.count;
            for (size_t i = 0; i < sub.count; ++i) {
                uint32_t idx = format::load<uint32_t>(sub.indices + 4 * i);
                if (idx >= records)
                    fail(what + " entry " + std::to_string(i) + ": index " + std::to_string(idx) +
                         " is outside split '" + std::string(split_name) + "' (" + std::to_string(records) +
                         " records)");
                if (i > 0 && idx <= format::load<uint32_t>(sub.indices + 4 * (i - 1)))
                    fail(what + " entry " + std::to_string(i) + ": indices are not strictly increasing");
            }
            subsets.push_back(sub);
        }
        subsets_by_name = sorted_by_name(subsets, "subsets");
    }

    void read_skipped() {
        const Table t = read_table(format::SectionKind::skipped, format::kSkippedEntrySize, "skipped section");
        skipped.reserve(t.count);
        for (uint32_t i = 0; i < t.count; ++i) {
            format::SkippedEntry e = format::decode_skipped_entry(t.entry(i));
            auto what = [&] { return "skipped entry " + std::to_string(i); };
            skipped.push_back({string(e.split, what), string(e.entry, what), string(e.reason, what)});
        }
    }

    void read_provenance() {
        const SectionInfo* s = the_one(format::SectionKind::provenance);
        if (!s) return;
        const unsigned char* p = base + s->offset;
        if (s->length < format::kProvenanceHeaderSize) fail("provenance section shorter than its header");
        const format::ProvenanceHeader h = format::decode_provenance_header(p);
        if (h.split_entry_size < format::kProvenanceSplitEntrySize ||
            h.subset_entry_size < format::kProvenanceSubsetEntrySize)
            fail("provenance section: entry sizes " + std::to_string(h.split_entry_size) + " and " +
                 std::to_string(h.subset_entry_size) + " are below " + std::to_string(format::kProvenanceSplitEntrySize) +
                 " and " + std::to_string(format::kProvenanceSubsetEntrySize));
        const uint64_t splits_bytes = uint64_t{h.split_count} * h.split_entry_size;
        const uint64_t subsets_bytes = uint64_t{h.subset_count} * h.subset_entry_size;
        const uint64_t room = s->length - format::kProvenanceHeaderSize;
        if (splits_bytes > room || subsets_bytes > room - splits_bytes)  // no overflow (rule of §2)
            fail("provenance section: " + std::to_string(h.split_count) + " split and " +
                 std::to_string(h.subset_count) + " subset entries overrun the section");
        if (h.shard_count == 0 ? h.shard_index != 0 : h.shard_index >= h.shard_count)
            fail("provenance section: shard " + std::to_string(h.shard_index) + "/" + std::to_string(h.shard_count) +
                 " is not a shard (K < N, or both 0)");
        Provenance out;
        static const char* digits = "0123456789abcdef";
        for (unsigned char b : h.source_id) out.source_id += {digits[b >> 4], digits[b & 15]};
        out.shard_index = h.shard_index;
        out.shard_count = h.shard_count;
        const unsigned char* entries = p + format::kProvenanceHeaderSize;
        for (uint32_t i = 0; i < h.split_count; ++i) {
            format::ProvenanceSplit e = format::decode_provenance_split(entries + uint64_t{i} * h.split_entry_size);
            auto what = [&] { return "provenance split entry " + std::to_string(i); };
            provenance_splits.push_back({string(e.name, what), string(e.source_split, what), string(e.source_subset, what)});
        }
        entries += splits_bytes;
        for (uint32_t i = 0; i < h.subset_count; ++i) {
            format::ProvenanceSubset e = format::decode_provenance_subset(entries + uint64_t{i} * h.subset_entry_size);
            auto what = [&] { return "provenance subset entry " + std::to_string(i); };
            provenance_subsets.push_back({string(e.name, what), string(e.source_subset, what)});
        }
        out.splits = provenance_splits;
        out.subsets = provenance_subsets;
        provenance = std::move(out);
    }

    void open(const std::string& file, const OpenOptions& options) {
        map(file, options);
        check_header();
        read_directory();
        populate_metadata();
        try {
            read_strings();
            read_classes();
            read_splits();
            read_subsets();
            read_skipped();
            read_provenance();
            check_checksum(strings_section, strings_hash->finish());
        } catch (const Error&) {
            check_deferred_checksums();
            throw;
        }
        strings_hash.reset();
    }
};

}  // namespace detail

// ---- Split -------------------------------------------------------------------------------------

inline Split::Split(std::shared_ptr<const detail::State> state, size_t index)
    : state_(std::move(state)), f_(state_->splits[index]) {}

inline Record Split::operator[](size_t i) const {
    format::Record r = format::decode_record(f_.records + i * f_.stride);
    const detail::State& s = *state_;
    Record out;
    out.index = static_cast<uint32_t>(i);
    out.name = s.strings.substr(r.name_offset, r.name_length);
    out.data = {s.base + r.blob_offset, r.blob_size};
    out.offset = r.blob_offset;
    out.label = r.label;
    if (r.label != format::kUnlabeled) out.wnid = s.classes[size_t(r.label)].wnid;
    out.width = r.width;
    out.height = r.height;
    out.codec = detail::known_codec(r.codec);
    out.color_space = detail::known_color_space(r.color_space);
    out.flags = r.flags;
    out.xxh3 = r.xxh3;
    return out;
}

inline Record Split::at(size_t i) const {
    if (i >= f_.count)
        throw Error("imgpack: split '" + std::string(f_.name) + "' has " + std::to_string(f_.count) +
                    " records, no record " + std::to_string(i));
    return (*this)[i];
}

inline std::string_view Split::name_at(size_t i) const {
    const unsigned char* p = f_.records + i * f_.stride;
    return state_->strings.substr(format::load<uint32_t>(p + 20), format::load<uint16_t>(p + 24));
}

inline std::optional<size_t> Split::find(std::string_view file_name) const {
    size_t lo = 0, hi = f_.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_at(mid) < file_name) lo = mid + 1;
        else hi = mid;
    }
    if (lo < f_.count && name_at(lo) == file_name) return lo;
    return std::nullopt;
}

// ---- Subset ------------------------------------------------------------------------------------

inline Subset::Subset(const std::shared_ptr<const detail::State>& state, size_t index)
    : split_(state, state->subsets[index].split), f_(state->subsets[index]) {}

inline Record Subset::at(size_t i) const {
    if (i >= f_.count)
        throw Error("imgpack: subset '" + std::string(f_.name) + "' has " + std::to_string(f_.count) +
                    " records, no record " + std::to_string(i));
    return (*this)[i];
}

// ---- Pack --------------------------------------------------------------------------------------

inline Pack Pack::open(const std::string& path, const OpenOptions& options) {
    auto state = std::make_shared<detail::State>();
    state->open(path, options);
    return Pack(std::move(state));
}

inline std::string Pack::path() const { return state_->path; }
inline uint64_t Pack::file_size() const { return state_->size; }
inline uint16_t Pack::version_major() const { return state_->header.version_major; }
inline uint16_t Pack::version_minor() const { return state_->header.version_minor; }
inline uint32_t Pack::blob_align() const { return state_->header.blob_align; }
inline std::string Pack::id() const { return state_->id; }

inline size_t Pack::class_count() const { return state_->classes.size(); }
inline std::span<const ClassInfo> Pack::classes() const& { return state_->classes; }
inline std::optional<int32_t> Pack::find_class(std::string_view wnid) const {
    for (size_t i = 0; i < state_->classes.size(); ++i)
        if (state_->classes[i].wnid == wnid) return static_cast<int32_t>(i);
    return std::nullopt;
}

inline Splits Pack::splits() const { return Splits(state_, state_->splits.size()); }
inline std::optional<Split> Pack::find_split(std::string_view name) const {
    if (auto i = detail::State::find_by_name(state_->splits, state_->splits_by_name, name)) return Split(state_, *i);
    return std::nullopt;
}
inline Split Pack::split(std::string_view name) const {
    if (std::optional<Split> found = find_split(name)) return *found;
    state_->fail("no split named '" + std::string(name) + "'");
}

inline Subsets Pack::subsets() const { return Subsets(state_, state_->subsets.size()); }
inline std::optional<Subset> Pack::find_subset(std::string_view name) const {
    if (auto i = detail::State::find_by_name(state_->subsets, state_->subsets_by_name, name)) return Subset(state_, *i);
    return std::nullopt;
}
inline Subset Pack::subset(std::string_view name) const {
    if (std::optional<Subset> found = find_subset(name)) return *found;
    state_->fail("no subset named '" + std::string(name) + "'");
}

inline Subset Split::subset(std::string_view name) const {
    const std::optional<size_t> i = detail::State::find_by_name(state_->subsets, state_->subsets_by_name, name);
    if (!i) state_->fail("no subset named '" + std::string(name) + "'");
    const std::string_view of = state_->splits[state_->subsets[*i].split].name;
    if (of != f_.name)
        state_->fail("subset '" + std::string(name) + "' is a subset of split '" + std::string(of) + "', not of '" +
                     std::string(f_.name) + "'");
    return Subset(state_, *i);
}

inline std::span<const SkippedInfo> Pack::skipped() const& { return state_->skipped; }
inline std::optional<Provenance> Pack::provenance() const& { return state_->provenance; }
inline std::span<const SectionInfo> Pack::sections() const& { return state_->sections; }

inline bool Pack::verify_section(size_t index) const {
    const std::vector<SectionInfo>& all = state_->sections;
    if (index >= all.size())
        state_->fail("no section " + std::to_string(index) + " (the directory has " + std::to_string(all.size()) + ")");
    const SectionInfo& s = all[index];  // its range was checked to lie inside the file at open
    return XXH3_64bits(state_->base + s.offset, s.length) == s.xxh3;
}

}  // namespace imgpack
