#include "archive_source.hpp"

#include "archive_reader.hpp"

#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <stdexcept>

namespace imgpack {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what, archive* a) {
    std::string detail = a && archive_error_string(a) ? archive_error_string(a) : "unknown error";
    throw std::runtime_error("imgpack: " + where + ": " + what + ": " + detail);
}

// --- an entry's content as extraction writes it ----------------------------------------------

// What sparse holes read as. 64 KiB: a hole is handed out in chunks of this size.
constexpr size_t kZeroChunk = size_t{64} << 10;
const unsigned char kZeros[kZeroChunk] = {};

// The bytes of an archive's current entry, in order, as a tar extraction writes them: the holes
// of a sparse member (which archive_read_data_block skips, telling only the offsets of the data)
// come as runs of zeros, and a hole at the end runs on to the entry's size. Never throws (it
// runs inside libarchive's read callbacks): errors are returned.
class EntryContent {
public:
    // `size` < 0: not known (the raw reader's one entry, which is all the stream).
    EntryContent(archive* a, int64_t size) : a_(a), size_(size) {}

    // 1: the next chunk is in [p, p + n); 0: the end; -1: an error, error() says which.
    int next(const unsigned char*& p, size_t& n) {
        for (;;) {
            const uint64_t data_at = eof_ ? end() : block_at_;
            if (pos_ < data_at) {  // a hole before the next data, or at the end
                n = size_t(std::min<uint64_t>(data_at - pos_, kZeroChunk));
                p = kZeros;
                pos_ += n;
                return 1;
            }
            if (left_ > 0) {
                p = block_;
                n = left_;
                pos_ += left_;
                left_ = 0;
                return 1;
            }
            if (eof_) return 0;
            const void* b = nullptr;
            size_t s = 0;
            la_int64_t off = 0;
            int r = archive_read_data_block(a_, &b, &s, &off);
            if (r == ARCHIVE_EOF) {
                eof_ = true;
                continue;
            }
            if (r != ARCHIVE_OK) {
                const char* why = archive_error_string(a_);
                error_ = why ? why : "read error";
                return -1;
            }
            if (off < 0 || uint64_t(off) < pos_) {
                error_ = "its sparse map goes backwards (damaged header)";
                return -1;
            }
            if (size_ >= 0 && (uint64_t(off) > uint64_t(size_) || s > uint64_t(size_) - uint64_t(off))) {
                error_ = "its data reaches beyond its size of " + std::to_string(size_) + " bytes (damaged sparse map)";
                return -1;
            }
            block_ = static_cast<const unsigned char*>(b);
            left_ = s;
            block_at_ = uint64_t(off);
        }
    }

    const std::string& error() const { return error_; }

private:
    uint64_t end() const { return size_ >= 0 ? uint64_t(size_) : pos_; }

    archive* a_;
    int64_t size_;
    uint64_t pos_ = 0;  // bytes handed out
    const unsigned char* block_ = nullptr;
    size_t left_ = 0;        // of the block, not yet handed out
    uint64_t block_at_ = 0;  // the block's offset in the entry
    bool eof_ = false;
    std::string error_;
};

// A libarchive read callback over an EntryContent: how one archive reads another's entry.
la_ssize_t read_entry_content(archive* reader, EntryContent& content, const void** buffer) {
    const unsigned char* p = nullptr;
    size_t n = 0;
    int r = content.next(p, n);
    if (r < 0) {
        archive_set_error(reader, EIO, "%s", content.error().c_str());
        return -1;
    }
    *buffer = r ? p : nullptr;
    return r ? static_cast<la_ssize_t>(n) : 0;
}

// --- a tar, and what follows its end ---------------------------------------------------------

// Feeds a tar reader from the decompressed stream, and keeps the last bytes it fed: at the
// tar's end, the tar reader has consumed its end-of-archive marker, and whatever it was fed
// beyond that lies in those bytes. libarchive asks for a new block only when the one it has
// cannot supply the 512 bytes of the next header, so they lie in the last block and at most
// the 511 bytes before it; kTail keeps a margin.
class TarFeed {
public:
    explicit TarFeed(EntryContent& stream) : stream_(stream) {}

