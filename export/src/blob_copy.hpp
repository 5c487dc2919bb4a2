// The copy at the heart of an export: the selected records' image bytes, read from the source in
// file order in large reads, each checked against its stored XXH3-64 on the way, appended to the
// output's blob section. Only selected bytes are read (neighbours share a read only when adjacent).
#pragma once

#include <imgpack/pack_writer.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace imgpack::exporting {

struct BlobItem {
    uint64_t offset = 0;  // in the source file
    uint32_t size = 0;
    uint64_t xxh3 = 0;    // as the source's record stores it
    const unsigned char* mapped = nullptr;  // the same bytes in the source's mapping
    uint32_t split = 0;     // which output split, and which record of it: the caller's
    uint32_t position = 0;  // bookkeeping, for the message and for the result
    uint64_t written_at = 0;  // out: the blob's offset in the output
};

// How the bytes are read: pread(2) into a reused buffer (the default), or through the source's
// mapping (IMGPACK_EXPORT_READ=mmap; for comparisons, docs/performance.md "Exporting").
enum class ReadMethod { pread, mapping };
ReadMethod read_method_from_environment();

// Copies every item (reordered here by source offset) into `writer`, setting written_at. `fd` is
// the source file opened for reading; `describe` names an item for a message (split, record,
// name). Throws std::runtime_error, naming `source` and the item, when an item's bytes do not
// match its checksum or cannot be read; the writer is then left for its owner to discard.
void copy_blobs(const std::filesystem::path& source, int fd, std::vector<BlobItem>& items, PackWriter& writer,
                const std::function<std::string(const BlobItem&)>& describe, ReadMethod method);

}  // namespace imgpack::exporting
