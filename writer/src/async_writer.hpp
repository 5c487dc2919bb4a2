// AsyncWriter: writes large chunks of a file on a thread of its own, so that the next chunk is
// filled (copied, hashed) while the last one is on its way to the disk. PackWriter uses it for
// the blob section, which is nearly all of a pack's bytes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace imgpack {

// Page-aligned storage, so that whole pages of a buffer can go out with O_DIRECT.
template <class T>
struct PageAligned {
    using value_type = T;
    static constexpr std::align_val_t kAlign{4096};
    PageAligned() = default;
    template <class U>
    PageAligned(const PageAligned<U>&) {}
    T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
    void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
    template <class U>
    bool operator==(const PageAligned<U>&) const { return true; }
};

using WriteBuffer = std::vector<unsigned char, PageAligned<unsigned char>>;

class AsyncWriter {
public:
    static constexpr size_t kPage = 4096;

    // Writes go to `direct_fd` (opened with O_DIRECT) when it is >= 0, else to `fd`; both name
    // the same file, which the caller owns and closes after finish() or destruction. `name`
    // describes the file in error messages. At most `buffers` chunks exist at once (>= 2): one
    // being filled by the caller, the others queued or being written.
    AsyncWriter(int fd, int direct_fd, std::string name, size_t buffers, size_t chunk_capacity);
    ~AsyncWriter();  // waits for the writes in flight; a failure not yet reported is dropped
    AsyncWriter(const AsyncWriter&) = delete;
    AsyncWriter& operator=(const AsyncWriter&) = delete;

    // Queues `full[0, size)` to be written at `offset` and returns an empty buffer holding
    // `full[size, end)`, to fill next. With O_DIRECT, `size` and `offset` are page multiples.
    // Waits while every buffer is in use. Throws std::runtime_error for a failed earlier write.
    WriteBuffer submit(WriteBuffer&& full, size_t size, uint64_t offset);

    // Waits until every queued write is on the file (in the page cache or, for O_DIRECT, on
    // the device). Throws like submit().
    void finish();

private:
    struct Job {
        WriteBuffer buffer;
        size_t size;
        uint64_t offset;
    };
    void run();
    void write(const Job& job);  // on the writing thread; throws std::runtime_error
    [[noreturn]] void fail(int error) const;
    void throw_failure();        // with lock held

    const int fd_;
    int direct_fd_;  // -1 once the file system refused an O_DIRECT write (touched by the thread only)
    const std::string name_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Job> queue_;
    std::vector<WriteBuffer> free_;
    size_t buffers_left_;  // buffers not yet allocated
    size_t chunk_capacity_;
    bool busy_ = false, stopping_ = false;
    std::string failure_;  // the first failed write's message
    std::thread thread_;
};

}  // namespace imgpack
