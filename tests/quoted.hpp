// A byte string as a C string literal: printable ASCII as is, '"' and '\' escaped, any other
// byte as \xNN. For test tools that print names and strings one per line.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace test {

inline std::string quoted(std::string_view s) {
    std::string q = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            q += '\\';
            q += char(c);
        } else if (c >= 0x20 && c < 0x7F) {
            q += char(c);
        } else {
            char e[8];
            std::snprintf(e, sizeof e, "\\x%02x", c);
            q += e;
        }
    }
    return q + "\"";
}

}  // namespace test
