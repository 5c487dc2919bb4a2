#include <imgpack/pack_writer.hpp>

#include "async_writer.hpp"
#include "temp_file.hpp"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value
#include <xxhash.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace imgpack {

namespace fmt = imgpack::format;

namespace {

// Blobs go out in chunks this large, written with O_DIRECT where the file system allows it.
// Measured on this project's machines (docs/performance.md): buffered 8 MiB writes spent most
// of a conversion in the kernel getting large page-cache folios (3.4x bsdtar's time), while
// O_DIRECT 8 MiB writes skip the page cache (faster than cp). Later reads fill it: sequential
// ones through readahead in 2 MiB folios, mapped ones 4 KiB at a time unless the reader asks for
// huge pages (OpenOptions::huge_pages). The unaligned tail, the metadata and the header go
// through the page cache as usual.
constexpr size_t kWriteChunk = 8u << 20;
constexpr size_t kPage = AsyncWriter::kPage;
// Chunks in memory at once: one filling, one being written, one queued. A write of one chunk
// then always has the next waiting, so the disk never idles while the converter copies.
constexpr size_t kWriteBuffers = 3;

// Accumulates the strings section: each string followed by a NUL.
class StringTable {
public:
    fmt::StringRef add(std::string_view s) {
        if (bytes_.size() + s.size() + 1 > UINT32_MAX)
            throw std::runtime_error("imgpack: string data exceeds the 4 GiB the format addresses");
        fmt::StringRef ref{static_cast<uint32_t>(bytes_.size()), static_cast<uint32_t>(s.size())};
        bytes_.insert(bytes_.end(), s.begin(), s.end());
        bytes_.push_back(0);
        return ref;
    }
    const std::vector<unsigned char>& bytes() const { return bytes_; }

private:
    std::vector<unsigned char> bytes_;
};

void check_contents(const PackContents& c) {
    for (const SplitDef& sp : c.splits) {
        for (size_t i = 0; i < sp.records.size(); ++i) {
            const RecordDef& r = sp.records[i];
            if (r.name.empty() || r.name.size() > UINT16_MAX)
                throw std::logic_error("split '" + sp.name + "' record " + std::to_string(i) + ": bad name length");
            if (i > 0 && !(sp.records[i - 1].name < r.name))
                throw std::logic_error("split '" + sp.name + "' is not sorted by unique name at '" + r.name + "'");
            if (r.label != fmt::kUnlabeled && (r.label < 0 || size_t(r.label) >= c.classes.size()))
                throw std::logic_error("split '" + sp.name + "' record '" + r.name + "': label out of range");
        }
        if (sp.records.size() > UINT32_MAX) throw std::logic_error("split '" + sp.name + "' too large");
    }
    for (const SubsetDef& sub : c.subsets) {
        auto sp = std::find_if(c.splits.begin(), c.splits.end(),
                               [&](const SplitDef& s) { return s.name == sub.split; });
        if (sp == c.splits.end()) throw std::logic_error("subset '" + sub.name + "': no split '" + sub.split + "'");
        for (size_t i = 0; i < sub.indices.size(); ++i)
            if (sub.indices[i] >= sp->records.size() || (i > 0 && sub.indices[i] <= sub.indices[i - 1]))
                throw std::logic_error("subset '" + sub.name + "': indices not strictly increasing in range");
    }
    if (const auto& p = c.provenance) {
        if (p->source_id.size() != 2 * fmt::kIdentityBytes ||
            p->source_id.find_first_not_of("0123456789abcdef") != std::string::npos)
            throw std::logic_error("provenance: the source identity is not 32 lowercase hex digits");
        if (p->shard_count == 0 ? p->shard_index != 0 : p->shard_index >= p->shard_count)
            throw std::logic_error("provenance: shard " + std::to_string(p->shard_index) + "/" +
                                   std::to_string(p->shard_count) + " is not a shard");
    }
}

// Each metadata section's bytes. Strings are referenced by all the others, so the string table
// fills as they are encoded, in this order: class table, splits, subsets, skipped, provenance
// (the order fixes the strings section's bytes, which FORMAT.md's worked example lists).
struct Metadata {
    StringTable strings;
    std::vector<unsigned char> class_table;
    std::vector<std::vector<unsigned char>> splits, subsets;
    std::vector<unsigned char> skipped;  // empty when nothing was skipped: then no section
    std::vector<unsigned char> provenance;  // empty when there is none: then no section
};

std::vector<unsigned char> encode_class_table(const std::vector<ClassDef>& classes, StringTable& strings) {
    std::vector<unsigned char> bytes(fmt::kClassTableHeaderSize + classes.size() * fmt::kClassEntrySize);
    fmt::store<uint32_t>(bytes.data(), static_cast<uint32_t>(classes.size()));
    fmt::store<uint32_t>(bytes.data() + 4, fmt::kClassEntrySize);
    for (size_t i = 0; i < classes.size(); ++i) {
        fmt::ClassEntry e{strings.add(classes[i].wnid), strings.add(classes[i].name)};
        fmt::encode_class_entry(e, bytes.data() + fmt::kClassTableHeaderSize + i * fmt::kClassEntrySize);
    }
    return bytes;
}

std::vector<unsigned char> encode_split(const SplitDef& sp, StringTable& strings) {
    std::vector<unsigned char> bytes(fmt::kSplitHeaderSize + sp.records.size() * fmt::kRecordSize);
    fmt::encode_split_header({strings.add(sp.name), static_cast<uint32_t>(sp.records.size()), fmt::kRecordSize},
                             bytes.data());
    for (size_t i = 0; i < sp.records.size(); ++i) {
        const RecordDef& d = sp.records[i];
        fmt::StringRef name = strings.add(d.name);
        fmt::Record r{d.blob_offset, d.xxh3, d.blob_size, name.offset, static_cast<uint16_t>(name.length),
                      d.width, d.height, static_cast<uint8_t>(d.codec), static_cast<uint8_t>(d.color_space),
                      d.label, d.flags};
        fmt::encode_record(r, bytes.data() + fmt::kSplitHeaderSize + i * fmt::kRecordSize);
    }
    return bytes;
}

std::vector<unsigned char> encode_subset(const SubsetDef& sub, StringTable& strings) {
    std::vector<unsigned char> bytes(fmt::kSubsetHeaderSize + sub.indices.size() * 4);
    fmt::encode_subset_header({strings.add(sub.name), strings.add(sub.split), strings.add(sub.origin),
                               static_cast<uint32_t>(sub.indices.size()), 0},
                              bytes.data());
    for (size_t i = 0; i < sub.indices.size(); ++i)
        fmt::store<uint32_t>(bytes.data() + fmt::kSubsetHeaderSize + 4 * i, sub.indices[i]);
    return bytes;
}

std::vector<unsigned char> encode_skipped(const std::vector<SkippedDef>& skipped, StringTable& strings) {
    if (skipped.empty()) return {};
    std::vector<unsigned char> bytes(fmt::kSkippedHeaderSize + skipped.size() * fmt::kSkippedEntrySize);
    fmt::store<uint32_t>(bytes.data(), static_cast<uint32_t>(skipped.size()));
    fmt::store<uint32_t>(bytes.data() + 4, fmt::kSkippedEntrySize);
    for (size_t i = 0; i < skipped.size(); ++i) {
        const SkippedDef& k = skipped[i];
        fmt::encode_skipped_entry({strings.add(k.split), strings.add(k.entry), strings.add(k.reason)},
                                  bytes.data() + fmt::kSkippedHeaderSize + i * fmt::kSkippedEntrySize);
    }
    return bytes;
}

std::vector<unsigned char> encode_provenance(const std::optional<ProvenanceDef>& provenance, StringTable& strings) {
    if (!provenance) return {};
    const ProvenanceDef& p = *provenance;
    const size_t subsets_at = fmt::kProvenanceHeaderSize + p.splits.size() * fmt::kProvenanceSplitEntrySize;
    std::vector<unsigned char> bytes(subsets_at + p.subsets.size() * fmt::kProvenanceSubsetEntrySize);
    fmt::ProvenanceHeader h{};
    for (size_t i = 0; i < fmt::kIdentityBytes; ++i)  // hex digits checked by check_contents
        h.source_id[i] = static_cast<unsigned char>(std::stoi(p.source_id.substr(2 * i, 2), nullptr, 16));
    h.shard_index = p.shard_index;
    h.shard_count = p.shard_count;
    h.split_count = static_cast<uint32_t>(p.splits.size());
    h.split_entry_size = fmt::kProvenanceSplitEntrySize;
    h.subset_count = static_cast<uint32_t>(p.subsets.size());
    h.subset_entry_size = fmt::kProvenanceSubsetEntrySize;
    fmt::encode_provenance_header(h, bytes.data());
    for (size_t i = 0; i < p.splits.size(); ++i) {
        const ProvenanceDef::Split& e = p.splits[i];
        fmt::encode_provenance_split({strings.add(e.name), strings.add(e.source_split), strings.add(e.source_subset)},
                                     bytes.data() + fmt::kProvenanceHeaderSize + i * fmt::kProvenanceSplitEntrySize);
    }
    for (size_t i = 0; i < p.subsets.size(); ++i) {
        const ProvenanceDef::Subset& e = p.subsets[i];
        fmt::encode_provenance_subset({strings.add(e.name), strings.add(e.source_subset)},
                                      bytes.data() + subsets_at + i * fmt::kProvenanceSubsetEntrySize);
    }
    return bytes;
}

Metadata encode_metadata(const PackContents& c) {
    Metadata m;
    m.class_table = encode_class_table(c.classes, m.strings);
    for (const SplitDef& sp : c.splits) m.splits.push_back(encode_split(sp, m.strings));
    for (const SubsetDef& sub : c.subsets) m.subsets.push_back(encode_subset(sub, m.strings));
    m.skipped = encode_skipped(c.skipped, m.strings);
    m.provenance = encode_provenance(c.provenance, m.strings);
    return m;
}

std::vector<unsigned char> encode_directory(const std::vector<fmt::SectionEntry>& directory) {
    std::vector<unsigned char> bytes(directory.size() * fmt::kSectionEntrySize);
    for (size_t i = 0; i < directory.size(); ++i)
        fmt::encode_section(directory[i], bytes.data() + i * fmt::kSectionEntrySize);
    return bytes;
}

// IMGPACK_NO_DIRECT_IO=1 forces buffered writes (for comparisons).
bool direct_io_wanted() {
    const char* no_direct = std::getenv("IMGPACK_NO_DIRECT_IO");
    return !(no_direct && *no_direct && std::string(no_direct) != "0");
}

}  // namespace

