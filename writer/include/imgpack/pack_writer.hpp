// PackWriter: writes one imgpack v1 file. Blobs stream in as they arrive; metadata (class table,
// splits, subsets, strings) is written after them at finish(). The file is built under a
// temporary name next to the destination and renamed into place only once complete and fsynced,
// so the destination is never a partial pack.
#pragma once

#include <imgpack/destination.hpp>
#include <imgpack/format.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace imgpack {

struct ClassDef {
    std::string wnid;
    std::string name;  // may be empty
};

struct RecordDef {
    std::string name;             // file name
    uint64_t blob_offset = 0;     // from PackWriter::append_blob
    uint32_t blob_size = 0;
    uint64_t xxh3 = 0;
    uint16_t width = 0, height = 0;
    format::Codec codec = format::Codec::unknown;
    format::ColorSpace color_space = format::ColorSpace::unknown;
    int32_t label = format::kUnlabeled;
    uint32_t flags = 0;
};

struct SplitDef {
    std::string name;
    std::vector<RecordDef> records;  // sorted by name, unique
};

struct SubsetDef {
    std::string name;
    std::string split;
    std::string origin;
    std::vector<uint32_t> indices;  // strictly increasing indices into the split
};

struct SkippedDef {
    std::string split;
    std::string entry;   // "<archive>: <member>"
    std::string reason;
};

// Where a pack made from another one came from (FORMAT.md §4.9): the source's identity and what
// was taken from it.
struct ProvenanceDef {
    std::string source_id;  // the source pack's identity: 32 lowercase hex digits (Pack::id())
    uint32_t shard_index = 0, shard_count = 0;  // 0 and 0: not sharded
    struct Split {
        std::string name, source_split, source_subset;  // source_subset empty: the whole split
    };
    struct Subset {
        std::string name, source_subset;  // source_subset empty: drawn at export
    };
    std::vector<Split> splits;
    std::vector<Subset> subsets;
};

struct PackContents {
    std::vector<ClassDef> classes;
    std::vector<SplitDef> splits;
    std::vector<SubsetDef> subsets;
    std::vector<SkippedDef> skipped;  // written as an optional section only when non-empty
    // Written as an optional section when present; the file is then format 1.2, else 1.1.
    std::optional<ProvenanceDef> provenance;
};

class PackWriter {
public:
    // Creates the temporary file in `destination`'s folder, after check_destination(): refuses
    // an existing destination unless `overwrite` is set, and even then anything but a regular
    // file, or one of `inputs` (every file and folder the run reads: give them all), or a place
    // inside an input folder. The same check runs again just before a replacing rename.
    PackWriter(std::filesystem::path destination, bool overwrite, std::vector<InputPath> inputs = {});
    ~PackWriter();  // removes the temporary file unless finish() succeeded
    PackWriter(const PackWriter&) = delete;
    PackWriter& operator=(const PackWriter&) = delete;

    // Appends image bytes to the blob region (aligned to format::kBlobAlign); returns their
    // absolute file offset.
    uint64_t append_blob(std::span<const unsigned char> bytes);

    // Writes metadata, directory and header, fsyncs, and renames into place. Checks the
    // contents' invariants (sorted names, label range, subset indices) and throws on a violation.
    void finish(const PackContents& contents);

    const std::filesystem::path& temporary_path() const;
    uint64_t bytes_written() const;

private:
    struct State;  // the temporary file, the pending bytes, their writer thread, the blob hash

    format::SectionEntry close_blob_section();
    void append_section(std::vector<format::SectionEntry>& directory, format::SectionKind kind,
                        std::span<const unsigned char> bytes, uint32_t flags = format::kSectionRequired);
    void append_padding(uint64_t align);
    void flush_pages();  // queues the buffer's whole pages for writing; keeps the partial last page
    void flush_all();    // waits for the queued writes, then writes everything buffered
    void write_header(std::span<const unsigned char> directory, uint64_t directory_offset, size_t sections,
                      uint16_t version_minor);
    [[noreturn]] void fail_io(const std::string& what, int error) const;

    std::filesystem::path destination_;
    bool overwrite_ = false;
    std::vector<InputPath> inputs_;
    uint64_t offset_ = 0;  // file offset of the pending bytes; page-aligned while writing with O_DIRECT
    std::unique_ptr<State> state_;
};

}  // namespace imgpack
