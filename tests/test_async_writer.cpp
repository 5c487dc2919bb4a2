// AsyncWriter, which writes PackWriter's blob chunks on a thread of its own while the next chunk
// fills. Part of imgpack_thread_tests, so `./dev test` also runs it under ThreadSanitizer.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include "async_writer.hpp"
#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>

namespace {

constexpr size_t kPage = imgpack::AsyncWriter::kPage;

// Submits `chunks` chunks of random whole-page sizes, each followed by a random partial page
// that the next chunk carries over, as PackWriter does; returns the bytes the file must hold.
std::vector<unsigned char> write_chunks(imgpack::AsyncWriter& w, size_t chunks, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<unsigned char> expected;
    imgpack::WriteBuffer buffer;
    uint64_t offset = 0;
    for (size_t c = 0; c < chunks; ++c) {
        size_t grow = (1 + rng() % 24) * kPage + rng() % kPage;
        for (size_t i = 0; i < grow; ++i) buffer.push_back(static_cast<unsigned char>(rng()));
        const size_t pages = buffer.size() / kPage * kPage;
        expected.insert(expected.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(pages));
        const std::vector<unsigned char> tail(buffer.begin() + static_cast<std::ptrdiff_t>(pages), buffer.end());
        buffer = w.submit(std::move(buffer), pages, offset);
        offset += pages;
        CHECK(std::equal(buffer.begin(), buffer.end(), tail.begin(), tail.end()));  // the tail carried over
    }
    return expected;
}

}  // namespace

TEST_CASE("async writer: every chunk lands at its offset, with O_DIRECT and without") {
    test::TempDir dir;
    for (bool direct : {true, false}) {
        CAPTURE(direct);
        auto path = dir / (direct ? "direct.bin" : "buffered.bin");
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        int direct_fd = direct ? ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC) : -1;
        if (direct && direct_fd < 0) MESSAGE("O_DIRECT refused here: both runs are buffered");
        std::vector<unsigned char> expected;
        {
            imgpack::AsyncWriter w(fd, direct_fd, path.string(), 3, 32 * kPage);
            expected = write_chunks(w, 40, direct ? 1 : 2);
            w.finish();
        }
        if (direct_fd >= 0) ::close(direct_fd);
        ::close(fd);
        CHECK(test::read_file(path) == expected);
    }
}

TEST_CASE("async writer: a failed write is reported by the next call, naming the file") {
    test::TempDir dir;
    auto path = dir / "readonly.bin";
    test::write_file(path, {});
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // every write fails with EBADF
    REQUIRE(fd >= 0);
    std::string message;
    {
        imgpack::AsyncWriter w(fd, -1, "the file", 2, 4 * kPage);
        try {
            write_chunks(w, 20, 3);  // with two buffers, a submit waits for the failed write
            w.finish();
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
    }  // and the destructor does not wait forever
    ::close(fd);
    CHECK(message.find("cannot write the file: Bad file descriptor") != std::string::npos);
}

TEST_CASE("async writer: a pack of many chunks reads back record for record") {
    // PackWriter writes 8 MiB chunks: 40 MiB of blobs is five chunks through AsyncWriter.
    test::TempDir dir;
    auto out = dir / "chunks.imgpack";
    std::mt19937_64 rng(11);
    std::vector<std::vector<unsigned char>> blobs;
    imgpack::PackContents c;
    c.splits.push_back({"train", {}});
    {
        imgpack::PackWriter w(out, false);
        for (size_t total = 0, i = 0; total < (40u << 20); ++i) {
            std::vector<unsigned char> b(1 + rng() % (600u << 10));
            for (size_t k = 0; k < b.size(); k += 8) {
                const uint64_t v = rng();
                std::memcpy(b.data() + k, &v, std::min<size_t>(8, b.size() - k));
            }
            total += b.size();
            imgpack::RecordDef r;
            char name[32];
            std::snprintf(name, sizeof name, "%06zu.JPEG", i);
            r.name = name;
            r.blob_offset = w.append_blob(b);
            r.blob_size = static_cast<uint32_t>(b.size());
            r.xxh3 = XXH3_64bits(b.data(), b.size());
            c.splits[0].records.push_back(r);
            blobs.push_back(std::move(b));
        }
        w.finish(c);
    }
    imgpack::Pack p = imgpack::Pack::open(out.string());
    const imgpack::Split& train = p.split("train");
    REQUIRE(train.size() == blobs.size());
    size_t same = 0;
    for (size_t i = 0; i < blobs.size(); ++i)
        same += train[i].verify() && std::equal(train[i].data.begin(), train[i].data.end(), blobs[i].begin(), blobs[i].end());
    CHECK(same == blobs.size());
}
