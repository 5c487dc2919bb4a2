// examples/train_loop.cpp, the README's training loop: it runs, resumes, splits work by RANK and
// WORLD_SIZE, and the README shows exactly its code.
#include <doctest/doctest.h>

#include "loader_fixture.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string text_of(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

test::RunResult train_loop(const std::string& env, const std::string& args) {
    return test::run(env + " " + std::string(IMGPACK_EXAMPLE_TRAIN_LOOP) + " " + args);
}

}  // namespace

TEST_CASE("example train_loop: runs epochs, resumes mid-epoch, takes its rank's share") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.garbage = {10};
    const std::string pack = test::quote(test::write_loader_pack(dir, spec).string());
    auto whole = train_loop("", pack + " 2");
    REQUIRE(whole.status == 0);
    CHECK(whole.out.find("epoch 1: 3 batches") != std::string::npos);  // 96 records, batches of 32
    CHECK(whole.out.find("images 192,") != std::string::npos);
    CHECK(whole.out.find("replaced 2") != std::string::npos);        // the corrupt record, once an epoch
    auto resumed = train_loop("", pack + " 2 --resume 1 2");
    REQUIRE(resumed.status == 0);
    CHECK(resumed.out.find("images 32,") != std::string::npos);
    auto rank = train_loop("RANK=1 WORLD_SIZE=2", pack + " 1");
    REQUIRE(rank.status == 0);
    CHECK(rank.out.find("epoch 0: 2 batches") != std::string::npos);  // 96 over 2 x 32: padded to 128
    CHECK(train_loop("", "/nonexistent.imgpack").status == 1);
}

TEST_CASE("example train_loop: the README shows the example's code, line for line") {
    const std::string source = text_of(IMGPACK_SOURCE_DIR "/examples/train_loop.cpp");
    const std::string readme = text_of(IMGPACK_SOURCE_DIR "/README.md");
    const std::string begin = "    // README: training loop\n", end = "    // README: end\n";
    size_t from = source.find(begin), to = source.find(end);
    REQUIRE(from != std::string::npos);
    REQUIRE(to != std::string::npos);
    std::string block = source.substr(from + begin.size(), to - from - begin.size());
    // The README indents nothing: drop the function body's four spaces.
    std::string unindented;
    std::istringstream lines(block);
    for (std::string line; std::getline(lines, line);)
        unindented += (line.rfind("    ", 0) == 0 ? line.substr(4) : line) + "\n";
    CHECK_MESSAGE(readme.find(unindented) != std::string::npos,
                  "README.md's training loop differs from examples/train_loop.cpp; paste this:\n" << unindented);
}
