// MATLAB Level 5 MAT-file reader. Layout (MathWorks, "MAT-File Format", Level 5):
//   128-byte header: 116 bytes of text, 8 bytes subsystem offset, u16 version (0x0100), and the
//   endian indicator: the characters 'M','I' written as one u16, so "IM" on disk for a
//   little-endian writer and "MI" for a big-endian one.
//   Then data elements, each an 8-byte tag (u32 type, u32 byte count) and the data padded to 8
//   bytes; or, when the data has 1 to 4 bytes, the small form: one u32 (byte count << 16 | type)
//   and the data in the next 4 bytes. miMATRIX and miCOMPRESSED are not padded.
//   miCOMPRESSED holds a zlib stream that inflates to further elements.
//   miMATRIX holds sub-elements: array flags (miUINT32 x2: class in the low byte, flags in the
//   next: complex 0x08, global 0x04, logical 0x02), dimensions (miINT32), name (miINT8), then
//   by class: numeric real [imag]; char data; cell: numel miMATRIX; struct: field name length
//   (miINT32), field names (miINT8, length bytes each, NUL padded), then numel x fields miMATRIX;
//   object: class name (miINT8) then as struct.
#include "matlab_v5.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace imgpack::mat5 {

namespace {

enum : uint32_t {
    miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7,
    miDOUBLE = 9, miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16,
    miUTF16 = 17, miUTF32 = 18,
};

constexpr size_t kHeaderSize = 128;

// std::byteswap is C++23.
constexpr uint16_t bswap(uint16_t v) { return uint16_t((v >> 8) | (v << 8)); }
constexpr uint32_t bswap(uint32_t v) { return __builtin_bswap32(v); }
constexpr uint64_t bswap(uint64_t v) { return __builtin_bswap64(v); }
constexpr uint64_t kMaxNumel = uint64_t{1} << 48;

// Bytes per value of a numeric mi type; 0 for types that are not plain numbers.
size_t type_width(uint32_t t) {
    switch (t) {
        case miINT8: case miUINT8: case miUTF8: return 1;
        case miINT16: case miUINT16: case miUTF16: return 2;
        case miINT32: case miUINT32: case miSINGLE: case miUTF32: return 4;
        case miDOUBLE: case miINT64: case miUINT64: return 8;
        default: return 0;
    }
}

std::string type_name(uint32_t t) {
    switch (t) {
        case miINT8: return "miINT8";
        case miUINT8: return "miUINT8";
        case miINT16: return "miINT16";
        case miUINT16: return "miUINT16";
        case miINT32: return "miINT32";
        case miUINT32: return "miUINT32";
        case miSINGLE: return "miSINGLE";
        case miDOUBLE: return "miDOUBLE";
        case miINT64: return "miINT64";
        case miUINT64: return "miUINT64";
        case miMATRIX: return "miMATRIX";
        case miCOMPRESSED: return "miCOMPRESSED";
        case miUTF8: return "miUTF8";
        case miUTF16: return "miUTF16";
        case miUTF32: return "miUTF32";
        default: return "unknown type " + std::to_string(t);
    }
}

void append_utf8(std::string& out, char32_t c) {
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) c = 0xFFFD;
    if (c < 0x80) {
        out += char(c);
    } else if (c < 0x800) {
        out += char(0xC0 | (c >> 6));
        out += char(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += char(0xE0 | (c >> 12));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    } else {
        out += char(0xF0 | (c >> 18));
        out += char(0x80 | ((c >> 12) & 0x3F));
        out += char(0x80 | ((c >> 6) & 0x3F));
        out += char(0x80 | (c & 0x3F));
    }
}

// Copies UTF-8, replacing each invalid sequence with U+FFFD.
void append_checked_utf8(std::string& out, const unsigned char* p, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char b = p[i];
        if (b < 0x80) {
            out += char(b);
            ++i;
            continue;
        }
        size_t len = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
        if (b >= 0xF5) len = 0;
        bool ok = len != 0 && n - i >= len;
        char32_t c = 0;
        if (ok) {
            c = b & (0xFF >> (len + 1));
            for (size_t k = 1; k < len; ++k) {
                if ((p[i + k] & 0xC0) != 0x80) {
                    ok = false;
                    break;
                }
                c = (c << 6) | (p[i + k] & 0x3F);
            }
        }
        // Reject overlong forms, surrogates and values past U+10FFFF.
        if (ok && ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
                   (c >= 0xD800 && c <= 0xDFFF)))
            ok = false;
        if (ok) {
            append_utf8(out, c);
            i += len;
        } else {
            append_utf8(out, 0xFFFD);
            ++i;
        }
    }
}

