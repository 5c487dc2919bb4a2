#include <imgpack/signal_cleanup.hpp>

#include <atomic>
#include <csignal>
#include <cstring>
#include <unistd.h>

namespace imgpack::signal_cleanup {

namespace {

// Fixed storage: a signal handler may only touch memory that exists without allocation, and
// lock-free atomics.
constexpr int kSlots = 8;
constexpr size_t kPathMax = 4096;
char paths[kSlots][kPathMax];
std::atomic<bool> in_use[kSlots];
std::atomic<bool> claimed[kSlots];

extern "C" void on_signal(int sig) {
    for (int i = 0; i < kSlots; ++i)
        if (in_use[i].load()) ::unlink(paths[i]);  // unlink is async-signal-safe
    std::signal(sig, SIG_DFL);
    std::raise(sig);  // die of the same signal, so the parent sees how we ended
}

}  // namespace

void install() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
    std::signal(SIGXFSZ, SIG_IGN);
}

int register_path(const std::string& path) {
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

void unregister_path(int slot) {
    if (slot < 0 || slot >= kSlots) return;
    in_use[slot].store(false);
    claimed[slot].store(false);
}

}  // namespace imgpack::signal_cleanup
