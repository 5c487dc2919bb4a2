// Where an output may be written: the one check that every command writing a pack (or any other
// output file) makes before it starts and again just before the output takes its name, and the
// atomic write of a small output file.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace imgpack {

// An input of the run that writes the output, as the user gave it, e.g. {"--train", "train.tar"}.
struct InputPath {
    std::string option;
    std::filesystem::path path;
};

// Throws std::runtime_error, saying why, unless an output may be written at `destination`:
//  - nothing is there, or (with `overwrite`) a regular file. Never a directory, FIFO, socket or
//    device node (`-o /dev/null -f` as root must not replace /dev/null), and never a symbolic
//    link, dangling or not: replacing it would replace the link, not the file it names;
//  - the destination is none of `inputs`. Files are compared by device and inode, following
//    symbolic links, so another name of an input (a hard link, a symlink, /dev/fd/N) is caught;
//  - the destination is not inside a folder that is one of `inputs`: its temporary file, and then
//    the output, would appear among the files this run reads.
// Inputs that do not exist are left for their readers to report.
void check_destination(const std::filesystem::path& destination, bool overwrite,
                       std::span<const InputPath> inputs = {});

// Writes `bytes` to `destination` as PackWriter writes a pack: check_destination(), then a
// temporary file beside it (removed on any failure and on signals), fsync, the name given
// without replacing a file that appeared meanwhile (unless `overwrite`), the directory fsynced.
// Throws std::runtime_error naming the file and the reason.
void write_file_atomically(const std::filesystem::path& destination, std::string_view bytes, bool overwrite,
                           std::span<const InputPath> inputs = {});

}  // namespace imgpack
