// The command's own output streams: a write that fails is an error, never lost silently.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace imgpack::cli {

// Flushes `stream` and throws std::runtime_error when that, or any write to it before, failed:
// EPIPE (the reader is gone and SIGPIPE is ignored), ENOSPC or EIO (a full or failing disk
// behind a redirection). The command then stops as on any other error, removing its temporary
// files; the message goes to stderr, which may itself be the stream that failed.
inline void flush_or_stop(std::FILE* stream, const char* name) {
    errno = 0;
    if (std::fflush(stream) == 0 && !std::ferror(stream)) return;
    const int e = errno;
    throw std::runtime_error(std::string("imgpack: cannot write to ") + name + ": " +
                             (e ? std::strerror(e) : "a write failed"));
}

}  // namespace imgpack::cli
