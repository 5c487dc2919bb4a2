// The pack identity (FORMAT.md §5.1): computed as the spec says, the same for the same content
// whatever the file's name, place or times, different when any byte a checksum covers differs,
// and shown by `imgpack info`.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"

#include <imgpack/reader.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <cstdio>
#include <functional>
#include <set>
#include <string>

namespace fmt = imgpack::format;
using test::SmallPack;
using test::TempDir;

namespace {

// The identity computed from the file's bytes as FORMAT.md §5.1 writes it, with xxHash alone:
// XXH3-128 of header bytes [0, 56) then the directory, canonical form, lowercase hex.
std::string identity_per_spec(const std::vector<unsigned char>& f) {
    fmt::FileHeader h = fmt::decode_header(f.data());
    std::vector<unsigned char> input(f.begin(), f.begin() + 56);
    input.insert(input.end(), f.begin() + long(h.directory_offset),
                 f.begin() + long(h.directory_offset + uint64_t{h.section_count} * h.section_entry_size));
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(input.data(), input.size()));
    std::string hex;
    for (unsigned char b : c.digest) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", b);
        hex += two;
    }
    return hex;
}

std::string id_of(const std::filesystem::path& p) { return imgpack::Pack::open(p.string()).id(); }

// `f` edited, then its checksums recomputed as a writer would (so that it opens), written to `p`.
std::string id_after(std::vector<unsigned char> f, const std::filesystem::path& p,
                     const std::function<void(std::vector<unsigned char>&)>& edit) {
    edit(f);
    test::reseal(f);
    test::write_file(p, f);
    return id_of(p);
}

}  // namespace

TEST_CASE("identity: 32 lowercase hex digits, the XXH3-128 of the header's first 56 bytes and the directory") {
    TempDir dir;
    SmallPack().write(dir / "p.imgpack");
    const std::string id = id_of(dir / "p.imgpack");
    REQUIRE(id.size() == 32);
    CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(id == identity_per_spec(test::read_file(dir / "p.imgpack")));
    // The canonical form is big-endian: the first hex digits are the high 64 bits.
    const auto f = test::read_file(dir / "p.imgpack");
    fmt::FileHeader h = fmt::decode_header(f.data());
    std::vector<unsigned char> input(f.begin(), f.begin() + 56);
    input.insert(input.end(), f.begin() + long(h.directory_offset), f.end());  // v1 writers: the directory ends the file
    char high[17];
    std::snprintf(high, sizeof high, "%016llx", (unsigned long long)XXH3_128bits(input.data(), input.size()).high64);
    CHECK(id.substr(0, 16) == high);
}

TEST_CASE("identity: the same content has the same identity, whatever the file's name, place or times") {
    TempDir dir;
    SmallPack().write(dir / "a.imgpack");
    std::filesystem::create_directories(dir / "elsewhere");
    SmallPack().write(dir / "elsewhere" / "b.imgpack");  // written again: the writer is deterministic
    CHECK(test::read_file(dir / "a.imgpack") == test::read_file(dir / "elsewhere" / "b.imgpack"));
    std::filesystem::copy_file(dir / "a.imgpack", dir / "copy.imgpack");
    struct utimbuf old_times {1000000000, 1000000000};
    REQUIRE(::utime((dir / "copy.imgpack").c_str(), &old_times) == 0);
    ::chmod((dir / "copy.imgpack").c_str(), 0400);
    const std::string id = id_of(dir / "a.imgpack");
    CHECK(id_of(dir / "elsewhere" / "b.imgpack") == id);
    CHECK(id_of(dir / "copy.imgpack") == id);
    // Bytes that no checksum covers and no reader reads: the zeros after the header.
    auto f = test::read_file(dir / "a.imgpack");
    f[100] = 0x5a;
    test::write_file(dir / "gap.imgpack", f);
    CHECK(id_of(dir / "gap.imgpack") == id);
}

TEST_CASE("identity: any change to a byte that a checksum covers changes it") {
    TempDir dir;
    SmallPack().write(dir / "p.imgpack");
    const auto good = test::read_file(dir / "p.imgpack");
    const std::string id = id_of(dir / "p.imgpack");
    const auto bad = dir / "edited.imgpack";
    std::set<std::string> seen{id};
    auto differs = [&](const std::function<void(std::vector<unsigned char>&)>& edit) {
        std::string other = id_after(good, bad, edit);
        CHECK(seen.insert(other).second);  // different from the original and from every other edit
    };
    auto train = test::find_section(good, fmt::SectionKind::split, 0);
    auto blobs = test::find_section(good, fmt::SectionKind::blobs);
    auto strings = test::find_section(good, fmt::SectionKind::strings);
    auto subset = test::find_section(good, fmt::SectionKind::subset);
    // A label (train record 1's label 1 -> 0).
    differs([&](auto& f) { fmt::store<int32_t>(f.data() + train.offset + 16 + 40 + 32, 0); });
    // One image byte: the blob section's checksum in the directory changes with it.
    differs([&](auto& f) { f[blobs.offset] ^= 1; });
    // A byte of padding inside the blob section: covered by its checksum too.
    differs([&](auto& f) { f[blobs.offset + blobs.length - 1] ^= 1; });
    // A file name's letter (strings), a subset index, an informative header field (blob_align).
    differs([&](auto& f) { f[strings.offset + strings.length - 2] ^= 0x20; });
    differs([&](auto& f) { fmt::store<uint32_t>(f.data() + subset.offset + 32, 0); });
    differs([&](auto& f) { fmt::store<uint32_t>(f.data() + 40, 128); });
    // The minor version.
    differs([&](auto& f) { fmt::store<uint16_t>(f.data() + 10, 9); });
}

TEST_CASE("identity: imgpack info prints it, and --json has it") {
    TempDir dir;
    SmallPack().write(dir / "p.imgpack");
    const std::string id = id_of(dir / "p.imgpack");
    test::RunResult text = test::cli("info " + test::quote((dir / "p.imgpack").string()));
    REQUIRE(text.status == 0);
    CHECK(text.out.find("\nid: " + id + "\n") != std::string::npos);
    test::RunResult json = test::cli("info --json " + test::quote((dir / "p.imgpack").string()));
    REQUIRE(json.status == 0);
    CHECK(json.out.find("\"id\":\"" + id + "\"") != std::string::npos);
}
