#include <imgpack/destination.hpp>
#include <imgpack/unique_fd.hpp>

#include "temp_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace imgpack {

namespace {

namespace fs = std::filesystem;

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

std::string link_target(const fs::path& link) {
    std::error_code ec;
    fs::path target = fs::read_symlink(link, ec);
    return ec ? std::string("?") : target.string();
}

// The input folder that holds `destination` (at any depth, symbolic links resolved), or none.
const InputPath* enclosing_input_folder(const fs::path& destination, std::span<const InputPath> inputs) {
    std::vector<std::pair<struct stat, const InputPath*>> folders;
    for (const InputPath& in : inputs) {
        struct stat st {};
        if (!in.path.empty() && ::stat(in.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) folders.push_back({st, &in});
    }
    if (folders.empty()) return nullptr;
    fs::path dir = destination.parent_path();
    std::error_code ec;
    const fs::path real = fs::canonical(dir.empty() ? fs::path(".") : dir, ec);
    if (ec) return nullptr;  // no such folder: creating the temporary file reports it
    for (fs::path p = real;; p = p.parent_path()) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0)
            for (const auto& [folder, in] : folders)
                if (same_file(st, folder)) return in;
        if (p == p.parent_path()) return nullptr;
    }
}

}  // namespace

void check_destination(const fs::path& destination, bool overwrite, std::span<const InputPath> inputs) {
    const std::string dest = "imgpack: " + destination.string();
    struct stat st {};
    if (::lstat(destination.c_str(), &st) == 0) {
        for (const InputPath& in : inputs) {
            struct stat input {};
            if (!in.path.empty() && ::stat(in.path.c_str(), &input) == 0 && same_file(input, st))
                throw std::runtime_error(dest + " is the input given as " + in.option + " (" + in.path.string() +
                                         "): an output never replaces an input of its own run");
        }
        if (S_ISLNK(st.st_mode))
            throw std::runtime_error(dest + " is a symbolic link (to " + link_target(destination) +
                                     "): an output replaces only a regular file, never a link; give the file "
                                     "itself, or remove the link");
        if (!S_ISREG(st.st_mode))
            throw std::runtime_error(dest + " is " + kind_of(st.st_mode) +
                                     ": an output is written only where nothing is, or (with --force) over a "
                                     "regular file");
        if (!overwrite) throw std::runtime_error(dest + " already exists (use --force to replace it)");
    } else if (errno != ENOENT) {
        throw std::runtime_error(dest + ": cannot check the destination: " + std::strerror(errno));
    }
    if (const InputPath* in = enclosing_input_folder(destination, inputs))
        throw std::runtime_error(dest + " is inside the folder given as " + in->option + " (" + in->path.string() +
                                 "): an output is never written among the files its own run reads");
}

void write_file_atomically(const fs::path& destination, std::string_view bytes, bool overwrite,
                           std::span<const InputPath> inputs) {
    check_destination(destination, overwrite, inputs);
    TempFile file(destination);
    const auto data = std::span(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    if (int e = write_all_at(file.fd(), data, 0))
        throw std::runtime_error("imgpack: cannot write " + file.path().string() + " (for " + destination.string() +
                                 "): " + std::strerror(e));
    publish(file, destination, overwrite, inputs);
}

}  // namespace imgpack
