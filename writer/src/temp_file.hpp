// The two ends of an atomic output: a temporary file created beside its destination, and the
// step that gives it the destination's name once it is complete and durable.
#pragma once

#include <imgpack/destination.hpp>
#include <imgpack/signal_cleanup.hpp>
#include <imgpack/unique_fd.hpp>

#include <filesystem>
#include <span>
#include <string>

namespace imgpack {

// `imgpack-XXXXXX.tmp` in the destination's folder, created new (O_EXCL) for writing with mode
// 0666: the kernel then applies the process's umask and the directory's default ACL, as for any
// new file, so the finished pack gets the permissions a plain `open(O_CREAT)` would give it,
// without reading or changing the umask (changing it, even for a moment, would affect every
// thread). The name is short whatever the destination's is, so any name the file system allows
// for the destination works (a name of 255 bytes plus a suffix would not), and it is not hidden:
// one left by SIGKILL is in plain sight. Until keep() it is removed when the TempFile goes, and
// by signal_cleanup on the signals it covers. Throws std::runtime_error when it cannot be created.
class TempFile {
public:
    explicit TempFile(const std::filesystem::path& destination);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::filesystem::path& path() const { return path_; }
    int fd() const { return fd_.get(); }
    // Whether signal_cleanup removes it on a signal (false only when all its slots are taken).
    bool removed_on_signal() const { return cleanup_.active(); }
    // Closes the descriptor now; 0 or close's errno.
    int close() { return fd_.close(); }
    // The name now belongs to a finished file: it is no longer removed.
    void keep() noexcept;

private:
    std::filesystem::path path_;  // set before the file exists, so that nothing can throw after
    UniqueFd fd_;
    signal_cleanup::Registration cleanup_;
    bool keep_ = false;
};

// The system calls that move_into_place() makes, as a seam: tests replace them to play file
// systems that lack one (NFS and some FUSE file systems refuse RENAME_NOREPLACE with EINVAL;
// vfat and some FUSE file systems have no hard links). Each returns 0 or -1 with errno set.
struct FileOps {
    int (*rename_noreplace)(const char* from, const char* to);  // renameat2(RENAME_NOREPLACE)
    int (*rename)(const char* from, const char* to);            // replaces the destination
    int (*link)(const char* from, const char* to);              // fails with EEXIST
    int (*unlink)(const char* path);
    int (*lstat_exists)(const char* path);  // 1 when the path exists, 0 when not, -1 on error
};
const FileOps& system_file_ops();

// The last step of an atomic output, for a complete temporary file: fsync, close, check the
// destination again when replacing it (what is there may have changed since the start), give the
// file its name (move_into_place), keep() it, fsync the directory. Throws std::runtime_error
// naming the temporary file, the destination and the reason; the caller's TempFile then removes
// the file, unless it already has its name (a failed directory fsync: the file is complete).
void publish(TempFile& file, const std::filesystem::path& destination, bool overwrite,
             std::span<const InputPath> inputs);

// How move_into_place() gave the file its name.
enum class Placement {
    replaced,           // rename(2): `replace` was set
    renamed_noreplace,  // renameat2(RENAME_NOREPLACE): atomic, refuses an existing destination
    linked,             // link(2), then unlink of the old name: atomic, refuses an existing one
    checked_rename,     // neither is supported: lstat, then rename(2). A destination created in
                        // between (microseconds) would be replaced: the one weaker case
};

struct PlaceResult {
    int error = 0;  // 0, or the errno of the step that failed (EEXIST: the destination exists)
    Placement how = Placement::replaced;
};

// Gives `temp` the name `destination`, replacing an existing file only when `replace` is set.
// Without `replace`, tries the strongest no-replace step the file system supports, in the order
// of Placement. On failure `temp` is left as it was (the caller removes it).
PlaceResult move_into_place(const std::filesystem::path& temp, const std::filesystem::path& destination, bool replace,
                            const FileOps& ops = system_file_ops());

}  // namespace imgpack
