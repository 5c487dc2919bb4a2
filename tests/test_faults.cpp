// The converter and export under faults: a full disk, every catchable signal mid-way (SIGPIPE
// from a reader of the output that went away among them), a failed write to the output, and
// SIGKILL at random moments. The destination must always be absent or a complete pack (the
// previous one or the new one), and catchable endings must leave no temporary file.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"  // test::bytes_of

#include <imgpack/reader.hpp>
#include <imgpack/signal_cleanup.hpp>
#include <imgpack/synth.hpp>
#include <imgpack/unique_fd.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <random>
#include <thread>

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Enough images that a conversion takes a while to interrupt, small enough to stay quick.
struct FaultInput {
    test::TempDir dir;
    imgpack::synth::Summary s;
    FaultInput() {
        imgpack::synth::Options o;
        o.out_dir = dir / "src";
        o.classes = 10;
        o.per_class = 150;
        o.val = 0;
        o.test = 3;  // a second source, read after train: its log line comes mid-conversion
        o.min_side = 96;
        o.max_side = 192;
        o.seed = 77;
        s = imgpack::synth::generate(o);
    }
};

const FaultInput& fault_input() {
    static FaultInput input;
    return input;
}

// Quiet unless `quiet` is false: then its log lines go to stderr (not a terminal).
std::vector<std::string> convert_args(const fs::path& out, const fs::path& train = fault_input().s.train_tar,
                                      bool quiet = true) {
    std::vector<std::string> args{IMGPACK_CLI, "convert", "-f", "-j", "1", "--train", train.string(), "-o", out.string()};
    if (quiet) args.push_back("-q");
    return args;
}

// Where a spawned process's output goes, and which signals it starts with at their default
// action (otherwise it inherits this process's ignored signals, as any child does).
struct SpawnIo {
    int stderr_fd = -1;                        // a descriptor to dup onto its stderr, or:
    const char* stderr_path = "/dev/null";
    std::vector<int> default_signals;
    int stdout_fd = -1;                        // a descriptor to dup onto its stdout, or /dev/null
};

// Starts a process with stdout and stderr as `io` says; `fsize_limit` > 0 sets
// RLIMIT_FSIZE for the child through a shell's ulimit (in 1024-byte blocks).
pid_t spawn(std::vector<std::string> args, long fsize_blocks = 0, const SpawnIo& io = {}) {
    if (fsize_blocks > 0) {
        std::string cmd = "ulimit -f " + std::to_string(fsize_blocks) + " && exec";
        for (const auto& a : args) cmd += " " + test::quote(a);
        args = {"/bin/bash", "-c", cmd};
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (io.stdout_fd >= 0) posix_spawn_file_actions_adddup2(&fa, io.stdout_fd, 1);
    else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (io.stderr_fd >= 0) posix_spawn_file_actions_adddup2(&fa, io.stderr_fd, 2);
    else posix_spawn_file_actions_addopen(&fa, 2, io.stderr_path, O_WRONLY, 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : io.default_signals) sigaddset(&defaults, sig);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    return pid;
}

// SIGPIPE ignored while it lives.
struct IgnoreSigpipe {
    struct sigaction previous {};
    IgnoreSigpipe() {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, &previous);
    }
    ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &previous, nullptr); }
};

// The writing end of `fifo`, once process `pid` has opened it for reading (blocking writes), or
// none if the process ends first or does not open it within a minute.
imgpack::UniqueFd open_fifo_for(pid_t pid, const fs::path& fifo) {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        imgpack::UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (fd) {
            ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
            return fd;
        }
        if (errno != ENXIO) break;  // ENXIO: no reader yet
        int st = 0;
        if (::waitpid(pid, &st, WNOHANG) == pid) {
            MESSAGE("the converter ended (status ", st, ") without opening the FIFO");
            break;
        }
        std::this_thread::sleep_for(1ms);
    }
    return imgpack::UniqueFd();
}

// Writes all of `bytes` into a FIFO (pwrite cannot: a FIFO has no offsets).
bool feed_fifo(int fd, std::span<const unsigned char> bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
    return true;
}

int wait_status(pid_t pid) {
    int st = 0;
    REQUIRE(::waitpid(pid, &st, 0) == pid);
    return st;
}

// A complete pack: opens, and every record's bytes match its checksum.
bool complete_pack(const fs::path& p) {
    try {
        imgpack::Pack pack = imgpack::Pack::open(p.string());
        for (const imgpack::Split& s : pack.splits())
            for (imgpack::Record r : s)
                if (!r.verify()) return false;
        return pack.split("train").size() == fault_input().s.train_images;
    } catch (const imgpack::Error&) {
        return false;
    }
}

