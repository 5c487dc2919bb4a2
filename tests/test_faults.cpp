// The converter and export under faults: a full disk, SIGINT/SIGTERM mid-way, and SIGKILL at random
// moments. The destination must always be absent or a complete pack (the previous one or the new
// one), and catchable endings must leave no temporary file.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"  // test::bytes_of

#include <imgpack/reader.hpp>
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
        o.test = 0;
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

std::vector<std::string> convert_args(const fs::path& out, const fs::path& train = fault_input().s.train_tar) {
    return {IMGPACK_CLI, "convert", "-q", "-f", "-j", "1", "--train", train.string(), "-o", out.string()};
}

// Starts a process with stdout and stderr sent to /dev/null; `fsize_limit` > 0 sets RLIMIT_FSIZE
// for the child through a shell's ulimit (in 1024-byte blocks).
pid_t spawn(std::vector<std::string> args, long fsize_blocks = 0) {
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
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
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

std::vector<fs::path> temporaries(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path());
    return out;
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

}  // namespace

TEST_CASE("faults: a full disk (file-size limit) ends the conversion cleanly") {
    test::TempDir dir;
    auto out = dir / "p.imgpack";
    pid_t pid = spawn(convert_args(out), 256);  // 256 KiB: far less than the pack needs
    int st = wait_status(pid);
    CHECK(WIFEXITED(st));
    CHECK(WEXITSTATUS(st) == 1);
    CHECK_FALSE(fs::exists(out));
    CHECK(temporaries(dir.path()).empty());
    // The message names the temporary file and the destination, and the reason.
    auto r = test::run("bash -c " + test::quote("ulimit -f 256 && exec " + std::string(IMGPACK_CLI) + " convert -q -j 1 --train " +
                                                test::quote(fault_input().s.train_tar.string()) + " -o " +
                                                test::quote(out.string())));
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot write") != std::string::npos);
    CHECK(r.err.find("File too large") != std::string::npos);
    CHECK(r.err.find(out.string()) != std::string::npos);
    CHECK(temporaries(dir.path()).empty());
}

TEST_CASE("faults: SIGINT and SIGTERM remove the temporary file and leave the destination alone") {
    // The train archive comes through a FIFO that this test feeds. With half of it sent and the
    // FIFO held open, the conversion cannot finish, so the signal always lands mid-conversion.
    const std::vector<unsigned char> tar = test::read_file(fault_input().s.train_tar);
    const IgnoreSigpipe ignore_sigpipe;  // a write to the FIFO of a converter that died fails, with EPIPE
    for (int sig : {SIGINT, SIGTERM}) {
        CAPTURE(sig);
        test::TempDir dir;
        auto out = dir / "p.imgpack";
        auto fifo = dir / "train.tar";
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        test::write_text(out, "the previous pack");
        pid_t pid = spawn(convert_args(out, fifo));
        imgpack::UniqueFd feed = open_fifo_for(pid, fifo);
        REQUIRE(feed);
        REQUIRE(feed_fifo(feed.get(), std::span(tar).first(tar.size() / 2)));
        auto deadline = std::chrono::steady_clock::now() + 60s;
        while (temporaries(dir.path()).empty() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        REQUIRE(temporaries(dir.path()).size() == 1);
        REQUIRE(::kill(pid, sig) == 0);
        int st = wait_status(pid);
        CHECK(WIFSIGNALED(st));
        CHECK((WIFSIGNALED(st) && WTERMSIG(st) == sig));
        CHECK(temporaries(dir.path()).empty());
        CHECK(test::read_file(out) == std::vector<unsigned char>{'t', 'h', 'e', ' ', 'p', 'r', 'e', 'v', 'i', 'o', 'u', 's',
                                                                 ' ', 'p', 'a', 'c', 'k'});
    }
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
        while (temporaries(dir.path()).empty() == want_temporary && std::chrono::steady_clock::now() < deadline)
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
        bool had_temporary = !temporaries(dir.path()).empty();
        ::kill(pid, SIGKILL);
        wait_status(pid);
        killed_mid_way += had_temporary;
        auto now = test::read_file(out);
        CHECK((now == previous || complete_pack(out)));
        for (const auto& t : temporaries(dir.path())) fs::remove(t);  // SIGKILL cannot clean up
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
    CHECK(temporaries(dir.path()).empty());
    auto r = test::run("bash -c " + test::quote("ulimit -f 256 && exec " + std::string(IMGPACK_CLI) + " export -q " +
                                                test::quote(fault_pack().string()) + " -o " + test::quote(out.string())));
    CHECK(r.status == 1);
    CHECK(r.err.find("File too large") != std::string::npos);
    CHECK(r.err.find(out.string()) != std::string::npos);
    CHECK(temporaries(dir.path()).empty());
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
            while (temporaries(dir.path()).empty() && std::chrono::steady_clock::now() < deadline) {
                if (::waitpid(pid, &st, WNOHANG) == pid) {
                    ended = true;
                    break;
                }
                std::this_thread::sleep_for(50us);
            }
            if (ended) continue;
            ::kill(pid, SIGSTOP);
            const bool mid_way = !temporaries(dir.path()).empty();
            ::kill(pid, sig);
            ::kill(pid, SIGCONT);
            st = wait_status(pid);
            if (!mid_way) continue;
            landed = true;
            CHECK((WIFSIGNALED(st) && WTERMSIG(st) == sig));
            CHECK(temporaries(dir.path()).empty());
            CHECK(test::read_file(out) == test::bytes_of("the previous pack"));
        }
        CHECK(landed);
    }
}

TEST_CASE("faults: SIGKILL at random moments of an export leaves the previous pack or the new one") {
    kill_at_random_moments(export_args, 2025);
}
