// The pass behind `imgpack verify`: every record's checksum and the blob section's, in one pass
// over the image bytes on any number of threads.
//
// The blob section's XXH3 is one hash over a contiguous range: it cannot be split across threads
// or combined from the records' hashes. So the pass goes through the file in order: threads take
// chunks of records sorted by file offset, and whichever thread holds the section hash brings it
// up to where the record checks have reached, hashing bytes that were just read. Each byte thus
// comes from the disk (or the page cache) once, and on more than one thread the section hash
// runs alongside the record checks instead of after them. The kernel is asked to read a few
// chunks ahead of the pass.
#pragma once

#include <imgpack/reader.hpp>

#include <cstdint>
#include <vector>

namespace imgpack::cli {

struct RecordFailure {
    size_t split;  // index into Pack::splits()
    size_t index;  // record index in that split
    bool operator<(const RecordFailure& o) const { return split != o.split ? split < o.split : index < o.index; }
};

struct BlobCheck {
    std::vector<RecordFailure> corrupt;  // records whose bytes fail their checksum, in split order
    bool section_ok = true;              // the blob section's own checksum matches
    uint64_t record_bytes = 0;           // image bytes checked
};

// Checks every record of `pack` and the blob section (`blob_section`: its index in Pack::sections())
// on `threads` threads.
BlobCheck check_blobs(const Pack& pack, size_t blob_section, unsigned threads);

}  // namespace imgpack::cli