    static la_ssize_t read(archive* tar, void* self, const void** buffer) {
        auto* f = static_cast<TarFeed*>(self);
        f->keep_tail();
        la_ssize_t n = read_entry_content(tar, f->stream_, buffer);
        f->current_ = n > 0 ? static_cast<const unsigned char*>(*buffer) : nullptr;
        f->current_size_ = n > 0 ? size_t(n) : 0;
        f->fed_ += f->current_size_;
        return n;
    }

    // After the tar reader's ARCHIVE_EOF: "" when nothing but zeros follows the end-of-archive
    // marker (the padding to a whole record), else what does. Reads the stream to its end, or to
    // the first byte that is not zero.
    std::string rest_problem(archive* tar) {
        const uint64_t end = uint64_t(archive_filter_bytes(tar, 0));  // what the tar reader consumed
        if (end > fed_ || fed_ - end > tail_.size() + current_size_)
            return "cannot tell what follows its end (" + std::to_string(fed_ - end) + " bytes unread)";
        uint64_t at = end;
        auto zeros = [&](const unsigned char* p, size_t n) {
            const unsigned char* nz = std::find_if(p, p + n, [](unsigned char c) { return c != 0; });
            at += uint64_t(nz - p);
            return nz == p + n;
        };
        size_t unread = size_t(fed_ - end);
        const size_t from_tail = unread > current_size_ ? unread - current_size_ : 0;
        bool clean = zeros(tail_.data() + tail_.size() - from_tail, from_tail) &&
                     zeros(current_ + (current_size_ - (unread - from_tail)), unread - from_tail);
        const unsigned char* p = nullptr;
        size_t n = 0;
        while (clean) {
            int r = stream_.next(p, n);
            if (r < 0) return "cannot read what follows its end: " + stream_.error();
            if (r == 0) return "";
            clean = zeros(p, n);
        }
        return "its end-of-archive marker (a zero block) ends it at byte " + std::to_string(end) +
               ", but data follows (byte " + std::to_string(at) +
               " is not zero): a lone zero block inside the archive (GNU tar warns \"A lone zero block\"), damage, "
               "or a second archive appended to it. The members after it would be lost";
    }

private:
    static constexpr size_t kTail = 4096;

    void keep_tail() {
        if (current_size_ >= kTail) {
            tail_.assign(current_ + current_size_ - kTail, current_ + current_size_);
            return;
        }
        tail_.insert(tail_.end(), current_, current_ + current_size_);
        if (tail_.size() > kTail) tail_.erase(tail_.begin(), tail_.end() - long(kTail));
    }

    EntryContent& stream_;
    const unsigned char* current_ = nullptr;  // the block the tar reader has now
    size_t current_size_ = 0;
    std::vector<unsigned char> tail_;  // the last bytes fed before `current_`
    uint64_t fed_ = 0;
};

// One tar: a file, or an entry of an outer tar. A raw reader with every libarchive filter
// decompresses it (gzip, zstd, xz, ...), and a tar reader parses the result, fed through TarFeed
// so that the end of the tar can be checked.
class TarArchive {
public:
    TarArchive(const std::filesystem::path& file, std::string where) : where_(std::move(where)) {
        raw_ = raw_reader();
        if (archive_read_open_filename(raw_.get(), file.c_str(), 1 << 20) != ARCHIVE_OK)
            fail(where_, "cannot open as a tar archive", raw_.get());
        open_tar();
    }

    // The current entry of an outer tar, of `size` bytes.
    TarArchive(archive* outer, int64_t size, std::string where) : where_(std::move(where)) {
        outer_.emplace(outer, size);
        raw_ = raw_reader();
        auto read = [](archive* a, void* self, const void** buffer) {
            return read_entry_content(a, *static_cast<EntryContent*>(self), buffer);
        };
        if (archive_read_open(raw_.get(), &*outer_, nullptr, read, nullptr) != ARCHIVE_OK)
            fail(where_, "cannot open as a tar archive", raw_.get());
        open_tar();
    }

    archive* tar() const { return tar_.get(); }
    const std::string& where() const { return where_; }
    // Bytes of the file read so far (compressed, when it is).
    uint64_t position() const { return uint64_t(archive_filter_bytes(raw_.get(), -1)); }