// A conversion caught mid-way: its train archive comes through a FIFO that the test feeds. With
// half of it sent and the FIFO held open, the conversion cannot finish, so whatever the test does
// next (a signal, closing the reader of its output) always lands mid-conversion, while its
// temporary file exists. The destination holds a previous file, which must survive.
class HeldConversion {
public:
    explicit HeldConversion(std::vector<std::string> extra_args = {}, SpawnIo io = {}, bool quiet = true)
        : out_(dir_ / "p.imgpack"), fifo_(dir_ / "train.tar") {
        REQUIRE(::mkfifo(fifo_.c_str(), 0600) == 0);
        test::write_text(out_, kPrevious);
        std::vector<std::string> args = convert_args(out_, fifo_, quiet);
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        pid_ = spawn(args, 0, io);
        feed_ = open_fifo_for(pid_, fifo_);
        REQUIRE(feed_);
        REQUIRE(feed_fifo(feed_.get(), std::span(tar()).first(tar().size() / 2)));
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (test::temporaries(dir_.path()).empty() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        REQUIRE(test::temporaries(dir_.path()).size() == 1);
    }
    pid_t pid() const { return pid_; }
    // The rest of the archive, and its end: the conversion can go on.
    void release() {
        feed_fifo(feed_.get(), std::span(tar()).subspan(tar().size() / 2));  // fails if it died meanwhile
        feed_.reset();
    }
    int wait() { return wait_status(pid_); }
    bool no_temporary() const { return test::temporaries(dir_.path()).empty(); }
    bool previous_intact() const { return test::read_file(out_) == std::vector<unsigned char>(kPrevious.begin(), kPrevious.end()); }
    const fs::path& out() const { return out_; }

private:
    static const std::vector<unsigned char>& tar() {
        static const std::vector<unsigned char> bytes = test::read_file(fault_input().s.train_tar);
        return bytes;
    }
    static inline const std::string kPrevious = "the previous pack";
    test::TempDir dir_;
    fs::path out_, fifo_;
    pid_t pid_ = -1;
    imgpack::UniqueFd feed_;
};

std::string signal_name(int sig) { return sigabbrev_np(sig) ? sigabbrev_np(sig) : std::to_string(sig); }

}  // namespace

TEST_CASE("faults: a full disk (file-size limit) ends the conversion cleanly") {
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    pid_t pid = spawn(convert_args(out), 256);  // 256 KiB: far less than the pack needs
    int st = wait_status(pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
    CHECK_FALSE(fs::exists(out));
    CHECK(test::temporaries(dir.path()).empty());
    // The message names the temporary file and the destination, and the reason.
    auto r = test::run("bash -c " + test::quote("ulimit -f 256 && exec " + std::string(IMGPACK_CLI) + " convert -q -j 1 --train " +
                                                test::quote(fault_input().s.train_tar.string()) + " -o " +
                                                test::quote(out.string())));
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot write") != std::string::npos);
    CHECK(r.err.find("File too large") != std::string::npos);
    CHECK(r.err.find(out.string()) != std::string::npos);
    CHECK(test::temporaries(dir.path()).empty());
}


TEST_CASE("faults: every signal that ends the process removes the temporary file and leaves the destination alone") {
    const IgnoreSigpipe ignore_sigpipe;  // a write to the FIFO of a converter that died fails, with EPIPE
    // SIGQUIT, SIGABRT and SIGXCPU dump core by default: not here.
    rlimit no_core{0, 0}, previous_core{};
    ::getrlimit(RLIMIT_CORE, &previous_core);
    ::setrlimit(RLIMIT_CORE, &no_core);
    const auto signals = imgpack::signal_cleanup::cleanup_signals();
    CHECK(signals.size() >= 14);
    for (int sig : signals) {
        CAPTURE(signal_name(sig));
        HeldConversion c({}, SpawnIo{-1, "/dev/null", {sig}});  // in case this process ignores it
        REQUIRE(::kill(c.pid(), sig) == 0);
        int st = c.wait();
        CHECK((WIFSIGNALED(st) && WTERMSIG(st) == sig));  // dies of it, as without a handler
        CHECK(c.no_temporary());
        CHECK(c.previous_intact());
    }
    ::setrlimit(RLIMIT_CORE, &previous_core);
}

TEST_CASE("faults: SIGPIPE: the reader of the converter's output goes away mid-conversion (convert 2>&1 | head -1)") {
    // The converter's log lines go to stderr when it is not a terminal: here into a pipe, whose
    // reader closes it mid-conversion. The next line (on reading the test archive) meets a closed
    // pipe: with SIGPIPE at its default action the converter dies of it (exit 141 in a shell);
    // where its parent ignores SIGPIPE the write fails with EPIPE instead, and it stops with
    // exit 1. Either way the temporary file is gone and the destination untouched.
    const IgnoreSigpipe ignore_sigpipe;  // this process, and so a child by default
    for (bool sigpipe_default : {true, false}) {
        CAPTURE(sigpipe_default);
        int pipe_fds[2];
        REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
        imgpack::UniqueFd reader(pipe_fds[0]), writer(pipe_fds[1]);
        SpawnIo io{writer.get(), nullptr, {}};
        if (sigpipe_default) io.default_signals = {SIGPIPE};
        HeldConversion c({"--test", fault_input().s.test_tar.string()}, io, /*quiet=*/false);
        writer.reset();
        // The first log line ("reading train from ...") has been written: the pipe has a reader.
        char buf[256];
        CHECK(::read(reader.get(), buf, sizeof buf) > 0);
        reader.reset();  // as `head -1` exits
        c.release();
        int st = c.wait();
        if (sigpipe_default) {
            CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE));
        } else {
            CHECK(WIFEXITED(st));
            CHECK(WEXITSTATUS(st) == 1);
        }
        CHECK(c.no_temporary());
        CHECK(c.previous_intact());
    }
}

