// The writer at the operating system's boundary: the temporary file's permissions and clean-up,
// writes that come up short, and the last step, which gives the finished file its name on file
// systems with and without RENAME_NOREPLACE and hard links (driven through the FileOps seam).
#include <doctest/doctest.h>

#include "helpers.hpp"

#include "temp_file.hpp"
#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>
#include <imgpack/unique_fd.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <vector>

namespace {

namespace fs = std::filesystem;
using imgpack::Placement;

std::vector<unsigned char> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

size_t open_descriptors() {
    size_t n = 0;
    for (auto& e : fs::directory_iterator("/proc/self/fd")) (void)e, ++n;
    return n;
}

// A temporary file beside `dest` holding `text`, closed, as move_into_place() receives it.
fs::path finished_temp(const fs::path& dest, const std::string& text) {
    fs::path t = dest.string() + ".tmp-test";
    test::write_text(t, text);
    return t;
}

// File systems, as the FileOps seam plays them. Each counts its calls.
int calls_rename_noreplace = 0, calls_link = 0;
int no_noreplace(const char*, const char*) {
    ++calls_rename_noreplace;
    errno = EINVAL;  // what NFS and some FUSE file systems answer
    return -1;
}
int real_link(const char* from, const char* to) {
    ++calls_link;
    return ::link(from, to);
}
int no_link(const char*, const char*) {
    ++calls_link;
    errno = EPERM;  // what vfat answers
    return -1;
}
// NFS retransmitted a LINK whose reply was lost: the link exists, and the answer is EEXIST.
int link_then_eexist(const char* from, const char* to) {
    ++calls_link;
    if (::link(from, to) != 0) return -1;
    errno = EEXIST;
    return -1;
}
int access_denied(const char*, const char*) {
    ++calls_rename_noreplace;
    errno = EACCES;
    return -1;
}

imgpack::FileOps ops_with(int (*rename_noreplace)(const char*, const char*), int (*link)(const char*, const char*)) {
    imgpack::FileOps ops = imgpack::system_file_ops();
    ops.rename_noreplace = rename_noreplace;
    ops.link = link;
    calls_rename_noreplace = calls_link = 0;
    return ops;
}

}  // namespace

TEST_CASE("writer: a pack gets the permissions any new file gets (umask applied by the kernel)") {
    test::TempDir dir;
    for (mode_t mask : {mode_t(027), mode_t(002)}) {
        CAPTURE(mask);
        const mode_t before = ::umask(mask);
        auto out = dir / ("p" + std::to_string(mask) + ".imgpack");
        {
            imgpack::PackWriter w(out, false);
            CHECK(mode_of(w.temporary_path()) == (0666 & ~mask));
            w.append_blob(bytes_of("x"));
            w.finish({});
        }
        ::umask(before);
        CHECK(mode_of(out) == (0666 & ~mask));
    }
}

TEST_CASE("writer: an unfinished writer leaves no file, no descriptor and no clean-up slot") {
    test::TempDir dir;
    const size_t fds = open_descriptors();
    // More writers than signal_cleanup has slots (8), one after another: each gives its slot back.
    for (int i = 0; i < 20; ++i) {
        imgpack::PackWriter w(dir / "p.imgpack", false);
        w.append_blob(bytes_of("some bytes"));
    }
    CHECK(fs::is_empty(dir.path()));
    CHECK(open_descriptors() == fds);
    std::vector<std::unique_ptr<imgpack::TempFile>> files;
    for (int i = 0; i < 8; ++i) {
        files.push_back(std::make_unique<imgpack::TempFile>(dir / "t"));
        CHECK(files.back()->removed_on_signal());
    }
    imgpack::TempFile ninth(dir / "t");
    CHECK_FALSE(ninth.removed_on_signal());  // all slots taken: it is still removed by its destructor
    files.pop_back();
    CHECK(imgpack::TempFile(dir / "t").removed_on_signal());
    files.clear();
}