// One step of a path inside a variable, for error messages: synsets(12).WNID.
struct PathNode {
    const PathNode* parent = nullptr;
    std::string_view label;  // a variable or field name; empty for a cell/struct element step
    uint64_t index = 0;      // 1-based element index when label is empty
};

std::string format_path(const PathNode* n) {
    std::vector<const PathNode*> chain;
    for (; n; n = n->parent) chain.push_back(n);
    std::string s;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const PathNode* p = *it;
        if (!p->label.empty()) {
            if (!s.empty()) s += '.';
            s += p->label;
        } else {
            s += (s.empty() ? "element " : "") + std::string("(") + std::to_string(p->index) + ")";
        }
    }
    return s;
}

struct Element {
    uint32_t type = 0;
    size_t data = 0;   // offset of the data
    size_t size = 0;   // byte count
    size_t next = 0;   // offset just past the element (and its padding)
};

class Reader {
public:
    Reader(std::span<const unsigned char> buf, bool swap, const std::string& source, std::string where,
           const Limits& limits, uint64_t& arrays)
        : buf_(buf), swap_(swap), source_(source), where_(std::move(where)), limits_(limits), arrays_(arrays) {}

    [[noreturn]] void fail(size_t offset, const std::string& what, const PathNode* path = nullptr) const {
        std::string msg = "imgpack: " + source_ + ": malformed MAT-file: " + what;
        if (path) msg += " (in " + format_path(path) + ")";
        msg += " at byte " + std::to_string(offset) + where_;
        throw std::runtime_error(msg);
    }

    uint16_t u16(size_t off) const {
        uint16_t v;
        std::memcpy(&v, buf_.data() + off, 2);
        return swap_ ? bswap(v) : v;
    }
    uint32_t u32(size_t off) const {
        uint32_t v;
        std::memcpy(&v, buf_.data() + off, 4);
        return swap_ ? bswap(v) : v;
    }
    uint64_t u64(size_t off) const {
        uint64_t v;
        std::memcpy(&v, buf_.data() + off, 8);
        return swap_ ? bswap(v) : v;
    }

    // Value i of a numeric element of type t, as double. The caller has checked the bounds.
    double number(uint32_t t, size_t off) const {
        switch (t) {
            case miINT8: return double(int8_t(buf_[off]));
            case miUINT8: return double(buf_[off]);
            case miINT16: return double(int16_t(u16(off)));
            case miUINT16: return double(u16(off));
            case miINT32: return double(int32_t(u32(off)));
            case miUINT32: return double(u32(off));
            case miSINGLE: return double(std::bit_cast<float>(u32(off)));
            case miDOUBLE: return std::bit_cast<double>(u64(off));
            case miINT64: return double(int64_t(u64(off)));
            case miUINT64: return double(u64(off));
            default: return 0;
        }
    }

