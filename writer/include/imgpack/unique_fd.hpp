// A file descriptor with one owner, closed when the owner goes; and the one loop that writes a
// whole buffer at an offset through short writes and EINTR. The writer and the tool use both.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace imgpack {

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    // Closes the descriptor held (if any) and holds `fd` instead; close's result is lost.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    // Closes now and says how that went: 0, or close's errno (a deferred write error on some
    // file systems). The descriptor is gone either way, so it is never closed twice.
    int close() noexcept {
        if (fd_ < 0) return 0;
        const int rc = ::close(std::exchange(fd_, -1));
        return rc == 0 ? 0 : errno;
    }

private:
    int fd_ = -1;
};

// Writes all of `data` to `fd` at `offset` (pwrite), through short writes and EINTR. Returns 0,
// or the errno of the write that failed (EIO for a write that took no bytes, which would
// otherwise loop forever). `written`, when given, receives the bytes written before a failure.
inline int write_all_at(int fd, std::span<const unsigned char> data, uint64_t offset, size_t* written = nullptr) {
    size_t done = 0;
    int error = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = n < 0 ? errno : EIO;
            break;
        }
        done += static_cast<size_t>(n);
    }
    if (written) *written = done;
    return error;
}

}  // namespace imgpack
