// Streams the members of ImageNet's tarballs with libarchive, in archive order, without
// extracting anything to disk. The train tarball is a tar of per-class tars: each inner tar is
// read in-stream from the outer one.
//
// What a source promises (docs/integrity.md, "Bad input"): every entry of every archive or
// folder comes out as exactly one Member, so nothing is dropped without a word; a file's bytes
// are the bytes a tar extraction writes (sparse holes as zeros, to the member's full size);
// data after a tar's end-of-archive marker is an error, not silently ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace imgpack {

// Larger than any image of ImageNet (they average 110 KB) by far; a record's size is a u32.
inline constexpr uint64_t kDefaultMaxImageBytes = uint64_t{64} << 20;

// The reason a file over the limit is refused.
inline std::string image_too_large(uint64_t size, uint64_t limit) {
    return std::to_string(size) + " bytes, more than the per-image limit of " + std::to_string(limit) +
           " bytes (--max-image-bytes)";
}

struct Member {
    enum class Kind : uint8_t {
        file,       // `bytes` hold the file's content
        hard_link,  // a tar hard link: a second name for the earlier member `link_target` of
                    // the same archive (it extracts as a copy of that member)
        problem,    // cannot be packed: `problem` says why; no bytes
        group_end,  // a per-class tar or class folder has ended: `where` is its parent, `name`
                    // the tar or folder, `group` its WNID, `entries` how many entries it held
    };
    Kind kind = Kind::file;
    std::string where;    // for messages: "train.tar" or "train.tar: n01440764.tar"
    std::string group;    // the inner tar's name without ".tar", or the class folder (the WNID); empty for a flat source
    std::string name;     // the member's file name; its whole path for some problems
    std::vector<unsigned char> bytes;
    std::string problem;      // Kind::problem: why (a directory, a symbolic link, too large, ...)
    std::string link_target;  // Kind::hard_link: the target, named as `name` would name it
    uint64_t entries = 0;     // Kind::group_end
    uint64_t position = 0;    // bytes of the source read so far (the tar file, or a folder's files)

    static Member make(Kind kind, std::string where, std::string group, std::string name, std::string problem = {}) {
        Member m;
        m.kind = kind;
        m.where = std::move(where);
        m.group = std::move(group);
        m.name = std::move(name);
        m.problem = std::move(problem);
        return m;
    }
};

using MemberSink = std::function<void(Member&&)>;

struct SourceOptions {
    // A file larger than this is a problem member, found from its header (or stat) before
    // anything is allocated for it. At most UINT32_MAX.
    uint64_t max_image_bytes = kDefaultMaxImageBytes;
    // A member may sit in one folder (e.g. "test/ILSVRC2012_test_00000001.JPEG", as patch
    // archives may store them); its name is then the file name alone.
    bool one_folder = false;
};

// Every entry of a tar (any compression libarchive reads), in archive order. A regular file
// with a bare name (an optional leading "./" is dropped) comes with its bytes; a hard link to an
// earlier member as Kind::hard_link; anything else (a symbolic link, a directory other than
// "./", a device, a name with a directory part, which could also smuggle in "..", a file over
// the size limit) as Kind::problem, for the caller to reject or skip. Archive damage (a
// truncated or corrupt tar, data after the end-of-archive marker such as a lone zero block
// inside the archive) throws, naming the archive and entry.
void read_flat_archive(const std::filesystem::path& archive, const MemberSink& sink, const SourceOptions& options);

// Every entry of every inner tar of a tar of tars, in archive order, as read_flat_archive
// gives them, each inner tar followed by its Kind::group_end (also when it is empty). An outer
// member that is not a regular file named <group>.tar comes as a problem; its contents are not read.
void read_nested_archive(const std::filesystem::path& archive, const MemberSink& sink, const SourceOptions& options);

// An extracted tree, as users unpack ImageNet: ROOT/<WNID>/<file> (group = the folder's name)
// and ROOT/<file> (no group), folders and files in sorted name order, each class folder followed
// by its Kind::group_end. With `class_tars` (the train source), a file ROOT/<WNID>.tar is read as
// that class's tar, as in the train tarball (a half-extracted train archive). Symbolic links,
// deeper folders and special files come as problems.
void read_directory_tree(const std::filesystem::path& root, const MemberSink& sink, const SourceOptions& options,
                         bool class_tars);

// One per-class tar file, PARENT/<WNID>.tar, as read_nested_archive reads an inner tar; the
// members' positions count from `position_before` (the bytes of the tree read before it).
void read_class_tar_file(const std::filesystem::path& file, const std::string& parent, const MemberSink& sink,
                         const SourceOptions& options, uint64_t position_before);

// Reads `source` as a tar (of tars when `nested`) or, when it is a folder, as an extracted tree.
void read_source(const std::filesystem::path& source, bool nested, const MemberSink& sink, const SourceOptions& options);

}  // namespace imgpack
