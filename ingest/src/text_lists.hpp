// The one line reader behind every list users bring: the class list (--classes), validation
// labels (TFDS's list, the devkit's ground truth, Kaggle's CSV), class names (synset_words.txt)
// and SimCLR subset lists. Every list follows the same rules:
//   - a UTF-8 byte-order mark at the start is dropped;
//   - a line ends with LF or CRLF; spaces and tabs around it are trimmed;
//   - blank lines may end the file, never stand between entries: line i of a positional list
//     belongs to entry i, so a gap would shift every later label; in any list it is refused,
//     naming the line;
//   - a CR inside a line (a file with old Mac line ends, or damage) is refused, naming the line.
// The n-th line returned is line n of the file, so messages can cite line numbers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace imgpack {

// No list users hold comes near this: 10percent.txt is 2.6 MB.
inline constexpr uint64_t kMaxListBytes = uint64_t{1} << 30;

// The lines of `text` (views into it); `source` names it in errors.
std::vector<std::string_view> list_lines(std::string_view text, const std::string& source);

// The lines of a list file, read once from any readable file (a pipe too).
std::vector<std::string> read_lines(const std::filesystem::path& file);

// A line quoted for an error message: at most 60 characters, non-printables as '?'.
std::string quote_line(std::string_view line);

}  // namespace imgpack
