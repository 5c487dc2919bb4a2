// Runs the decode fuzz target without libFuzzer, so that every build (Release, ASan/UBSan)
// replays the committed seeds:
//   imgpack_fuzz_decode_replay [--mutations N] FILE_OR_DIR...
// Each file runs once as it is, then N times mutated (deterministic: flipped bytes, a cut, a
// repeated or dropped run of bytes). A crash or a sanitizer report fails the run.
#include <imgpack/decode.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    unsigned mutations = 0;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
            mutations = static_cast<unsigned>(std::stoul(argv[++i]));
        } else if (fs::is_directory(argv[i])) {
            for (const auto& e : fs::directory_iterator(argv[i]))
                if (e.is_regular_file()) files.push_back(e.path());
        } else if (fs::is_regular_file(argv[i])) {
            files.push_back(argv[i]);
        } else {
            std::fprintf(stderr, "usage: %s [--mutations N] FILE_OR_DIR...\n(no such file: %s)\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "%s: no input files\n", argv[0]);
        return 2;
    }
    std::sort(files.begin(), files.end());
    size_t runs = 0;
    for (const fs::path& p : files) {
        std::ifstream in(p, std::ios::binary);
        const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
        ++runs;
        uint64_t state = 1;
        auto next = [&] { return imgpack::splitmix64(state++); };
        for (unsigned m = 0; m < mutations && !bytes.empty(); ++m) {
            std::vector<uint8_t> f = bytes;
            switch (m % 4) {
            case 0:  // flip a few bytes
                for (int k = 0, n = 1 + static_cast<int>(next() % 4); k < n; ++k)
                    f[next() % f.size()] ^= static_cast<uint8_t>(1 + next() % 255);
                break;
            case 1:  // cut
                f.resize(next() % f.size());
                break;
            case 2: {  // repeat a run of bytes
                const size_t at = next() % f.size(), len = std::min<size_t>(1 + next() % 64, f.size() - at);
                f.insert(f.begin() + static_cast<ptrdiff_t>(at), bytes.begin() + static_cast<ptrdiff_t>(at),
                         bytes.begin() + static_cast<ptrdiff_t>(at + len));
                break;
            }
            default: {  // drop a run of bytes
                const size_t at = next() % f.size(), len = std::min<size_t>(1 + next() % 64, f.size() - at);
                f.erase(f.begin() + static_cast<ptrdiff_t>(at), f.begin() + static_cast<ptrdiff_t>(at + len));
            }
            }
            LLVMFuzzerTestOneInput(f.data(), f.size());
            ++runs;
        }
    }
    std::printf("imgpack_fuzz_decode_replay: %zu files, %zu runs, no crash\n", files.size(), runs);
    return 0;
}
