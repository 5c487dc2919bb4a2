#include "text_lists.hpp"

#include "files.hpp"

#include <stdexcept>

namespace imgpack {

namespace {

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::vector<std::string_view> list_lines(std::string_view text, const std::string& source) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    std::vector<std::string_view> lines;
    size_t first_blank = 0;  // the line number of a blank line not yet followed by an entry
    for (size_t number = 1; !text.empty(); ++number) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.find('\r') != std::string_view::npos)
            throw std::runtime_error("imgpack: " + source + " line " + std::to_string(number) +
                                     " holds a carriage return inside it (old Mac line ends?): lines must end "
                                     "with LF or CRLF");
        line = trim(line);
        if (line.empty()) {
            if (!first_blank) first_blank = number;
            continue;
        }
        if (first_blank)
            throw std::runtime_error("imgpack: " + source + " line " + std::to_string(first_blank) +
                                     " is blank: blank lines may only end a list (in a list in label order, a "
                                     "gap would shift every later entry)");
        lines.push_back(line);
    }
    return lines;
}

std::vector<std::string> read_lines(const std::filesystem::path& file) {
    const std::string text = read_text_file(file, kMaxListBytes);
    std::vector<std::string> out;
    for (std::string_view line : list_lines(text, file.string())) out.emplace_back(line);
    return out;
}

std::string quote_line(std::string_view line) {
    std::string q;
    for (char c : line.substr(0, 60)) q += (c >= 0x20 && c < 0x7F) ? c : '?';
    if (line.size() > 60) q += "...";
    return "'" + q + "'";
}

}  // namespace imgpack