    // Called once the tar reader has said ARCHIVE_EOF.
    void check_end() {
        std::string problem = feed_->rest_problem(tar_.get());
        if (!problem.empty()) throw std::runtime_error("imgpack: " + where_ + ": " + problem);
    }

private:
    static ArchiveReader raw_reader() {
        ArchiveReader a(archive_read_new());
        if (!a) throw std::runtime_error("imgpack: libarchive: out of memory");
        archive_read_support_filter_all(a.get());
        archive_read_support_format_raw(a.get());
        return a;
    }

    void open_tar() {
        archive_entry* e = nullptr;
        if (archive_read_next_header(raw_.get(), &e) != ARCHIVE_OK)
            fail(where_, "cannot open as a tar archive", raw_.get());
        stream_.emplace(raw_.get(), -1);
        feed_.emplace(*stream_);
        tar_.reset(archive_read_new());
        if (!tar_) throw std::runtime_error("imgpack: libarchive: out of memory");
        archive_read_support_format_tar(tar_.get());
        if (archive_read_open(tar_.get(), &*feed_, nullptr, &TarFeed::read, nullptr) != ARCHIVE_OK)
            fail(where_, "cannot open as a tar archive", tar_.get());
    }

    std::string where_;
    std::optional<EntryContent> outer_;  // nested: the outer tar's entry, which raw_ reads
    ArchiveReader raw_;
    std::optional<EntryContent> stream_;  // raw_'s one entry: the tar, decompressed
    std::optional<TarFeed> feed_;
    ArchiveReader tar_;
};

// --- entries ---------------------------------------------------------------------------------

// The member's file name, or why it is not a bare file name.
struct EntryName {
    std::string name;
    std::string problem;
};

bool plain_component(std::string_view s) { return !s.empty() && s != "." && s != ".." && s.find('/') == s.npos; }

EntryName entry_name(const char* raw, bool one_folder) {
    std::string path = raw ? raw : "";
    std::string name = path.rfind("./", 0) == 0 ? path.substr(2) : path;
    size_t slash = name.find('/');
    if (one_folder && slash != std::string::npos && plain_component(std::string_view(name).substr(0, slash)))
        name = name.substr(slash + 1);
    if (!plain_component(name)) {
        if (name.find('/') == std::string::npos) return {path, "not a file name"};
        return {path, "the member's path has a directory part (ImageNet's archives hold bare file names)"};
    }
    return {name, ""};
}

const char* kind_problem(mode_t type) {
    switch (type) {
        case AE_IFREG: return nullptr;
        case AE_IFDIR: return "a directory, not an image file";
        case AE_IFLNK: return "a symbolic link, not an image file";
        case AE_IFCHR: return "a character device, not an image file";
        case AE_IFBLK: return "a block device, not an image file";
        case AE_IFIFO: return "a FIFO, not an image file";
        case AE_IFSOCK: return "a socket, not an image file";
        default: return "an entry of unknown type, not an image file";
    }
}

// The current entry's content whole, as extraction writes it: holes filled, exactly `size` bytes.
std::vector<unsigned char> read_content(archive* a, uint64_t size, const std::string& where) {
    std::vector<unsigned char> bytes;
    bytes.reserve(size_t(size));
    EntryContent content(a, int64_t(size));
    const unsigned char* p = nullptr;
    size_t n = 0;
    for (int r; (r = content.next(p, n)) != 0;) {
        if (r < 0) throw std::runtime_error("imgpack: " + where + ": cannot read data: " + content.error());
        bytes.insert(bytes.end(), p, p + n);
    }
    return bytes;
}

