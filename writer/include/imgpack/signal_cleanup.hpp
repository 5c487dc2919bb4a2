// Removes the writer's temporary files when a signal ends the process, so an interrupted
// conversion leaves nothing behind. Every signal whose default action ends the process and that
// reports no fault of the process itself is covered (cleanup_signals()): SIGHUP, SIGINT,
// SIGQUIT, SIGTERM, SIGPIPE (a reader of our output went away: `imgpack convert ... | head -1`),
// SIGALRM, SIGUSR1, SIGUSR2, SIGXCPU (batch schedulers send these before a kill), SIGVTALRM,
// SIGPROF, SIGIO, SIGPWR, SIGSTKFLT, and SIGABRT (std::terminate). The handler removes the files
// and the process then dies of that same signal, as it would have without the handler, so the
// parent sees how it ended (a core dump included, for SIGQUIT, SIGABRT and SIGXCPU).
// Not covered: SIGKILL and SIGSTOP, which cannot be caught; SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGTRAP and SIGSYS, which report a fault in the process, whose memory (this registry
// included) can then no longer be trusted. The destination is untouched in every case, because
// only a complete pack is renamed into place.
#pragma once

#include <signal.h>

#include <span>
#include <string>

namespace imgpack::signal_cleanup {

// Installs the handlers, on each of those signals whose action is the default one. A signal
// that is ignored when install() runs stays ignored, since the parent asked for that: nohup
// ignores SIGHUP, a shell's background job SIGINT and SIGQUIT, and where SIGPIPE is ignored a
// write to a closed pipe fails with EPIPE instead, which the caller reports and stops on. A
// signal that already has a handler (a profiler's SIGPROF) keeps it. Also ignores SIGXFSZ, so
// that hitting a file-size limit is reported as a write error (EFBIG) with the usual clean-up,
// instead of killing the process.
void install();

// The signals that install() covers.
std::span<const int> cleanup_signals();

// A file to remove on those signals, for as long as the Registration lives. When all slots are
// taken the file is simply not removed on a signal (active() is false).
class Registration {
public:
    Registration() = default;
    explicit Registration(const std::string& path) noexcept;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { reset(); }

    bool active() const { return slot_ >= 0; }
    void reset() noexcept;  // the file is no longer removed on a signal

private:
    int slot_ = -1;
};

// The clean-up signals held back for the life of this object (on the calling thread), so that a
// file can be created and registered with no moment in between when a signal would leave it.
class HoldSignals {
public:
    HoldSignals() noexcept;
    ~HoldSignals();
    HoldSignals(const HoldSignals&) = delete;
    HoldSignals& operator=(const HoldSignals&) = delete;

private:
    sigset_t previous_;
};

}  // namespace imgpack::signal_cleanup