TEST_CASE("writer: a write that comes up short reports the error that stopped it") {
    // In a child: RLIMIT_FSIZE cuts a write short, and the next one fails with EFBIG. The report
    // must be EFBIG with the bytes written before it, never a stale errno.
    test::TempDir dir;
    auto path = dir / "f";
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        rlimit limit{1000, 1000};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        imgpack::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        std::vector<unsigned char> data(4096, 7);
        size_t written = 0;
        errno = 0;
        const int e = imgpack::write_all_at(fd.get(), data, 0, &written);
        ::_exit(e == EFBIG && written == 1000 ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(fs::file_size(path) == 1000);

    imgpack::UniqueFd read_only(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(imgpack::write_all_at(read_only.get(), bytes_of("x"), 0) == EBADF);
    CHECK(read_only.close() == 0);
    CHECK_FALSE(read_only);
}

TEST_CASE("writer: the last step, on this file system") {
    test::TempDir dir;
    auto dest = dir / "p";
    auto placed = imgpack::move_into_place(finished_temp(dest, "new"), dest, false);
    CHECK(placed.error == 0);
    if (placed.how != Placement::renamed_noreplace)
        MESSAGE("this file system has no RENAME_NOREPLACE: the fallback was used");
    CHECK(test::read_file(dest) == bytes_of("new"));
    // An existing destination is refused, and the temporary file is left for its owner to remove.
    auto temp = finished_temp(dest, "newer");
    CHECK(imgpack::move_into_place(temp, dest, false).error == EEXIST);
    CHECK(test::read_file(dest) == bytes_of("new"));
    CHECK(fs::exists(temp));
    // With replace, it is replaced.
    placed = imgpack::move_into_place(temp, dest, true);
    CHECK(placed.error == 0);
    CHECK(placed.how == Placement::replaced);
    CHECK(test::read_file(dest) == bytes_of("newer"));
    CHECK_FALSE(fs::exists(temp));
}

TEST_CASE("writer: without RENAME_NOREPLACE (NFS, FUSE), a hard link gives the name, still never replacing") {
    test::TempDir dir;
    auto dest = dir / "p";
    auto ops = ops_with(no_noreplace, real_link);
    auto temp = finished_temp(dest, "new");
    auto placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == 0);
    CHECK(placed.how == Placement::linked);
    CHECK(calls_rename_noreplace == 1);
    CHECK(calls_link == 1);
    CHECK(test::read_file(dest) == bytes_of("new"));
    CHECK_FALSE(fs::exists(temp));  // one name left

    temp = finished_temp(dest, "newer");
    placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == EEXIST);
    CHECK(test::read_file(dest) == bytes_of("new"));
    CHECK(fs::exists(temp));

    // A LINK repeated by NFS answers EEXIST for the link just made: that is success.
    fs::remove(dest);
    ops = ops_with(no_noreplace, link_then_eexist);
    placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == 0);
    CHECK(placed.how == Placement::linked);
    CHECK(test::read_file(dest) == bytes_of("newer"));
    CHECK_FALSE(fs::exists(temp));
}

TEST_CASE("writer: without RENAME_NOREPLACE or hard links (vfat, FUSE), check then rename") {
    test::TempDir dir;
    auto dest = dir / "p";
    auto ops = ops_with(no_noreplace, no_link);
    auto temp = finished_temp(dest, "new");
    auto placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == 0);
    CHECK(placed.how == Placement::checked_rename);
    CHECK(calls_link == 1);
    CHECK(test::read_file(dest) == bytes_of("new"));
    CHECK_FALSE(fs::exists(temp));

    temp = finished_temp(dest, "newer");
    placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == EEXIST);
    CHECK(placed.how == Placement::checked_rename);
    CHECK(test::read_file(dest) == bytes_of("new"));
    CHECK(fs::exists(temp));
}

TEST_CASE("writer: a real refusal of the rename is reported, with no fallback tried") {
    test::TempDir dir;
    auto dest = dir / "p";
    auto ops = ops_with(access_denied, real_link);
    auto temp = finished_temp(dest, "new");
    auto placed = imgpack::move_into_place(temp, dest, false, ops);
    CHECK(placed.error == EACCES);
    CHECK(calls_link == 0);
    CHECK_FALSE(fs::exists(dest));
    CHECK(fs::exists(temp));
}

