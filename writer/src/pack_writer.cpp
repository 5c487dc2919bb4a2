#include <imgpack/pack_writer.hpp>

#include <imgpack/signal_cleanup.hpp>

#include "async_writer.hpp"

#include <xxhash.h>

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
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
}

}  // namespace

struct PackWriter::Blobs {
    WriteBuffer buffer;                 // pending bytes, written in large chunks
    std::unique_ptr<AsyncWriter> async; // writes the chunks while the next one fills
    XXH3_state_t* hash = XXH3_createState();  // over the blob section
    Blobs() { XXH3_64bits_reset(hash); }
    ~Blobs() { XXH3_freeState(hash); }
};

uint64_t PackWriter::bytes_written() const { return offset_ + blobs_->buffer.size(); }

PackWriter::PackWriter(std::filesystem::path destination, bool overwrite)
    : destination_(std::move(destination)), overwrite_(overwrite) {
    if (!overwrite && std::filesystem::exists(destination_))
        throw std::runtime_error("imgpack: " + destination_.string() +
                                 " already exists (use --force to replace it)");
    std::string templ = destination_.string() + ".tmp-XXXXXX";
    // Hold back the clean-up signals until the new file is registered for clean-up, so that
    // no moment exists when it is on disk but unknown to the handler.
    sigset_t cleanup_signals, previous;
    sigemptyset(&cleanup_signals);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&cleanup_signals, sig);
    ::pthread_sigmask(SIG_BLOCK, &cleanup_signals, &previous);
    fd_ = ::mkostemp(templ.data(), O_CLOEXEC);
    const int create_errno = errno;
    if (fd_ >= 0) cleanup_slot_ = signal_cleanup::register_path(templ);
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (fd_ < 0)
        throw std::runtime_error("imgpack: cannot create a temporary file beside " + destination_.string() +
                                 ": " + std::strerror(create_errno));
    temp_path_ = templ;
    // IMGPACK_NO_DIRECT_IO=1 forces buffered writes (for comparisons).
    const char* no_direct = std::getenv("IMGPACK_NO_DIRECT_IO");
    if (!(no_direct && *no_direct && std::string(no_direct) != "0"))
        direct_fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);  // -1 where unsupported
    blobs_ = std::make_unique<Blobs>();
    blobs_->async = std::make_unique<AsyncWriter>(fd_, direct_fd_, temp_path_.string() + " (for " + destination_.string() + ")",
                                           kWriteBuffers, kWriteChunk + fmt::kBlobAlign);
    blobs_->buffer.reserve(kWriteChunk + fmt::kBlobAlign);
    // The header is written last; until then its page is zeros, and blobs start on the next page.
    blobs_->buffer.assign(fmt::kBlobRegionAlign, 0);
}

PackWriter::~PackWriter() {
    blobs_.reset();  // its writer thread writes to the descriptors closed below
    if (direct_fd_ >= 0) ::close(direct_fd_);
    if (fd_ >= 0) ::close(fd_);
    if (!finished_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
    signal_cleanup::unregister_path(cleanup_slot_);
}

void PackWriter::fail_io(const std::string& what) const {
    throw std::runtime_error("imgpack: " + what + " " + temp_path_.string() + " (for " +
                             destination_.string() + "): " + std::strerror(errno));
}

void PackWriter::write_at(int fd, const unsigned char* data, size_t size, uint64_t offset) {
    while (size > 0) {
        ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_io("cannot write");
        }
        data += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
    }
}

void PackWriter::flush_pages() {
    // O_DIRECT writes whole pages from page-aligned offsets; buffered writes can take it all.
    // (Should the file system refuse O_DIRECT later, AsyncWriter goes on buffered by itself.)
    const size_t size = direct_fd_ >= 0 ? blobs_->buffer.size() / kPage * kPage : blobs_->buffer.size();
    if (size == 0) return;
    blobs_->buffer = blobs_->async->submit(std::move(blobs_->buffer), size, offset_);
    offset_ += size;
}

void PackWriter::flush_all() {
    blobs_->async->finish();
    write_at(fd_, blobs_->buffer.data(), blobs_->buffer.size(), offset_);
    offset_ += blobs_->buffer.size();
    blobs_->buffer.clear();
}

