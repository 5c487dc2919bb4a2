#include "temp_file.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace imgpack {

namespace {

// Six characters from [0-9A-Za-z], as mkstemp would pick.
std::string random_suffix() {
    static constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char bytes[6];
    if (::getentropy(bytes, sizeof bytes) != 0)
        throw std::runtime_error(std::string("imgpack: no random bytes for a temporary name: ") + std::strerror(errno));
    std::string s;
    for (unsigned char b : bytes) s += kAlphabet[b % (sizeof kAlphabet - 1)];
    return s;
}

bool refused_as_unsupported(int e) { return e == EINVAL || e == ENOSYS || e == ENOTSUP || e == EOPNOTSUPP; }
bool no_hard_links(int e) { return e == EPERM || e == ENOSYS || e == ENOTSUP || e == EOPNOTSUPP; }

int system_rename_noreplace(const char* from, const char* to) {
    return ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}
int system_lstat_exists(const char* path) {
    struct stat st {};
    if (::lstat(path, &st) == 0) return 1;
    return errno == ENOENT ? 0 : -1;
}

// Both names lead to one file. (NFS can repeat a LINK whose reply was lost and then answer
// EEXIST for the link it just made.)
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    struct stat sa {}, sb {};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace

TempFile::TempFile(const std::filesystem::path& destination) {
    // Held back until the new file is registered for clean-up, so that no moment exists when it
    // is on disk but unknown to the handler.
    signal_cleanup::HoldSignals hold;
    for (int attempt = 0;; ++attempt) {
        path_ = destination.parent_path() / ("imgpack-" + random_suffix() + ".tmp");
        const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) {
            fd_.reset(fd);  // nothing below can throw: the destructor now owns the file
            cleanup_ = signal_cleanup::Registration(path_.string());
            return;
        }
        if (errno != EEXIST || attempt == 100) {
            const int e = errno;
            path_.clear();
            throw std::runtime_error("imgpack: cannot create a temporary file beside " + destination.string() + ": " +
                                     std::strerror(e));
        }
    }
}

TempFile::~TempFile() {
    fd_.reset();
    if (!keep_ && !path_.empty()) ::unlink(path_.c_str());
    // cleanup_ is released after the unlink: a signal in between finds the file already gone.
}

void TempFile::keep() noexcept {
    keep_ = true;
    cleanup_.reset();
}

void publish(TempFile& file, const std::filesystem::path& destination, bool overwrite,
             std::span<const InputPath> inputs) {
    auto fail = [&](const std::string& what, int error) {
        throw std::runtime_error("imgpack: " + what + " " + file.path().string() + " (for " + destination.string() +
                                 "): " + std::strerror(error));
    };
    // Durable before visible: data and metadata reach the disk, then the name appears, then the
    // name itself is made durable.
    if (::fsync(file.fd()) != 0) fail("cannot fsync", errno);
    if (int e = file.close()) fail("cannot close", e);
    if (overwrite) check_destination(destination, overwrite, inputs);
    // Without overwrite, a destination that appeared meanwhile is not replaced.
    const PlaceResult placed = move_into_place(file.path(), destination, overwrite);
    if (placed.error == EEXIST && !overwrite) fail("the destination appeared meanwhile; not replacing it with", EEXIST);
    if (placed.error) fail("cannot rename", placed.error);
    file.keep();  // the name now belongs to the finished file
    // The file is complete and in place whatever happens now, but a crash could still undo the
    // rename, so a failure is reported, not ignored.
    std::filesystem::path dir_path = destination.parent_path();
    if (dir_path.empty()) dir_path = ".";
    UniqueFd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir || ::fsync(dir.get()) != 0)
        throw std::runtime_error("imgpack: wrote " + destination.string() + ", but could not fsync its directory " +
                                 dir_path.string() + " (" + std::strerror(errno) +
                                 "): the new name may not survive a crash");
}

const FileOps& system_file_ops() {
    static const FileOps ops{system_rename_noreplace, ::rename, ::link, ::unlink, system_lstat_exists};
    return ops;
}

PlaceResult move_into_place(const std::filesystem::path& temp, const std::filesystem::path& destination, bool replace,
                            const FileOps& ops) {
    const char* from = temp.c_str();
    const char* to = destination.c_str();
    if (replace) return {ops.rename(from, to) == 0 ? 0 : errno, Placement::replaced};

    const int renamed = ops.rename_noreplace(from, to) == 0 ? 0 : errno;
    if (!refused_as_unsupported(renamed)) return {renamed, Placement::renamed_noreplace};

    // No RENAME_NOREPLACE here (NFS, some FUSE file systems). A hard link is as atomic, and
    // refuses an existing name just the same; then the temporary name goes. (Should that unlink
    // fail, the temporary name stays as a second name of the complete pack.)
    const int linked = ops.link(from, to) == 0 ? 0 : errno;
    if (linked == 0 || (linked == EEXIST && same_file(temp, destination))) {
        (void)ops.unlink(from);
        return {0, Placement::linked};
    }
    if (!no_hard_links(linked)) return {linked, Placement::linked};

    // No hard links either (vfat, some FUSE file systems): check, then rename. The one weaker
    // case: a destination created between the two (microseconds) would be replaced.
    const int exists = ops.lstat_exists(to);
    if (exists != 0) return {exists > 0 ? EEXIST : errno, Placement::checked_rename};
    return {ops.rename(from, to) == 0 ? 0 : errno, Placement::checked_rename};
}

}  // namespace imgpack
