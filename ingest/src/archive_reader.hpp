// A libarchive read handle that frees itself: the image sources and the devkit reader share it.
#pragma once

#include <archive.h>

#include <memory>
#include <stdexcept>

namespace imgpack {

struct ArchiveReadFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

// A reader with every decompression filter libarchive has (gzip, bzip2, xz, zstd, ...), which is
// how recompressed tarballs (.tar.gz, .tar.zst) are read in-stream. `any_format`: every archive
// format (the devkit may come as a zip); otherwise tar only (ImageNet's archives).
inline ArchiveReader new_archive_reader(bool any_format) {
    ArchiveReader a(archive_read_new());
    if (!a) throw std::runtime_error("imgpack: libarchive: out of memory");
    archive_read_support_filter_all(a.get());
    if (any_format) archive_read_support_format_all(a.get());
    else archive_read_support_format_tar(a.get());
    return a;
}

}  // namespace imgpack
