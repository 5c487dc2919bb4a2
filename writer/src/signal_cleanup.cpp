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

constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_signal(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (in_use[i].load()) ::unlink(paths[i]);  // unlink is async-signal-safe
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // die of the same signal, so the parent sees how we ended
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
    sigemptyset(&sa.sa_mask);
    for (int sig : kCleanupSignals) ::sigaction(sig, &sa, nullptr);
    std::signal(SIGXFSZ, SIG_IGN);
}

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
    sigset_t held;
    sigemptyset(&held);
    for (int sig : kCleanupSignals) sigaddset(&held, sig);
    ::pthread_sigmask(SIG_BLOCK, &held, &previous_);
}

HoldSignals::~HoldSignals() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }

}  // namespace imgpack::signal_cleanup