TEST_CASE("faults: SIGPIPE on stdout (convert | head -1): the summary comes after the pack is in place") {
    // convert writes one thing to stdout, its summary, once the pack has its name. A reader gone
    // by then (here: before the start) kills it with SIGPIPE (exit 141 in a shell), or, where
    // SIGPIPE is ignored, fails the write (exit 1): either way the pack is complete, and no
    // temporary file is left.
    const IgnoreSigpipe ignore_sigpipe;
    for (bool sigpipe_default : {true, false}) {
        CAPTURE(sigpipe_default);
        test::TempDir dir;
        const auto out = dir / "p.imgpack";
        test::write_text(out, "the previous pack");
        int pipe_fds[2];
        REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
        imgpack::UniqueFd reader(pipe_fds[0]), writer(pipe_fds[1]);
        reader.reset();  // the reader is gone
        SpawnIo io{-1, "/dev/null", {}, writer.get()};
        if (sigpipe_default) io.default_signals = {SIGPIPE};
        const pid_t pid = spawn(convert_args(out, fault_input().s.train_tar, /*quiet=*/false), 0, io);
        writer.reset();
        const int st = wait_status(pid);
        if (sigpipe_default) {
            CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE));
        } else {
            CHECK(WIFEXITED(st));
            CHECK(WEXITSTATUS(st) == 1);
        }
        CHECK(test::temporaries(dir.path()).empty());
        CHECK(complete_pack(out));
    }
}

TEST_CASE("faults: a write to the converter's output that fails (a full disk behind 2>) stops it cleanly") {
    REQUIRE(fs::exists("/dev/full"));
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    test::write_text(out, "the previous pack");
    // Not -q: the first log line comes once the temporary file exists, and fails with ENOSPC.
    pid_t pid = spawn(convert_args(out, fault_input().s.train_tar, /*quiet=*/false), 0, SpawnIo{-1, "/dev/full", {}});
    int st = wait_status(pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
    CHECK(test::temporaries(dir.path()).empty());
    CHECK(test::read_file(out) == std::vector<unsigned char>{'t', 'h', 'e', ' ', 'p', 'r', 'e', 'v', 'i', 'o', 'u', 's',
                                                             ' ', 'p', 'a', 'c', 'k'});
    // The same through a shell, with the message (stdout this time: the summary fails to write).
    auto r = test::run(std::string(IMGPACK_CLI) + " convert -j 1 --train " + test::quote(fault_input().s.train_tar.string()) +
                       " -o " + test::quote((dir / "q.imgpack").string()) + " >/dev/full");
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot write to standard output: No space left on device") != std::string::npos);
}

TEST_CASE("faults: a signal the parent ignores stays ignored (nohup): the conversion goes on") {
    const IgnoreSigpipe ignore_sigpipe;
    struct sigaction ignore {}, previous {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGHUP, &ignore, &previous);  // as nohup does, for the child to inherit
    HeldConversion c;
    ::sigaction(SIGHUP, &previous, nullptr);
    REQUIRE(::kill(c.pid(), SIGHUP) == 0);
    c.release();
    int st = c.wait();
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 0);
    CHECK(c.no_temporary());
    CHECK(complete_pack(c.out()));
}