    // The element whose tag starts at `off`, which must lie inside [off, end).
    Element element(size_t off, size_t end, const PathNode* path) const {
        if (off > end || end - off < 8)
            fail(off, "truncated data element tag (" + std::to_string(end > off ? end - off : 0) +
                          " bytes left, a tag needs 8)", path);
        Element e;
        uint32_t w = u32(off);
        if (w >> 16) {  // small data element: byte count in the upper half, data in the next 4 bytes
            e.type = w & 0xFFFF;
            e.size = w >> 16;
            if (e.size > 4)
                fail(off, "small data element of " + type_name(e.type) + " claims " + std::to_string(e.size) +
                              " bytes (at most 4 fit)", path);
            e.data = off + 4;
            e.next = off + 8;
            return e;
        }
        e.type = w;
        e.size = u32(off + 4);
        e.data = off + 8;
        if (e.size > end - e.data)
            fail(off, type_name(e.type) + " element claims " + std::to_string(e.size) + " bytes but only " +
                          std::to_string(end - e.data) + " remain in " +
                          (end != buf_.size() ? "the enclosing array"
                                              : where_.empty() ? "the file (is it truncated?)" : "the inflated data"),
                 path);
        e.next = e.data + e.size;
        if (e.type != miMATRIX && e.type != miCOMPRESSED) {
            size_t pad = (8 - e.size % 8) % 8;
            e.next = std::min(end, e.next + pad);  // tolerate a missing final pad
        }
        return e;
    }

    // The top-level or inflated element stream: miMATRIX (and, at top level, miCOMPRESSED).
    void read_stream(size_t off, size_t end, bool allow_compressed, std::vector<Array>& out) const {
        while (off < end) {
            Element e = element(off, end, nullptr);
            if (e.type == miMATRIX) {
                out.push_back(matrix(e, 0, nullptr));
            } else if (e.type == miCOMPRESSED && allow_compressed) {
                std::vector<unsigned char> raw = inflate_zlib(buf_.subspan(e.data, e.size), source_ +
                    " (miCOMPRESSED element at byte " + std::to_string(off) + ")", limits_.max_inflated_bytes);
                Reader inner(raw, swap_, source_,
                             " of the data inflated from the miCOMPRESSED element at byte " + std::to_string(off),
                             limits_, arrays_);
                inner.read_stream(0, raw.size(), false, out);
            } else {
                fail(off, "unexpected " + type_name(e.type) + " element where a variable (miMATRIX" +
                              std::string(allow_compressed ? " or miCOMPRESSED" : "") + ") should be");
            }
            off = e.next;
        }
    }

