// How the CLI writes what a pack holds: JSON strings for --json, names in messages, checksums
// and sizes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace imgpack::cli {

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0 when it does not start
// with one. Well-formed as Unicode (and RFC 3629) defines it: no overlong forms, no surrogates,
// nothing above U+10FFFF. `*maximal` receives the length of the maximal subpart of an ill-formed
// sequence (at least 1): the bytes that one U+FFFD replaces, as the Unicode Standard (3.9,
// "U+FFFD Substitution of Maximal Subparts") recommends and Python's decode(errors="replace") does.
inline size_t utf8_sequence(std::string_view s, size_t* maximal) {
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    *maximal = 1;
    if (c < 0x80) return 1;
    size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
    if (c >= 0xc2 && c <= 0xdf) length = 2;
    else if (c == 0xe0) length = 3, low = 0xa0;
    else if (c >= 0xe1 && c <= 0xec) length = 3;
    else if (c == 0xed) length = 3, high = 0x9f;  // not the surrogates U+D800..U+DFFF
    else if (c >= 0xee && c <= 0xef) length = 3;
    else if (c == 0xf0) length = 4, low = 0x90;
    else if (c >= 0xf1 && c <= 0xf3) length = 4;
    else if (c == 0xf4) length = 4, high = 0x8f;  // nothing above U+10FFFF
    else return 0;                               // 0x80..0xc1, 0xf5..0xff: never a first byte
    for (size_t i = 1; i < length; ++i) {
        if (i >= s.size()) return 0;
        const unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xbf;
        if (b(i) < lo || b(i) > hi) return 0;
        *maximal = i + 1;
    }
    return length;
}

// A JSON string. JSON text must be UTF-8 (RFC 8259), but names in a pack are bytes, as the
// archives held them: each ill-formed part becomes U+FFFD (see utf8_sequence). The output is
// then valid for every JSON parser, and a name that was not UTF-8 is shown, not reproduced; a
// record's exact handle is its index (`ls --json` gives it, `cat --index` takes it).
inline std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t maximal = 1;
        const size_t n = utf8_sequence(s.substr(i), &maximal);
        if (n == 0) {
            out += "\xef\xbf\xbd";  // U+FFFD
            i += maximal;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    return out + "\"";
}

// A byte string as it can be shown in a message: printable ASCII as is, anything else as \xNN.
inline std::string shown(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

inline std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

inline std::string human_bytes(uint64_t b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(b);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

}  // namespace imgpack::cli
