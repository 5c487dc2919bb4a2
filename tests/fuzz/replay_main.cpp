// Runs the fuzz target without libFuzzer, so that every build (Release, ASan/UBSan, or any
// compiler) replays the committed corpus:
//   imgpack_fuzz_replay [--must-open] [--mutations N] FILE_OR_DIR...
// A directory contributes its *.imgpack files. Each file is run once as it is, then N times with
// one of fuzz_mutate.hpp's structural mutations, re-sealed (deterministic: the seed is the
// mutation's number). A crash, a sanitizer report or a broken invariant fails the run; a mutated
// file that is rejected is the expected outcome. With --must-open, a file that is rejected as it
// is fails the run: the committed corpus is valid packs, and a reader that stops opening one has
// broken compatibility (or the corpus is damaged), not found a bad input.
#include "fuzz_mutate.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
namespace imgpack::fuzz {
size_t inputs_opened();
const std::string& last_rejection();
}

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    unsigned mutations = 0;
    bool must_open = false;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
            mutations = static_cast<unsigned>(std::stoul(argv[++i]));
        } else if (std::strcmp(argv[i], "--must-open") == 0) {
            must_open = true;
        } else if (fs::is_directory(argv[i])) {
            for (const auto& e : fs::directory_iterator(argv[i]))
                if (e.is_regular_file() && e.path().extension() == ".imgpack") files.push_back(e.path());
        } else if (fs::is_regular_file(argv[i])) {
            files.push_back(argv[i]);
        } else {
            std::fprintf(stderr, "usage: %s [--must-open] [--mutations N] FILE_OR_DIR...\n(no such file: %s)\n", argv[0],
                         argv[i]);
            return 2;
        }
    }
    if (files.empty()) {
        std::fprintf(stderr, "%s: no input files\n", argv[0]);
        return 2;
    }
    std::sort(files.begin(), files.end());
    size_t runs = 0, rejected = 0;
    for (const fs::path& p : files) {
        std::ifstream in(p, std::ios::binary);
        std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        const size_t opened_before = imgpack::fuzz::inputs_opened();
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
        ++runs;
        if (must_open && imgpack::fuzz::inputs_opened() == opened_before) {
            std::fprintf(stderr, "%s: rejected at open: %s\n", p.c_str(), imgpack::fuzz::last_rejection().c_str());
            ++rejected;
        }
        for (unsigned m = 0; m < mutations; ++m) {
            std::minstd_rand rng(m + 1);
            std::vector<uint8_t> f = bytes;
            for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k) imgpack::fuzz::mutate_field(f.data(), f.size(), rng);
            imgpack::fuzz::reseal(f.data(), f.size(), true);
            LLVMFuzzerTestOneInput(f.data(), f.size());
            ++runs;
        }
    }
    std::printf("replayed %zu files: %zu runs, %zu opened and read, the rest rejected at open\n", files.size(), runs,
                imgpack::fuzz::inputs_opened());
    if (rejected > 0) {
        std::fprintf(stderr, "FAIL: %zu committed corpus file(s) rejected at open (--must-open)\n", rejected);
        return 1;
    }
    return 0;
}