    // Decodes the miMATRIX element `m`.
    Array matrix(const Element& m, unsigned depth, const PathNode* path) const {
        if (depth > limits_.max_depth)
            fail(m.data, "arrays nested more than " + std::to_string(limits_.max_depth) + " deep", path);
        if (++arrays_ > limits_.max_arrays)
            fail(m.data, "more than " + std::to_string(limits_.max_arrays) + " arrays (the limit)", path);
        Array a;
        if (m.size == 0) {  // an empty array (e.g. [] inside a cell or struct)
            a.dims = {0, 0};
            return a;
        }
        const size_t end = m.data + m.size;
        size_t pos = m.data;

        Element flags = element(pos, end, path);
        if (flags.type != miUINT32 || flags.size != 8)
            fail(pos, "array flags must be miUINT32 x 2, found " + type_name(flags.type) + " of " +
                          std::to_string(flags.size) + " bytes", path);
        uint32_t fw = u32(flags.data);
        uint32_t cls = fw & 0xFF;
        if (cls < 1 || cls > 17)
            fail(flags.data, "unknown array class " + std::to_string(cls), path);
        a.cls = ClassId(cls);
        a.complex = fw & 0x800;
        a.logical = fw & 0x200;
        pos = flags.next;

        Element dims = element(pos, end, path);
        if ((dims.type != miINT32 && dims.type != miUINT32) || dims.size < 4 || dims.size % 4)
            fail(pos, "dimensions must be miINT32 values, found " + type_name(dims.type) + " of " +
                          std::to_string(dims.size) + " bytes", path);
        uint64_t numel = 1;
        for (size_t i = 0; i < dims.size / 4; ++i) {
            uint32_t v = u32(dims.data + 4 * i);
            if (dims.type == miINT32 && int32_t(v) < 0)
                fail(dims.data + 4 * i, "negative dimension " + std::to_string(int32_t(v)), path);
            a.dims.push_back(v);
            numel = (numel == 0 || v == 0) ? 0 : numel * v;
            if (numel > kMaxNumel) fail(dims.data, "dimensions give more than 2^48 elements", path);
        }
        pos = dims.next;

        Element name = element(pos, end, path);
        if (name.type != miINT8 && name.type != miUINT8 && name.type != miUTF8)
            fail(pos, "array name must be miINT8, found " + type_name(name.type), path);
        a.name.assign(reinterpret_cast<const char*>(buf_.data() + name.data), name.size);
        pos = name.next;

        PathNode here{path, {}, 0};
        if (!path) here.label = a.name.empty() ? std::string_view("<unnamed>") : std::string_view(a.name);
        const PathNode* me = path ? path : &here;

        switch (a.cls) {
            case ClassId::Cell: {
                if (numel > (end - pos) / 8)
                    fail(pos, "cell array of " + std::to_string(numel) + " elements cannot fit in " +
                                  std::to_string(end - pos) + " bytes", me);
                a.elements.reserve(numel);
                for (uint64_t i = 0; i < numel; ++i) {
                    PathNode child{me, {}, i + 1};
                    Element c = element(pos, end, &child);
                    if (c.type != miMATRIX)
                        fail(pos, "cell element is " + type_name(c.type) + ", not miMATRIX", &child);
                    a.elements.push_back(matrix(c, depth + 1, &child));
                    pos = c.next;
                }
                break;
            }
            case ClassId::Struct:
            case ClassId::Object: {
                if (a.cls == ClassId::Object) {
                    Element cn = element(pos, end, me);
                    if (cn.type != miINT8 && cn.type != miUINT8 && cn.type != miUTF8)
                        fail(pos, "object class name must be miINT8, found " + type_name(cn.type), me);
                    a.class_name.assign(reinterpret_cast<const char*>(buf_.data() + cn.data), cn.size);
                    pos = cn.next;
                }
                Element fl = element(pos, end, me);
                if ((fl.type != miINT32 && fl.type != miUINT32) || fl.size != 4)
                    fail(pos, "struct field name length must be one miINT32, found " + type_name(fl.type) + " of " +
                                  std::to_string(fl.size) + " bytes", me);
                uint32_t len = u32(fl.data);
                if (len > 4096) fail(fl.data, "struct field name length " + std::to_string(len) + " is absurd", me);
                pos = fl.next;
                Element fn = element(pos, end, me);
                if (fn.type != miINT8 && fn.type != miUINT8 && fn.type != miUTF8)
                    fail(pos, "struct field names must be miINT8, found " + type_name(fn.type), me);
                if (len == 0 ? fn.size != 0 : fn.size % len != 0)
                    fail(pos, "struct field names take " + std::to_string(fn.size) + " bytes, not a multiple of " +
                                  "the field name length " + std::to_string(len), me);
                size_t nfields = len ? fn.size / len : 0;
                for (size_t f = 0; f < nfields; ++f) {
                    const char* p = reinterpret_cast<const char*>(buf_.data() + fn.data + f * len);
                    a.fields.emplace_back(p, std::find(p, p + len, '\0'));
                }
                pos = fn.next;
                if (nfields && numel > (end - pos) / 8 / nfields)
                    fail(pos, "struct array of " + std::to_string(numel) + " elements x " + std::to_string(nfields) +
                                  " fields cannot fit in " + std::to_string(end - pos) + " bytes", me);
                a.elements.reserve(numel * nfields);
                for (uint64_t i = 0; i < numel; ++i) {
                    PathNode elem{me, {}, i + 1};
                    for (size_t f = 0; f < nfields; ++f) {
                        PathNode field{&elem, a.fields[f], 0};
                        if (field.label.empty()) field.label = "<unnamed field>";
                        Element c = element(pos, end, &field);
                        if (c.type != miMATRIX)
                            fail(pos, "struct field is " + type_name(c.type) + ", not miMATRIX", &field);
                        a.elements.push_back(matrix(c, depth + 1, &field));
                        pos = c.next;
                    }
                }
                break;
            }
            case ClassId::Char: {
                if (numel == 0 && pos >= end) break;  // some writers omit the data of ''
                Element d = element(pos, end, me);
                size_t w = type_width(d.type);
                bool utf8 = d.type == miUTF8;
                if (w == 0 || d.type == miSINGLE || d.type == miDOUBLE || d.type == miINT64 || d.type == miUINT64)
                    fail(pos, "char data stored as " + type_name(d.type), me);
                if (d.size % w) fail(pos, "char data of " + std::to_string(d.size) + " bytes is not whole " +
                                              type_name(d.type) + " values", me);
                size_t units = d.size / w;
                if (!utf8 && units != numel)
                    fail(pos, "char data has " + std::to_string(units) + " characters but the dimensions say " +
                                  std::to_string(numel), me);
                const unsigned char* p = buf_.data() + d.data;
                if (utf8) {
                    append_checked_utf8(a.text, p, d.size);
                } else if (w == 1) {
                    for (size_t i = 0; i < units; ++i) append_utf8(a.text, p[i]);  // Latin-1
                } else if (w == 2) {
                    for (size_t i = 0; i < units; ++i) {
                        char32_t c = u16(d.data + 2 * i);
                        if (c >= 0xD800 && c < 0xDC00 && i + 1 < units) {
                            char32_t lo = u16(d.data + 2 * (i + 1));
                            if (lo >= 0xDC00 && lo < 0xE000) {
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                                ++i;
                            }
                        }
                        append_utf8(a.text, c);  // lone surrogates become U+FFFD
                    }
                } else {
                    for (size_t i = 0; i < units; ++i) append_utf8(a.text, u32(d.data + 4 * i));
                }
                break;
            }
            case ClassId::Double: case ClassId::Single: case ClassId::Int8: case ClassId::UInt8:
            case ClassId::Int16: case ClassId::UInt16: case ClassId::Int32: case ClassId::UInt32:
            case ClassId::Int64: case ClassId::UInt64: {
                if (numel == 0 && pos >= end) break;  // some writers omit the data of []
                read_numeric(pos, end, numel, a.real, me, "real");
                if (a.complex) read_numeric(pos, end, numel, a.imag, me, "imaginary");
                break;
            }
            case ClassId::Sparse:
            case ClassId::Function:
            case ClassId::Opaque:
                a.decoded = false;  // recognised, not decoded; the element's extent is known
                break;
        }
        return a;
    }

