#include <imgpack/signal_cleanup.hpp>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <utility>

namespace imgpack::signal_cleanup {

namespace {

// Fixed storage: a signal handler may only touch memory that exists without allocation, and
// lock-free atomics.
constexpr int kSlots = 8;
constexpr size_t kPathMax = 4096;
char paths[kSlots][kPathMax];
std::atomic<bool> in_use[kSlots];
std::atomic<bool> claimed[kSlots];

// Every signal whose default action ends the process, except SIGKILL and SIGSTOP (which cannot
// be caught) and the fault reports (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: after one,
// this registry itself may be damaged). signal_cleanup.hpp says why each is here.
constexpr int kCleanupSignals[] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF, SIGIO,
#ifdef SIGPWR
    SIGPWR,
#endif
#ifdef SIGSTKFLT
    SIGSTKFLT,
#endif
    SIGABRT,
};

extern "C" void on_signal(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (in_use[i].load()) ::unlink(paths[i]);  // unlink is async-signal-safe
    // Die of the same signal, so the parent sees how we ended: with the default action back, the
    // signal raised here is held until this handler returns (it is in sa_mask), then kills us.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);
}

sigset_t cleanup_set() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kCleanupSignals) sigaddset(&set, sig);
    return set;
}

int claim_slot(const std::string& path) {
    if (path.size() >= kPathMax) return -1;
    for (int i = 0; i < kSlots; ++i) {
        bool expected = false;
        if (claimed[i].compare_exchange_strong(expected, true)) {
            std::memcpy(paths[i], path.c_str(), path.size() + 1);
            in_use[i].store(true);  // published only once the path is complete
            return i;
        }
    }
    return -1;
}

}  // namespace

void install() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sa.sa_mask = cleanup_set();  // one handler at a time, whichever signals come
    for (int sig : kCleanupSignals) {
        struct sigaction current {};
        // Ignored (nohup, a background job) or handled by someone else (a profiler's SIGPROF):
        // left as it is. signal_cleanup.hpp says why.
        if (::sigaction(sig, nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO) ||
            current.sa_handler != SIG_DFL)
            continue;
        ::sigaction(sig, &sa, nullptr);
    }
    std::signal(SIGXFSZ, SIG_IGN);
}

std::span<const int> cleanup_signals() { return kCleanupSignals; }

Registration::Registration(const std::string& path) noexcept : slot_(claim_slot(path)) {}

Registration::Registration(Registration&& other) noexcept : slot_(std::exchange(other.slot_, -1)) {}

Registration& Registration::operator=(Registration&& other) noexcept {
    if (this != &other) {
        reset();
        slot_ = std::exchange(other.slot_, -1);
    }
    return *this;
}

void Registration::reset() noexcept {
    if (slot_ < 0) return;
    in_use[slot_].store(false);
    claimed[slot_].store(false);
    slot_ = -1;
}

HoldSignals::HoldSignals() noexcept {
    const sigset_t held = cleanup_set();
    ::pthread_sigmask(SIG_BLOCK, &held, &previous_);
}

HoldSignals::~HoldSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace imgpack::signal_cleanup