uint64_t PackWriter::append_blob(std::span<const unsigned char> bytes) {
    if (bytes.size() > UINT32_MAX) throw std::runtime_error("imgpack: an image of 4 GiB or more cannot be stored");
    uint64_t at = bytes_written();
    size_t pad = static_cast<size_t>(fmt::align_up(at, fmt::kBlobAlign) - at);
    if (blobs_->buffer.size() + pad + bytes.size() > kWriteChunk) flush_pages();
    const size_t start = blobs_->buffer.size();
    blobs_->buffer.insert(blobs_->buffer.end(), pad, 0);
    blobs_->buffer.insert(blobs_->buffer.end(), bytes.begin(), bytes.end());
    XXH3_64bits_update(blobs_->hash, blobs_->buffer.data() + start, pad + bytes.size());
    if (blobs_->buffer.size() > kWriteChunk) flush_pages();  // an image larger than a chunk
    return at + pad;
}

void PackWriter::finish(const PackContents& contents) {
    check_contents(contents);
    std::vector<fmt::SectionEntry> directory;

    // The blob section runs from the first page boundary to the end of the last blob, padded
    // to a blob boundary so the next section stays aligned.
    {
        uint64_t end = bytes_written();
        uint64_t padded = fmt::align_up(end, fmt::kBlobAlign);
        const size_t start = blobs_->buffer.size();
        blobs_->buffer.insert(blobs_->buffer.end(), padded - end, 0);
        XXH3_64bits_update(blobs_->hash, blobs_->buffer.data() + start, padded - end);
        directory.push_back({uint32_t(fmt::SectionKind::blobs), fmt::kSectionRequired, fmt::kBlobRegionAlign,
                             padded - fmt::kBlobRegionAlign, XXH3_64bits_digest(blobs_->hash)});
    }

    // Metadata sections. Strings are referenced by all the others, so collect them first.
    StringTable strings;
    std::vector<unsigned char> class_table(fmt::kClassTableHeaderSize + contents.classes.size() * fmt::kClassEntrySize);
    fmt::store<uint32_t>(class_table.data(), static_cast<uint32_t>(contents.classes.size()));
    fmt::store<uint32_t>(class_table.data() + 4, fmt::kClassEntrySize);
    for (size_t i = 0; i < contents.classes.size(); ++i) {
        fmt::ClassEntry e{strings.add(contents.classes[i].wnid), strings.add(contents.classes[i].name)};
        fmt::encode_class_entry(e, class_table.data() + fmt::kClassTableHeaderSize + i * fmt::kClassEntrySize);
    }

    std::vector<std::vector<unsigned char>> splits;
    for (const SplitDef& sp : contents.splits) {
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
        splits.push_back(std::move(bytes));
    }

    std::vector<std::vector<unsigned char>> subsets;
    for (const SubsetDef& sub : contents.subsets) {
        std::vector<unsigned char> bytes(fmt::kSubsetHeaderSize + sub.indices.size() * 4);
        fmt::encode_subset_header({strings.add(sub.name), strings.add(sub.split), strings.add(sub.origin),
                                   static_cast<uint32_t>(sub.indices.size()), 0},
                                  bytes.data());
        for (size_t i = 0; i < sub.indices.size(); ++i)
            fmt::store<uint32_t>(bytes.data() + fmt::kSubsetHeaderSize + 4 * i, sub.indices[i]);
        subsets.push_back(std::move(bytes));
    }

    std::vector<unsigned char> skipped;
    if (!contents.skipped.empty()) {
        skipped.resize(fmt::kSkippedHeaderSize + contents.skipped.size() * fmt::kSkippedEntrySize);
        fmt::store<uint32_t>(skipped.data(), static_cast<uint32_t>(contents.skipped.size()));
        fmt::store<uint32_t>(skipped.data() + 4, fmt::kSkippedEntrySize);
        for (size_t i = 0; i < contents.skipped.size(); ++i) {
            const SkippedDef& k = contents.skipped[i];
            fmt::encode_skipped_entry({strings.add(k.split), strings.add(k.entry), strings.add(k.reason)},
                                      skipped.data() + fmt::kSkippedHeaderSize + i * fmt::kSkippedEntrySize);
        }
    }

    // Lay the sections out after the blobs, each on a cache line.
    auto place = [&](fmt::SectionKind kind, const std::vector<unsigned char>& bytes, uint32_t flags = fmt::kSectionRequired) {
        uint64_t at = bytes_written();
        uint64_t aligned = fmt::align_up(at, 64);
        blobs_->buffer.insert(blobs_->buffer.end(), aligned - at, 0);
        directory.push_back({uint32_t(kind), flags, aligned, bytes.size(), XXH3_64bits(bytes.data(), bytes.size())});
        blobs_->buffer.insert(blobs_->buffer.end(), bytes.begin(), bytes.end());
        if (blobs_->buffer.size() >= kWriteChunk) flush_pages();
    };
    place(fmt::SectionKind::strings, strings.bytes());
    place(fmt::SectionKind::class_table, class_table);
    for (const auto& s : splits) place(fmt::SectionKind::split, s);
    for (const auto& s : subsets) place(fmt::SectionKind::subset, s);
    // Optional: a 1.0 reader skips it and still reads everything else.
    if (!skipped.empty()) place(fmt::SectionKind::skipped, skipped, 0);

    // Directory, then the header at offset 0.
    uint64_t dir_at = fmt::align_up(bytes_written(), 64);
    blobs_->buffer.insert(blobs_->buffer.end(), dir_at - bytes_written(), 0);
    std::vector<unsigned char> dir(directory.size() * fmt::kSectionEntrySize);
    for (size_t i = 0; i < directory.size(); ++i)
        fmt::encode_section(directory[i], dir.data() + i * fmt::kSectionEntrySize);
    blobs_->buffer.insert(blobs_->buffer.end(), dir.begin(), dir.end());
    flush_all();
    if (direct_fd_ >= 0) {
        ::close(direct_fd_);  // its writes are done; fsync on fd_ makes them durable with the rest
        direct_fd_ = -1;
    }

    fmt::FileHeader h{};
    std::memcpy(h.magic, fmt::kMagic, sizeof fmt::kMagic);
    h.version_major = fmt::kVersionMajor;
    h.version_minor = fmt::kVersionMinor;
    h.flags = 0;
    h.file_size = offset_;
    h.directory_offset = dir_at;
    h.section_count = static_cast<uint32_t>(directory.size());
    h.section_entry_size = fmt::kSectionEntrySize;
    h.blob_align = fmt::kBlobAlign;
    h.directory_xxh3 = XXH3_64bits(dir.data(), dir.size());
    unsigned char head[fmt::kHeaderSize];
    fmt::encode_header(h, head);
    h.header_xxh3 = XXH3_64bits(head, fmt::kHeaderChecksummedBytes);
    fmt::encode_header(h, head);
    if (::pwrite(fd_, head, sizeof head, 0) != ssize_t(sizeof head)) fail_io("cannot write the header of");

    // Durable before visible: data and metadata reach the disk, then the name appears.
    mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd_, 0666 & ~mask) != 0) fail_io("cannot set permissions of");
    if (::fsync(fd_) != 0) fail_io("cannot fsync");
    if (::close(fd_) != 0) {
        fd_ = -1;
        fail_io("cannot close");
    }
    fd_ = -1;
    // Without overwrite, a destination that appeared while we converted is not replaced.
    const unsigned rename_flags = overwrite_ ? 0 : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, temp_path_.c_str(), AT_FDCWD, destination_.c_str(), rename_flags) != 0)
        fail_io(errno == EEXIST ? "the destination appeared meanwhile; not replacing it with" : "cannot rename");
    finished_ = true;
    signal_cleanup::unregister_path(cleanup_slot_);  // the name now belongs to the finished pack
    cleanup_slot_ = -1;
    // Make the rename itself durable. The pack is complete and in place whatever happens here,
    // but a crash could still undo the rename, so a failure is reported, not ignored.
    std::filesystem::path dir_path = destination_.parent_path();
    if (dir_path.empty()) dir_path = ".";
    int dfd = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || ::fsync(dfd) != 0) {
        const int e = errno;
        if (dfd >= 0) ::close(dfd);
        throw std::runtime_error("imgpack: wrote " + destination_.string() + ", but could not fsync its directory " +
                                 dir_path.string() + " (" + std::strerror(e) +
                                 "): the new name may not survive a crash");
    }
    ::close(dfd);
}

}  // namespace imgpack
