// Removes the converter's temporary files when SIGINT, SIGTERM or SIGHUP ends the process, so an
// interrupted conversion leaves nothing behind. (SIGKILL cannot be caught: then the temporary
// file stays, but the destination is still untouched, because only a complete pack is renamed
// into place.)
#pragma once

#include <string>

namespace imgpack::signal_cleanup {

// Installs the handlers. Also ignores SIGXFSZ, so that hitting a file-size limit is reported
// as a write error (EFBIG) with the usual clean-up, instead of killing the process.
void install();

// Registers a file to remove on those signals; returns a slot for unregister(), or -1 when
// all slots are taken (the file is then simply not removed on a signal).
int register_path(const std::string& path);
void unregister_path(int slot);

}  // namespace imgpack::signal_cleanup
