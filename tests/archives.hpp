// Test inputs made in memory: tars written with libarchive (any entry kind, in any order), and
// tiny JPEGs that differ by a shade.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include "jpeg_encode.hpp"

#include <turbojpeg.h>

#include <string>
#include <utility>
#include <vector>

namespace test {

struct TarEntry {
    std::string name;
    std::vector<unsigned char> bytes;
    enum Kind { file, hard_link, directory } kind = file;
    std::string link_target;  // hard_link: the earlier member's path
};

// A ustar archive (or `format`, e.g. ARCHIVE_FORMAT_TAR_PAX_RESTRICTED) of the entries, in order.
inline std::vector<unsigned char> tar_of(const std::vector<TarEntry>& entries, int format = ARCHIVE_FORMAT_TAR_USTAR) {
    std::vector<unsigned char> out;
    archive* a = archive_write_new();
    REQUIRE(archive_write_set_format(a, format) == ARCHIVE_OK);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(
        a, &out, nullptr,
        [](archive*, void* ctx, const void* buf, size_t n) -> la_ssize_t {
            auto* v = static_cast<std::vector<unsigned char>*>(ctx);
            v->insert(v->end(), static_cast<const unsigned char*>(buf), static_cast<const unsigned char*>(buf) + n);
            return static_cast<la_ssize_t>(n);
        },
        nullptr);
    for (const TarEntry& t : entries) {
        archive_entry* e = archive_entry_new();
        archive_entry_set_pathname(e, t.name.c_str());
        archive_entry_set_filetype(e, t.kind == TarEntry::directory ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.bytes.size()));
        if (t.kind == TarEntry::hard_link) archive_entry_set_hardlink(e, t.link_target.c_str());
        REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
        if (!t.bytes.empty()) archive_write_data(a, t.bytes.data(), t.bytes.size());
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

using Files = std::vector<std::pair<std::string, std::vector<unsigned char>>>;

// A ustar archive of the given files, in the given order.
inline std::vector<unsigned char> tar_bytes(const Files& files) {
    std::vector<TarEntry> entries;
    for (const auto& [name, bytes] : files) entries.push_back({name, bytes, TarEntry::file, ""});
    return tar_of(entries);
}

// A tiny valid JPEG (8x8 gray) whose first pixel encodes `shade`, so images can differ.
inline std::vector<unsigned char> tiny_jpeg(unsigned char shade) {
    unsigned char px[64];
    for (int i = 0; i < 64; ++i) px[i] = static_cast<unsigned char>(shade + i);
    return encode_jpeg(px, 8, 8, TJPF_GRAY, TJSAMP_GRAY, 75);
}

}  // namespace test
