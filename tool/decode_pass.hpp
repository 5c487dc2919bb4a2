// The pass behind `imgpack verify --decode`: every record decoded whole by the loader's Decoder
// (loader/), on any number of threads, so that what it calls bad is exactly what stops a Loader
// under BadData::fail: a JPEG cut short, a libjpeg error, anything that is not a JPEG. A checksum
// cannot find these: it proves the bytes are the ones the converter stored, not that they decode.
#pragma once

#include <imgpack/reader.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace imgpack::cli {

struct DecodeFailure {
    size_t split;        // index into Pack::splits()
    size_t index;        // record index in that split
    std::string reason;  // the Decoder's message
};

// Full decodes need width x height x 3 bytes each (one buffer per thread). Beyond this, a record
// is not decoded but reported: TensorFlow's decode limit, which `convert --decode` and the
// converter's repairs also apply, so no pack they wrote holds such an image.
inline constexpr uint64_t kMaxDecodedBytes = uint64_t{1} << 29;

// Decodes every record of `pack` on `threads` threads, leaving out the records in `known_bad`
// (split, index: those whose checksum already failed). Returns the failures in split order.
std::vector<DecodeFailure> decode_all(const Pack& pack, unsigned threads,
                                      const std::vector<std::pair<size_t, size_t>>& known_bad);

}  // namespace imgpack::cli
