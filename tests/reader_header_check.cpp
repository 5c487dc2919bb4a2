// Compiled with -Wall -Wextra -Wpedantic -Werror: the reader SDK must stay warning-free for the
// projects that include it.
#include <imgpack/reader.hpp>
