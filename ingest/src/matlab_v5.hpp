// A small reader for MATLAB Level 5 MAT-files (the format `save -v6` / `-v7` writes), enough for
// the ILSVRC devkit's meta.mat: numeric, char, cell and struct arrays, zlib-compressed variables
// (miCOMPRESSED), the small data element format, and both byte orders ('IM' and 'MI').
//
// The input is untrusted: every tag, byte count, dimension and nesting level is checked against
// the buffer, and anything malformed throws std::runtime_error naming the source and the byte
// offset of the problem. Sparse, object-handle, function and opaque arrays are recognised and
// skipped (their class is kept, their data is not decoded). MAT v7.3 files (HDF5) and v4 files
// are rejected with a message saying so.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace imgpack::mat5 {

// mxClassID values, as stored in the array flags.
enum class ClassId : uint8_t {
    Cell = 1, Struct = 2, Object = 3, Char = 4, Sparse = 5,
    Double = 6, Single = 7, Int8 = 8, UInt8 = 9, Int16 = 10, UInt16 = 11,
    Int32 = 12, UInt32 = 13, Int64 = 14, UInt64 = 15,
    Function = 16, Opaque = 17,
};

// One MATLAB array. Elements are in MATLAB's column-major order.
struct Array {
    std::string name;            // variable name at top level; empty inside cells and structs
    ClassId cls = ClassId::Double;
    bool complex = false;
    bool logical = false;
    bool decoded = true;         // false for the skipped classes (Sparse, Function, Opaque)
    std::vector<uint64_t> dims;  // at least one dimension
    // Numeric classes: the values converted to double (64-bit integers beyond 2^53 round).
    std::vector<double> real, imag;
    // Char: the characters as UTF-8 (column-major, so a row vector reads as its string).
    std::string text;
    // Struct and Object: the field names; Object also has a class name.
    std::vector<std::string> fields;
    std::string class_name;
    // Cell: numel() arrays. Struct/Object: numel() * fields.size() arrays, element e's field f at
    // e * fields.size() + f.
    std::vector<Array> elements;

    uint64_t numel() const;
    bool is_numeric() const;
    // Struct/Object: element `e`'s field `name`, or nullptr when there is no such field.
    const Array* field(size_t e, std::string_view field_name) const;
};

struct File {
    std::string header_text;     // the 116-byte descriptive text, trailing spaces removed
    bool big_endian = false;
    std::vector<Array> variables;
    const Array* find(std::string_view name) const;  // nullptr when absent
};

// Bounds on what a hostile file can make the reader allocate (the devkit's meta.mat inflates to
// about 1 MiB and holds about 15,000 arrays).
struct Limits {
    uint64_t max_inflated_bytes = uint64_t{64} << 20;  // per miCOMPRESSED element
    uint64_t max_arrays = uint64_t{1} << 22;           // arrays decoded in the whole file
    unsigned max_depth = 32;                           // nesting of cells and structs
};

// Parses a whole MAT-file image. `source` names the file in error messages.
File parse(std::span<const unsigned char> bytes, const std::string& source, const Limits& limits = {});

// Inflates a zlib stream (the payload of an miCOMPRESSED element). Throws naming `source` when
// the stream is corrupt, ends early or inflates beyond `max_bytes`.
std::vector<unsigned char> inflate_zlib(std::span<const unsigned char> compressed, const std::string& source,
                                        uint64_t max_bytes);

}  // namespace imgpack::mat5