// Members in the order they must be set up; they go in reverse: the writer thread first, since
// it writes to the descriptors, and the temporary file last.
struct PackWriter::State {
    TempFile file;
    UniqueFd direct;                     // the same file opened O_DIRECT, or none (see above)
    XXH3_state_t blob_hash;              // over the blob section
    WriteBuffer buffer;                  // pending bytes, written in large chunks
    std::unique_ptr<AsyncWriter> async;  // writes the chunks while the next one fills

    explicit State(const std::filesystem::path& destination) : file(destination) {
        if (direct_io_wanted())
            direct.reset(::open(file.path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC));  // none where unsupported
        XXH3_64bits_reset(&blob_hash);
        buffer.reserve(kWriteChunk + fmt::kBlobAlign);
        // The header is written last; until then its page is zeros, and blobs start on the next page.
        buffer.assign(fmt::kBlobRegionAlign, 0);
        async = std::make_unique<AsyncWriter>(file.fd(), direct.get(),
                                              file.path().string() + " (for " + destination.string() + ")",
                                              kWriteBuffers, kWriteChunk + fmt::kBlobAlign);
    }
};

PackWriter::PackWriter(std::filesystem::path destination, bool overwrite, std::vector<InputPath> inputs)
    : destination_(std::move(destination)), overwrite_(overwrite), inputs_(std::move(inputs)) {
    check_destination(destination_, overwrite_, inputs_);
    state_ = std::make_unique<State>(destination_);
}

