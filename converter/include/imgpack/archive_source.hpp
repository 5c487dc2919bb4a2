// Streams the members of ImageNet's tarballs with libarchive, in archive order, without
// extracting anything to disk. The train tarball is a tar of per-class tars: each inner tar is
// read in-stream from the outer one.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace imgpack {

struct Member {
    std::string where;  // for messages: "train.tar" or "train.tar: n01440764.tar"
    std::string group;  // the inner tar's name without ".tar" (the WNID); empty for a flat tar
    std::string name;   // the member's file name (no directories)
    std::vector<unsigned char> bytes;
};

using MemberSink = std::function<void(Member&&)>;

// Every regular file of a tar (any compression libarchive reads), in archive order. Directory
// entries are skipped; any other kind of entry (link, device...) is an error.
void read_flat_archive(const std::filesystem::path& archive, const MemberSink& sink);

// Every regular file of every inner tar of a tar of tars, in archive order. Each outer member
// must be named <group>.tar.
void read_nested_archive(const std::filesystem::path& archive, const MemberSink& sink);

}  // namespace imgpack
