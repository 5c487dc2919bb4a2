// The README's reader example: print every split, then the first record of each.
#include <imgpack/reader.hpp>
#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    imgpack::Pack pack = imgpack::Pack::open(argv[1]);     // mmap + validate everything once
    for (const imgpack::Split& split : pack.splits()) {
        std::printf("%s: %zu records\n", std::string(split.name()).c_str(), split.size());
        if (split.empty()) continue;
        imgpack::Record r = split[0];                         // O(1), zero-copy
        std::printf("  %s label=%d wnid=%s %ux%u %zu bytes checksum %s\n", std::string(r.name).c_str(), r.label,
                    std::string(r.wnid).c_str(), r.width, r.height, r.data.size(), r.verify() ? "ok" : "BAD");
    }
}
