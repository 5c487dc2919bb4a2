#include "blob_copy.hpp"

#include <xxhash.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

namespace imgpack::exporting {

namespace {

// Neighbouring records are read together when they lie this close: the padding between a
// writer's blobs is < 64 bytes, so adjacent records share a read and nothing else does (the page
// around a gap is read anyway).
constexpr uint64_t kMaxGap = 4096;
// One read covers at most this much (a record larger than this is read alone, whole).
constexpr uint64_t kReadChunk = 8u << 20;
// The kernel is asked to read this far ahead of the copy (POSIX_FADV_WILLNEED or
// MADV_WILLNEED), so that a source not in the page cache is read as a queue of requests rather
// than one request at a time while the copy waits.
constexpr uint64_t kReadAhead = 64u << 20;
constexpr size_t kPage = 4096;

struct Run {
    size_t first, last;  // items [first, last)
    uint64_t begin, end; // source bytes [begin, end)
};

std::vector<Run> runs_of(const std::vector<BlobItem>& items) {
    std::vector<Run> runs;
    for (size_t i = 0; i < items.size(); ++i) {
        const uint64_t end = items[i].offset + items[i].size;
        if (!runs.empty()) {
            Run& r = runs.back();
            if (items[i].offset >= r.end ? items[i].offset - r.end <= kMaxGap : true) {
                const uint64_t new_end = std::max(r.end, end);
                if (new_end - r.begin <= kReadChunk) {
                    r.last = i + 1;
                    r.end = new_end;
                    continue;
                }
            }
        }
        runs.push_back({i, i + 1, items[i].offset, end});
    }
    return runs;
}

struct AlignedFree {
    void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t{kPage}); }
};
using Buffer = std::unique_ptr<unsigned char, AlignedFree>;

}  // namespace

ReadMethod read_method_from_environment() {
    const char* v = std::getenv("IMGPACK_EXPORT_READ");
    return v && std::string(v) == "mmap" ? ReadMethod::mapping : ReadMethod::pread;
}

void copy_blobs(const std::filesystem::path& source, int fd, std::vector<BlobItem>& items, PackWriter& writer,
                const std::function<std::string(const BlobItem&)>& describe, ReadMethod method) {
    std::stable_sort(items.begin(), items.end(), [](const BlobItem& a, const BlobItem& b) { return a.offset < b.offset; });
    const std::vector<Run> runs = runs_of(items);
    auto fail = [&](const std::string& what) {
        throw std::runtime_error("imgpack export: " + source.string() + ": " + what);
    };

    Buffer buffer;
    size_t capacity = 0;
    size_t advised = 0;  // runs [0, advised) have been announced to the kernel
    uint64_t advised_bytes = 0, done_bytes = 0;
    for (const Run& run : runs) {
        // Read-ahead: announce the runs up to kReadAhead bytes past this one.
        while (advised < runs.size() && advised_bytes < done_bytes + kReadAhead) {
            const Run& a = runs[advised++];
            if (method == ReadMethod::pread) {
                (void)::posix_fadvise(fd, static_cast<off_t>(a.begin), static_cast<off_t>(a.end - a.begin),
                                      POSIX_FADV_WILLNEED);
            } else {
                const unsigned char* p = items[a.first].mapped;
                auto page = reinterpret_cast<uintptr_t>(p) / kPage * kPage;
                (void)::madvise(reinterpret_cast<void*>(page), a.end - a.begin + (reinterpret_cast<uintptr_t>(p) - page),
                                MADV_WILLNEED);
            }
            advised_bytes += a.end - a.begin;
        }

        const size_t length = static_cast<size_t>(run.end - run.begin);
        const unsigned char* bytes = nullptr;
        if (method == ReadMethod::pread) {
            if (length > capacity) {
                capacity = std::max<size_t>(length, kReadChunk);
                buffer.reset(static_cast<unsigned char*>(::operator new(capacity, std::align_val_t{kPage})));
            }
            for (size_t got = 0; got < length;) {
                ssize_t n = ::pread(fd, buffer.get() + got, length - got, static_cast<off_t>(run.begin + got));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0)
                    fail("cannot read " + describe(items[run.first]) + ": " +
                         (n < 0 ? std::strerror(errno) : "the file ends early"));
                got += static_cast<size_t>(n);
            }
            bytes = buffer.get();
        } else {
            bytes = items[run.first].mapped;
        }

        for (size_t i = run.first; i < run.last; ++i) {
            BlobItem& item = items[i];
            std::span<const unsigned char> data(bytes + (item.offset - run.begin), item.size);
            if (XXH3_64bits(data.data(), data.size()) != item.xxh3)
                fail(describe(item) + ": checksum mismatch, the stored image bytes are corrupt");
            item.written_at = writer.append_blob(data);
        }
        done_bytes += length;

        // Through the mapping, the pages just copied would stay in this process's resident set
        // until the end: drop them from the mapping (the page cache keeps them).
        if (method == ReadMethod::mapping) {
            auto from = reinterpret_cast<uintptr_t>(bytes) / kPage * kPage;
            auto to = (reinterpret_cast<uintptr_t>(bytes) + length) / kPage * kPage;
            if (to > from) (void)::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
        }
    }
}

}  // namespace imgpack::exporting
