#include "files.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace imgpack {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
    throw std::runtime_error("imgpack: " + file.string() + ": " + what);
}

std::string too_large(uint64_t max_bytes) { return "larger than " + std::to_string(max_bytes) + " bytes"; }

template <class Buffer>
Buffer read_whole(const std::filesystem::path& file, uint64_t max_bytes) {
    struct Fd {
        int fd;
        ~Fd() {
            if (fd >= 0) ::close(fd);
        }
    } f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) fail(file, std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) fail(file, std::string("cannot stat: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(file, "is a folder, not a file");
    // A regular file's size is known: one allocation, and a final read that returns 0. Anything
    // else (a pipe) grows as it comes.
    const bool sized = S_ISREG(st.st_mode);
    if (sized && uint64_t(st.st_size) > max_bytes) fail(file, too_large(max_bytes));
    Buffer bytes;
    bytes.resize(sized ? size_t(st.st_size) + 1 : size_t{1} << 16);  // +1: see a file that grew
    size_t have = 0;
    for (;;) {
        if (have == bytes.size()) {
            if (have > max_bytes) fail(file, too_large(max_bytes));
            const uint64_t cap = max_bytes < UINT64_MAX ? max_bytes + 1 : max_bytes;  // one byte over: refused
            bytes.resize(size_t(std::min<uint64_t>(uint64_t(have) * 2, cap)));
        }
        ssize_t n = ::read(f.fd, bytes.data() + have, bytes.size() - have);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(file, std::string("read failed: ") + std::strerror(errno));
        }
        have += size_t(n);
    }
    if (have > max_bytes) fail(file, too_large(max_bytes));
    bytes.resize(have);
    return bytes;
}

}  // namespace

std::vector<unsigned char> read_file(const std::filesystem::path& file, uint64_t max_bytes) {
    return read_whole<std::vector<unsigned char>>(file, max_bytes);
}

std::string read_text_file(const std::filesystem::path& file, uint64_t max_bytes) {
    return read_whole<std::string>(file, max_bytes);
}

}  // namespace imgpack