PackWriter::~PackWriter() = default;

const std::filesystem::path& PackWriter::temporary_path() const { return state_->file.path(); }

uint64_t PackWriter::bytes_written() const { return offset_ + state_->buffer.size(); }

void PackWriter::fail_io(const std::string& what, int error) const {
    throw std::runtime_error("imgpack: " + what + " " + temporary_path().string() + " (for " +
                             destination_.string() + "): " + std::strerror(error));
}

void PackWriter::flush_pages() {
    // O_DIRECT writes whole pages from page-aligned offsets; buffered writes can take it all.
    // (Should the file system refuse O_DIRECT later, AsyncWriter goes on buffered by itself.)
    State& s = *state_;
    const size_t size = s.direct ? s.buffer.size() / kPage * kPage : s.buffer.size();
    if (size == 0) return;
    s.buffer = s.async->submit(std::move(s.buffer), size, offset_);
    offset_ += size;
}

void PackWriter::flush_all() {
    State& s = *state_;
    s.async->finish();
    if (int e = write_all_at(s.file.fd(), s.buffer, offset_)) fail_io("cannot write", e);
    offset_ += s.buffer.size();
    s.buffer.clear();
}

uint64_t PackWriter::append_blob(std::span<const unsigned char> bytes) {
    if (bytes.size() > UINT32_MAX) throw std::runtime_error("imgpack: an image of 4 GiB or more cannot be stored");
    State& s = *state_;
    uint64_t at = bytes_written();
    size_t pad = static_cast<size_t>(fmt::align_up(at, fmt::kBlobAlign) - at);
    if (s.buffer.size() + pad + bytes.size() > kWriteChunk) flush_pages();
    const size_t start = s.buffer.size();
    s.buffer.insert(s.buffer.end(), pad, 0);
    s.buffer.insert(s.buffer.end(), bytes.begin(), bytes.end());
    XXH3_64bits_update(&s.blob_hash, s.buffer.data() + start, pad + bytes.size());
    if (s.buffer.size() > kWriteChunk) flush_pages();  // an image larger than a chunk
    return at + pad;
}

