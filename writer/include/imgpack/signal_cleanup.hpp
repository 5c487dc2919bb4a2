// Removes the converter's temporary files when SIGINT, SIGTERM or SIGHUP ends the process, so an
// interrupted conversion leaves nothing behind. (SIGKILL cannot be caught: then the temporary
// file stays, but the destination is still untouched, because only a complete pack is renamed
// into place.)
#pragma once

#include <signal.h>

#include <string>

namespace imgpack::signal_cleanup {

// Installs the handlers. Also ignores SIGXFSZ, so that hitting a file-size limit is reported
// as a write error (EFBIG) with the usual clean-up, instead of killing the process.
void install();

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
