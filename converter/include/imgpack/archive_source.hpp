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
    std::string where;    // for messages: "train.tar" or "train.tar: n01440764.tar"
    std::string group;    // the inner tar's name without ".tar" (the WNID); empty for a flat tar
    std::string name;     // the member's file name; its whole path when `problem` is set
    std::vector<unsigned char> bytes;
    std::string problem;  // non-empty: not an image file entry (a link, a directory, a path with
                          // directories, a train member that is not a <WNID>.tar); bytes empty
};

using MemberSink = std::function<void(Member&&)>;

// Every entry of a tar (any compression libarchive reads), in archive order. A regular file
// with a bare name (an optional leading "./" is dropped) comes with its bytes; anything else
// (a link, a directory other than "./", a device, a name with a directory part, which could
// also smuggle in "..") comes with `problem` set, for the caller to reject or skip. Archive
// damage (a truncated or corrupt tar) throws, naming the archive and entry.
void read_flat_archive(const std::filesystem::path& archive, const MemberSink& sink);

// Every entry of every inner tar of a tar of tars, in archive order, as read_flat_archive
// gives them. An outer member that is not a regular file named <group>.tar comes with `problem`
// set; its contents are not read.
void read_nested_archive(const std::filesystem::path& archive, const MemberSink& sink);

}  // namespace imgpack