namespace {

// 8 SIGKILLs at random moments of the writing, each while the temporary file exists (the
// window measured on a first, complete run): the destination must be the previous complete pack
// or a new complete one. Process start-up and exit are not aimed at, since under sanitizers they
// can take longer than the writing itself.
void kill_at_random_moments(const std::function<std::vector<std::string>(const fs::path&)>& args, uint64_t seed) {
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    auto wait_for = [&](bool want_temporary, std::chrono::seconds limit) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (test::temporaries(dir.path()).empty() == want_temporary && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(200us);
        return std::chrono::steady_clock::now();
    };
    pid_t first = spawn(args(out));
    auto appeared = wait_for(true, 60s);
    auto gone = wait_for(false, 60s);
    REQUIRE(wait_status(first) == 0);
    const auto window = std::max<std::chrono::microseconds>(
        std::chrono::duration_cast<std::chrono::microseconds>(gone - appeared), 1ms);
    const auto previous = test::read_file(out);
    std::mt19937_64 rng(seed);
    int killed_mid_way = 0;
    for (int round = 0; round < 8; ++round) {
        pid_t pid = spawn(args(out));
        wait_for(true, 60s);
        std::this_thread::sleep_for(window * int(rng() % 1000) / 1000);
        bool had_temporary = !test::temporaries(dir.path()).empty();
        ::kill(pid, SIGKILL);
        wait_status(pid);
        killed_mid_way += had_temporary;
        auto now = test::read_file(out);
        CHECK((now == previous || complete_pack(out)));
        for (const auto& t : test::temporaries(dir.path())) fs::remove(t);  // SIGKILL cannot clean up
    }
    MESSAGE(killed_mid_way, " of 8 kills landed while a temporary file existed (window ",
            std::chrono::duration<double, std::milli>(window).count(), " ms)");
    CHECK(killed_mid_way > 0);
}

}  // namespace

TEST_CASE("faults: SIGKILL at random moments leaves the previous pack or the new one, never a partial one") {
    kill_at_random_moments([](const fs::path& out) { return convert_args(out); }, 2024);
}

// ---- imgpack export under the same faults ------------------------------------------------------

namespace {

// fault_input()'s train split as a pack, to export from.
const fs::path& fault_pack() {
    static const fs::path pack = [] {
        fs::path p = fault_input().dir / "source.imgpack";
        test::RunResult r = test::cli("convert -q -j 1 --train " + test::quote(fault_input().s.train_tar.string()) +
                                      " -o " + test::quote(p.string()));
        REQUIRE(r.status == 0);
        return p;
    }();
    return pack;
}

std::vector<std::string> export_args(const fs::path& out) {
    return {IMGPACK_CLI, "export", "-q", "-f", fault_pack().string(), "-o", out.string()};
}

}  // namespace

TEST_CASE("faults: a full disk (file-size limit) ends an export cleanly") {
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    int st = wait_status(spawn(export_args(out), 256));
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
    CHECK_FALSE(fs::exists(out));
    CHECK(test::temporaries(dir.path()).empty());
    auto r = test::run("bash -c " + test::quote("ulimit -f 256 && exec " + std::string(IMGPACK_CLI) + " export -q " +
                                                test::quote(fault_pack().string()) + " -o " + test::quote(out.string())));
    CHECK(r.status == 1);
    CHECK(r.err.find("File too large") != std::string::npos);
    CHECK(r.err.find(out.string()) != std::string::npos);
    CHECK(test::temporaries(dir.path()).empty());
}

TEST_CASE("faults: SIGINT and SIGTERM mid-export remove the temporary file and leave the destination alone") {
    // The export is stopped (SIGSTOP) as soon as its temporary file appears; if the file is still
    // there once it is stopped, the signal lands mid-export for sure: it is sent, then SIGCONT.
    // (An export that finished before the stop is tried again.)
    for (int sig : {SIGINT, SIGTERM}) {
        CAPTURE(sig);
        bool landed = false;
        for (int attempt = 0; attempt < 20 && !landed; ++attempt) {
            test::TempDir dir;
            auto out = dir / "p.imgpack";
            test::write_text(out, "the previous pack");
            pid_t pid = spawn(export_args(out));
            auto deadline = std::chrono::steady_clock::now() + 60s;
            int st = 0;
            bool ended = false;
            while (test::temporaries(dir.path()).empty() && std::chrono::steady_clock::now() < deadline) {
                if (::waitpid(pid, &st, WNOHANG) == pid) {
                    ended = true;
                    break;
                }
                std::this_thread::sleep_for(50us);
            }
            if (ended) continue;
            ::kill(pid, SIGSTOP);
            const bool mid_way = !test::temporaries(dir.path()).empty();
            ::kill(pid, sig);
            ::kill(pid, SIGCONT);
            st = wait_status(pid);
            if (!mid_way) continue;
            landed = true;
            CHECK((WIFSIGNALED(st) && WTERMSIG(st) == sig));
            CHECK(test::temporaries(dir.path()).empty());
            CHECK(test::read_file(out) == test::bytes_of("the previous pack"));
        }
        CHECK(landed);
    }
}

TEST_CASE("faults: SIGKILL at random moments of an export leaves the previous pack or the new one") {
    kill_at_random_moments(export_args, 2025);
}