// Every entry of a tar as a Member, in archive order, ending with the end-of-archive check.
// Files (with bytes), hard links and problems go to `sink` as they come; `on_file` (when it
// returns true) takes a regular file instead, before its data is read: the train archive's
// per-class tars. The "./" entry of `tar -C dir .` is dropped, as is the one folder `one_folder`
// allows. Returns the number of entries seen.
template <class OnFile>
uint64_t walk(TarArchive& t, const std::string& group, const MemberSink& sink, const SourceOptions& options,
              OnFile&& on_file, const std::function<uint64_t()>& position) {
    archive* a = t.tar();
    const std::string& where = t.where();
    uint64_t entries = 0;
    auto send = [&](Member::Kind kind, std::string name, std::string problem = {}) {
        return Member::make(kind, where, group, std::move(name), std::move(problem));
    };
    archive_entry* e = nullptr;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) fail(where, "cannot read the next entry (truncated or corrupt?)", a);
        const char* raw = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR && raw) {
            std::string dir = raw;
            if (dir.rfind("./", 0) == 0) dir = dir.substr(2);
            while (!dir.empty() && dir.back() == '/') dir.pop_back();
            // "./" from `tar -C dir .`, and the one folder a patch archive may keep its files in.
            if (dir.empty() || dir == "." || (options.one_folder && plain_component(dir))) continue;
        }
        ++entries;
        EntryName n = entry_name(raw, options.one_folder);
        const char* link = archive_entry_hardlink(e);
        const uint64_t size = archive_entry_size_is_set(e) ? uint64_t(std::max<la_int64_t>(archive_entry_size(e), 0)) : 0;
        Member m;
        if (!n.problem.empty()) {
            m = send(Member::Kind::problem, std::move(n.name), std::move(n.problem));
        } else if (link && size == 0) {
            // A hard link without data: a second name for an earlier member. (With data, as pax
            // allows, it is a file like any other.)
            EntryName target = entry_name(link, options.one_folder);
            if (target.problem.empty()) {
                m = send(Member::Kind::hard_link, std::move(n.name));
                m.link_target = std::move(target.name);
            } else {
                m = send(Member::Kind::problem, std::move(n.name),
                         "a hard link to '" + std::string(link) + "', which is not a file of this archive");
            }
        } else if (const char* p = link ? nullptr : kind_problem(type)) {
            m = send(Member::Kind::problem, std::move(n.name), p);
        } else if (on_file(std::string(n.name), int64_t(size))) {
            continue;
        } else if (size > options.max_image_bytes) {
            m = send(Member::Kind::problem, std::move(n.name), image_too_large(size, options.max_image_bytes));
        } else {
            m = send(Member::Kind::file, n.name);
            m.bytes = read_content(a, size, where + ": " + n.name);
        }
        m.position = position();
        sink(std::move(m));
    }
    t.check_end();
    return entries;
}

constexpr auto no_inner_tars = [](std::string&&, int64_t) { return false; };

void read_class_tar(TarArchive& inner, const std::string& parent, const std::string& inner_name, const MemberSink& sink,
                    const SourceOptions& options, const std::function<uint64_t()>& position) {
    Member end = Member::make(Member::Kind::group_end, parent, inner_name.substr(0, inner_name.size() - 4), inner_name);
    end.entries = walk(inner, end.group, sink, options, no_inner_tars, position);
    end.position = position();
    sink(std::move(end));
}

}  // namespace

void read_flat_archive(const std::filesystem::path& path, const MemberSink& sink, const SourceOptions& options) {
    TarArchive t(path, path.string());
    walk(t, "", sink, options, no_inner_tars, [&] { return t.position(); });
}

void read_nested_archive(const std::filesystem::path& path, const MemberSink& sink, const SourceOptions& options) {
    TarArchive outer(path, path.string());
    const std::string& where = outer.where();
    const std::function<uint64_t()> position = [&] { return outer.position(); };
    SourceOptions inner_options = options;
    inner_options.one_folder = false;
    walk(
        outer, "", sink, inner_options,
        [&](std::string&& name, int64_t size) {
            if (name.size() > 4 && name.ends_with(".tar")) {
                TarArchive inner(outer.tar(), size, where + ": " + name);
                read_class_tar(inner, where, name, sink, inner_options, position);
            } else {
                Member m = Member::make(Member::Kind::problem, where, "", std::move(name),
                                        "expected a per-class tar named <WNID>.tar inside the train archive");
                m.position = position();
                sink(std::move(m));
            }
            return true;  // its data is not read
        },
        position);
}

void read_class_tar_file(const std::filesystem::path& file, const std::string& parent, const MemberSink& sink,
                         const SourceOptions& options, uint64_t position_before) {
    const std::string name = file.filename().string();
    TarArchive inner(file, (std::filesystem::path(parent) / name).string());
    read_class_tar(inner, parent, name, sink, options, [&] { return position_before + inner.position(); });
}

}  // namespace imgpack