    void read_numeric(size_t& pos, size_t end, uint64_t numel, std::vector<double>& out, const PathNode* path,
                      const char* part) const {
        Element d = element(pos, end, path);
        size_t w = type_width(d.type);
        if (w == 0 || d.type == miUTF8 || d.type == miUTF16 || d.type == miUTF32)
            fail(pos, std::string(part) + " part stored as " + type_name(d.type) + ", not a number type", path);
        if (d.size % w)
            fail(pos, std::string(part) + " part of " + std::to_string(d.size) + " bytes is not whole " +
                          type_name(d.type) + " values", path);
        if (d.size / w != numel)
            fail(pos, std::string(part) + " part has " + std::to_string(d.size / w) +
                          " values but the dimensions say " + std::to_string(numel), path);
        out.resize(numel);
        for (size_t i = 0; i < numel; ++i) out[i] = number(d.type, d.data + i * w);
        pos = d.next;
    }

private:
    std::span<const unsigned char> buf_;
    bool swap_;
    const std::string& source_;
    std::string where_;
    const Limits& limits_;
    uint64_t& arrays_;  // arrays decoded so far, across compressed elements
};

}  // namespace

uint64_t Array::numel() const {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    return dims.empty() ? 0 : n;
}

bool Array::is_numeric() const { return cls >= ClassId::Double && cls <= ClassId::UInt64; }