void PackWriter::finish(const PackContents& contents) {
    check_contents(contents);
    std::vector<fmt::SectionEntry> directory{close_blob_section()};

    // Metadata sections after the blobs, each on a cache line.
    const Metadata m = encode_metadata(contents);
    append_section(directory, fmt::SectionKind::strings, m.strings.bytes());
    append_section(directory, fmt::SectionKind::class_table, m.class_table);
    for (const auto& s : m.splits) append_section(directory, fmt::SectionKind::split, s);
    for (const auto& s : m.subsets) append_section(directory, fmt::SectionKind::subset, s);
    // Optional: a 1.0 reader skips it and still reads everything else.
    if (!m.skipped.empty()) append_section(directory, fmt::SectionKind::skipped, m.skipped, 0);
    // Optional too: a 1.0 or 1.1 reader skips it.
    if (!m.provenance.empty()) append_section(directory, fmt::SectionKind::provenance, m.provenance, 0);

    // The directory, then the header at offset 0, which makes the file a pack.
    append_padding(64);
    const uint64_t directory_offset = bytes_written();
    const std::vector<unsigned char> dir = encode_directory(directory);
    state_->buffer.insert(state_->buffer.end(), dir.begin(), dir.end());
    flush_all();
    state_->direct.reset();  // its writes are done; fsync on the other descriptor makes them durable
    // The lowest minor whose features the file uses (FORMAT.md §7).
    write_header(dir, directory_offset, directory.size(),
                 contents.provenance ? fmt::kVersionMinor : fmt::kVersionMinorWithoutProvenance);

    publish(state_->file, destination_, overwrite_, inputs_);  // fsync, then the name, then the folder's fsync
}

// The blob section runs from the first page boundary to the end of the last blob, padded to a
// blob boundary so the next section stays aligned; the padding is hashed with it.
fmt::SectionEntry PackWriter::close_blob_section() {
    State& s = *state_;
    const size_t start = s.buffer.size();
    append_padding(fmt::kBlobAlign);
    XXH3_64bits_update(&s.blob_hash, s.buffer.data() + start, s.buffer.size() - start);
    return {uint32_t(fmt::SectionKind::blobs), fmt::kSectionRequired, fmt::kBlobRegionAlign,
            bytes_written() - fmt::kBlobRegionAlign, XXH3_64bits_digest(&s.blob_hash)};
}

void PackWriter::append_padding(uint64_t align) {
    const uint64_t at = bytes_written();
    state_->buffer.insert(state_->buffer.end(), fmt::align_up(at, align) - at, 0);
}

void PackWriter::append_section(std::vector<fmt::SectionEntry>& directory, fmt::SectionKind kind,
                                std::span<const unsigned char> bytes, uint32_t flags) {
    append_padding(64);
    directory.push_back({uint32_t(kind), flags, bytes_written(), bytes.size(), XXH3_64bits(bytes.data(), bytes.size())});
    state_->buffer.insert(state_->buffer.end(), bytes.begin(), bytes.end());
    if (state_->buffer.size() >= kWriteChunk) flush_pages();
}

void PackWriter::write_header(std::span<const unsigned char> directory, uint64_t directory_offset, size_t sections,
                              uint16_t version_minor) {
    fmt::FileHeader h{};
    std::memcpy(h.magic, fmt::kMagic, sizeof fmt::kMagic);
    h.version_major = fmt::kVersionMajor;
    h.version_minor = version_minor;
    h.flags = 0;
    h.file_size = offset_;
    h.directory_offset = directory_offset;
    h.section_count = static_cast<uint32_t>(sections);
    h.section_entry_size = fmt::kSectionEntrySize;
    h.blob_align = fmt::kBlobAlign;
    h.directory_xxh3 = XXH3_64bits(directory.data(), directory.size());
    unsigned char head[fmt::kHeaderSize];
    fmt::encode_header(h, head);
    h.header_xxh3 = XXH3_64bits(head, fmt::kHeaderChecksummedBytes);
    fmt::encode_header(h, head);
    if (int e = write_all_at(state_->file.fd(), head, 0)) fail_io("cannot write the header of", e);
}

}  // namespace imgpack