namespace {

// The message check_destination() gives for `dest`, or "" when it allows it.
std::string refusal(const fs::path& dest, bool overwrite, std::vector<imgpack::InputPath> inputs = {}) {
    try {
        imgpack::check_destination(dest, overwrite, inputs);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("writer: the temporary file has a short name of its own, so any legal destination name works") {
    test::TempDir dir;
    for (size_t length : {253, 255}) {  // the name, and NAME_MAX itself
        CAPTURE(length);
        const fs::path out = dir / (std::string(length - 8, 'p') + ".imgpack");
        imgpack::PackWriter w(out, false);
        CHECK(w.temporary_path().parent_path() == out.parent_path());
        CHECK(test::is_temporary(w.temporary_path()));
        CHECK(imgpack::TempFile(out).removed_on_signal());  // registered for clean-up like any other
        w.append_blob(bytes_of("x"));
        w.finish({});
        CHECK(fs::exists(out));
        CHECK(test::temporaries(dir.path()).empty());
        // The small-file writer (the submission's) takes the same path.
        const fs::path text = dir / (std::string(length - 4, 's') + ".txt");
        imgpack::write_file_atomically(text, "five labels\n", false);
        CHECK(test::read_file(text) == bytes_of("five labels\n"));
        CHECK(test::temporaries(dir.path()).empty());
    }
}

TEST_CASE("writer: an output replaces only a regular file, never a FIFO, device, directory or link") {
    test::TempDir dir;
    CHECK(refusal(dir / "new", false).empty());
    test::write_text(dir / "old", "old");
    CHECK(contains(refusal(dir / "old", false), "already exists (use --force to replace it)"));
    CHECK(refusal(dir / "old", true).empty());

    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    REQUIRE(::symlink("old", (dir / "link").c_str()) == 0);
    REQUIRE(::symlink("nowhere", (dir / "dangling").c_str()) == 0);
    fs::create_directory(dir / "folder");
    for (bool overwrite : {false, true}) {
        CAPTURE(overwrite);
        CHECK(contains(refusal(dir / "fifo", overwrite), "is a FIFO (named pipe): an output is written only where nothing is"));
        CHECK(contains(refusal("/dev/null", overwrite), "/dev/null is a character device"));
        CHECK(contains(refusal(dir / "folder", overwrite), "is a directory"));
        CHECK(contains(refusal(dir / "link", overwrite), "is a symbolic link (to old)"));
        CHECK(contains(refusal(dir / "dangling", overwrite), "is a symbolic link (to nowhere)"));
    }
    // PackWriter makes the check, and leaves the FIFO a FIFO.
    CHECK_THROWS_WITH_AS(imgpack::PackWriter(dir / "fifo", true), doctest::Contains("is a FIFO"), std::runtime_error);
    struct stat st {};
    REQUIRE(::lstat((dir / "fifo").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(test::temporaries(dir.path()).empty());
}

TEST_CASE("writer: an output never replaces an input of its own run, under any of its names") {
    test::TempDir dir;
    test::write_text(dir / "train.tar", "an archive");
    test::write_text(dir / "labels.txt", "labels");
    fs::create_hard_link(dir / "labels.txt", dir / "hardlink.txt");
    fs::create_symlink(dir / "pack.imgpack", dir / "symlinked-input");
    test::write_text(dir / "pack.imgpack", "a previous pack");
    const std::vector<imgpack::InputPath> inputs{{"--train", dir / "train.tar"},
                                                 {"--val-labels", dir / "labels.txt"},
                                                 {"--classes", dir / "symlinked-input"},
                                                 {"--test", dir / "absent.tar"}};
    for (bool overwrite : {false, true}) {
        CAPTURE(overwrite);
        // The case: -o names an input archive.
        CHECK(contains(refusal(dir / "train.tar", overwrite, inputs),
                       "is the input given as --train (" + (dir / "train.tar").string() +
                           "): an output never replaces an input of its own run"));
        // Another name of an input: a hard link, and an input given through a symbolic link.
        CHECK(contains(refusal(dir / "hardlink.txt", overwrite, inputs), "is the input given as --val-labels"));
        CHECK(contains(refusal(dir / "pack.imgpack", overwrite, inputs), "is the input given as --classes"));
    }
    // A file that is no input is replaced; an input that does not exist is left to its reader.
    test::write_text(dir / "other.imgpack", "x");
    CHECK(refusal(dir / "other.imgpack", true, inputs).empty());
    // PackWriter takes the inputs too, and write_file_atomically.
    CHECK_THROWS_WITH_AS(imgpack::PackWriter(dir / "train.tar", true, inputs), doctest::Contains("is the input given as --train"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(imgpack::write_file_atomically(dir / "hardlink.txt", "x", true, inputs),
                         doctest::Contains("is the input given as --val-labels"), std::runtime_error);
    CHECK(test::read_file(dir / "train.tar") == bytes_of("an archive"));
    CHECK(test::read_file(dir / "labels.txt") == bytes_of("labels"));
}

TEST_CASE("writer: an output is never written inside an input folder, at any depth") {
    test::TempDir dir;
    fs::create_directories(dir / "val" / "sub");
    fs::create_directory_symlink(dir / "val", dir / "val-link");
    const std::vector<imgpack::InputPath> inputs{{"--val", dir / "val"}};
    CHECK(contains(refusal(dir / "val" / "p.imgpack", false, inputs),
                   "is inside the folder given as --val (" + (dir / "val").string() + ")"));
    CHECK(contains(refusal(dir / "val" / "sub" / "p.imgpack", false, inputs), "inside the folder given as --val"));
    CHECK(contains(refusal(dir / "val-link" / "p.imgpack", false, inputs), "inside the folder given as --val"));
    CHECK(refusal(dir / "p.imgpack", false, inputs).empty());  // beside it is fine
    CHECK_THROWS_WITH_AS(imgpack::PackWriter(dir / "val" / "p.imgpack", false, inputs),
                         doctest::Contains("inside the folder given as --val"), std::runtime_error);
    CHECK(fs::is_empty(dir / "val" / "sub"));
    CHECK(test::temporaries(dir / "val").empty());
}

TEST_CASE("writer: what is at the destination is checked again before a replacing rename") {
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    test::write_text(out, "previous");
    {
        imgpack::PackWriter w(out, true);
        w.append_blob(bytes_of("x"));
        // While the pack is written, someone puts a FIFO where the previous file was.
        fs::remove(out);
        REQUIRE(::mkfifo(out.c_str(), 0600) == 0);
        CHECK_THROWS_WITH_AS(w.finish({}), doctest::Contains("is a FIFO"), std::runtime_error);
    }
    struct stat st {};
    REQUIRE(::lstat(out.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(test::temporaries(dir.path()).empty());
}

TEST_CASE("writer: write_file_atomically writes whole, refuses what PackWriter refuses, leaves nothing on failure") {
    test::TempDir dir;
    auto out = dir / "submission.txt";
    imgpack::write_file_atomically(out, "1 2 3 4 5\n", false);
    CHECK(test::read_file(out) == bytes_of("1 2 3 4 5\n"));
    CHECK_THROWS_WITH_AS(imgpack::write_file_atomically(out, "other", false), doctest::Contains("already exists"),
                         std::runtime_error);
    imgpack::write_file_atomically(out, "6 7 8 9 10\n", true);
    CHECK(test::read_file(out) == bytes_of("6 7 8 9 10\n"));
    CHECK_THROWS_WITH_AS(imgpack::write_file_atomically(dir / "no-such-folder" / "x.txt", "x", false),
                         doctest::Contains("cannot create a temporary file"), std::runtime_error);
    size_t entries = 0;
    for (auto& e : fs::directory_iterator(dir.path())) (void)e, ++entries;
    CHECK(entries == 1);
}
