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
    uint64_t position = 0;  // bytes of the source read so far (the tar file, or a folder's files)
};

using MemberSink = std::function<void(Member&&)>;

// Every entry of a tar (any compression libarchive reads), in archive order. A regular file
// with a bare name (an optional leading "./" is dropped) comes with its bytes; anything else
// (a link, a directory other than "./", a device, a name with a directory part, which could
// also smuggle in "..") comes with `problem` set, for the caller to reject or skip. Archive
// damage (a truncated or corrupt tar) throws, naming the archive and entry.
// With `one_folder`, a member may sit in one folder (e.g. "test/ILSVRC2012_test_00000001.JPEG",
// as patch archives may store them); its name is then the file name alone.
void read_flat_archive(const std::filesystem::path& archive, const MemberSink& sink, bool one_folder = false);

// Every entry of every inner tar of a tar of tars, in archive order, as read_flat_archive
// gives them. An outer member that is not a regular file named <group>.tar comes with `problem`
// set; its contents are not read.
void read_nested_archive(const std::filesystem::path& archive, const MemberSink& sink);

// An extracted tree, as users unpack ImageNet: ROOT/<WNID>/<file> (group = the folder's name)
// and ROOT/<file> (no group), folders and files in sorted name order. Links, deeper folders
// and special files come with `problem` set.
void read_directory_tree(const std::filesystem::path& root, const MemberSink& sink);

// Reads `source` as a tar (of tars when `nested`) or, when it is a folder, as an extracted tree.
void read_source(const std::filesystem::path& source, bool nested, const MemberSink& sink);

}  // namespace imgpack