const Array* Array::field(size_t e, std::string_view field_name) const {
    if (cls != ClassId::Struct && cls != ClassId::Object) return nullptr;
    for (size_t f = 0; f < fields.size(); ++f) {
        if (fields[f] != field_name) continue;
        size_t i = e * fields.size() + f;
        return i < elements.size() ? &elements[i] : nullptr;
    }
    return nullptr;
}

const Array* File::find(std::string_view name) const {
    for (const Array& v : variables)
        if (v.name == name) return &v;
    return nullptr;
}

std::vector<unsigned char> inflate_zlib(std::span<const unsigned char> compressed, const std::string& source,
                                        uint64_t max_bytes) {
    z_stream z{};
    if (inflateInit(&z) != Z_OK) throw std::runtime_error("imgpack: " + source + ": zlib initialisation failed");
    std::vector<unsigned char> out;
    size_t done = 0;
    size_t in_left = compressed.size();
    const unsigned char* in = compressed.data();
    int rc = Z_OK;
    std::string error;
    while (rc != Z_STREAM_END) {
        if (z.avail_in == 0 && in_left) {
            uInt n = uInt(std::min<size_t>(in_left, 1u << 30));
            z.next_in = const_cast<Bytef*>(in);
            z.avail_in = n;
            in += n;
            in_left -= n;
        }
        if (done == out.size()) {
            if (out.size() >= max_bytes) {
                error = "inflates to more than " + std::to_string(max_bytes) + " bytes (the limit)";
                break;
            }
            size_t grow = std::max<size_t>(out.size(), 64 * 1024);
            out.resize(size_t(std::min<uint64_t>(max_bytes, uint64_t(out.size()) + grow)));
        }
        z.next_out = out.data() + done;
        z.avail_out = uInt(std::min<size_t>(out.size() - done, 1u << 30));
        uInt before = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        done += before - z.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0) {
            error = "compressed data ends before the zlib stream does (truncated)";
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            error = std::string("corrupt zlib stream (") + (z.msg ? z.msg : "zlib error " + std::to_string(rc)) + ")";
            break;
        }
    }
    inflateEnd(&z);
    if (!error.empty()) throw std::runtime_error("imgpack: " + source + ": " + error);
    out.resize(done);
    return out;
}

File parse(std::span<const unsigned char> bytes, const std::string& source, const Limits& limits) {
    auto bad = [&](const std::string& what) {
        throw std::runtime_error("imgpack: " + source + ": not a MATLAB v5 MAT-file: " + what);
    };
    if (bytes.size() < kHeaderSize)
        bad("only " + std::to_string(bytes.size()) + " bytes, shorter than the 128-byte header");
    File f;
    const unsigned char* h = bytes.data();
    if (h[126] == 'I' && h[127] == 'M') f.big_endian = false;
    else if (h[126] == 'M' && h[127] == 'I') f.big_endian = true;
    else if (std::memcmp(h, "MATLAB", 6) == 0) bad("no endian indicator 'IM' or 'MI' at byte 126");
    else bad("no 'MATLAB' header text and no endian indicator at byte 126 (a MAT v4 file, or not a MAT-file)");
    const bool swap = f.big_endian != (std::endian::native == std::endian::big);
    uint16_t version;
    std::memcpy(&version, h + 124, 2);
    if (swap) version = bswap(version);
    if (version == 0x0200)
        bad("this is a MAT v7.3 file (HDF5), which is not supported: save it again with -v7");
    if (version != 0x0100) bad("unknown version 0x" + [&] {
        const char* hex = "0123456789abcdef";
        std::string s;
        for (int sh = 12; sh >= 0; sh -= 4) s += hex[(version >> sh) & 0xF];
        return s;
    }() + " at byte 124 (Level 5 files have 0x0100)");
    f.header_text.assign(reinterpret_cast<const char*>(h), 116);
    f.header_text.erase(f.header_text.find_last_not_of(std::string(" \0", 2)) + 1);
    uint64_t arrays = 0;
    Reader r(bytes, swap, source, "", limits, arrays);
    r.read_stream(kHeaderSize, bytes.size(), true, f.variables);
    return f;
}

}  // namespace imgpack::mat5
