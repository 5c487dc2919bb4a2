// The reader's public API cannot dangle or crash (issue 9's traps, each a behaviour here; the ones
// closed at compile time are tests/compile_fail/), unknown enum values, many subsets, and what a
// live mapping sees when its file is truncated or replaced. Run under ASan by `./dev test`: a
// view that outlived its mapping would be reported there as a use after free.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <ranges>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fmt = imgpack::format;
using test::bytes_of;
using test::SmallPack;
using test::TempDir;

namespace {

std::vector<unsigned char> bytes(std::span<const unsigned char> s) { return {s.begin(), s.end()}; }

std::string written(TempDir& dir, const SmallPack& pack = {}, const std::string& name = "p.imgpack") {
    pack.write(dir / name);
    return (dir / name).string();
}

// Where the i-th record of the n-th split starts in a pack image.
size_t record_at(const std::vector<unsigned char>& f, int split, size_t i) {
    return test::find_section(f, fmt::SectionKind::split, split).offset + fmt::kSplitHeaderSize + i * fmt::kRecordSize;
}

}  // namespace

// No usable empty Pack, Split or Subset: there is no default constructor (compile_fail/ checks
// that `imgpack::Pack p;` does not compile) and no move that could leave one empty.
static_assert(!std::is_default_constructible_v<imgpack::Pack>);
static_assert(!std::is_default_constructible_v<imgpack::Split>);
static_assert(!std::is_default_constructible_v<imgpack::Subset>);
static_assert(!std::is_default_constructible_v<imgpack::Splits>);
static_assert(std::is_copy_constructible_v<imgpack::Split> && std::is_copy_assignable_v<imgpack::Subset>);
// The views are random-access ranges (of an lvalue; begin() of a temporary is deleted).
static_assert(std::ranges::random_access_range<imgpack::Split> && std::ranges::random_access_range<imgpack::Subset>);
static_assert(std::ranges::random_access_range<imgpack::Splits> && std::ranges::random_access_range<imgpack::Subsets>);
static_assert(std::ranges::sized_range<const imgpack::Split&>);

TEST_CASE("reader API: a Split or Subset taken from a temporary Pack keeps the file mapped") {
    TempDir dir;
    SmallPack small;
    const std::string path = written(dir, small);

    // Issue 9: `for (Record r : Pack::open(p).split("train"))` read a freed Pack.
    std::vector<std::string> names;
    for (imgpack::Record r : imgpack::Pack::open(path).split("train")) {
        names.emplace_back(r.name);
        CHECK(r.verify());
    }
    CHECK(names == small.train_names);

    // Issue 9: `Split s = Pack::open(p).split("train"); s[0]` crashed.
    imgpack::Split train = imgpack::Pack::open(path).split("train");
    REQUIRE(train.size() == 4);
    CHECK(bytes(train[0].data) == small.blobs[0]);
    CHECK(bytes(train.at(2).data) == small.blobs[2]);
    CHECK(train.find("d.JPEG") == 3);
    CHECK(train[1].wnid == "n00000002");  // the class table lives on with the split

    imgpack::Subset half = imgpack::Pack::open(path).subset("half");
    REQUIRE(half.size() == 2);
    CHECK(half[1].name == "d.JPEG");
    CHECK(bytes(half.split()[2].data) == small.blobs[2]);
    imgpack::Split of_half = imgpack::Pack::open(path).subset("half").split();
    CHECK(of_half.name_at(0) == "a.JPEG");
    for (imgpack::Record r : imgpack::Pack::open(path).subset("half")) CHECK(r.verify());

    std::optional<imgpack::Split> found = imgpack::Pack::open(path).find_split("test");
    REQUIRE(found);
    CHECK(bytes((*found)[0].data) == small.blobs[4]);
    std::optional<imgpack::Subset> found_subset = imgpack::Pack::open(path).find_subset("half");
    REQUIRE(found_subset);
    CHECK((*found_subset)[0].name == "b.JPEG");

    // The lists hand out their elements by value; an element outlives the list and the Pack.
    size_t records = 0;
    for (imgpack::Split s : imgpack::Pack::open(path).splits())
        for (imgpack::Record r : s) records += r.verify();
    CHECK(records == 5);
    imgpack::Split first = imgpack::Pack::open(path).splits()[0];
    CHECK(first.name() == "train");
    for (imgpack::Record r : imgpack::Pack::open(path).subsets()[0]) CHECK(r.verify());
    const imgpack::Split& bound = imgpack::Pack::open(path).splits()[1];  // a temporary, extended
    CHECK(bound.name() == "test");
    CHECK(bound[0].name == "t.JPEG");

    // A Record is a view into the mapping: valid while any handle sharing the mapping lives.
    imgpack::Subset holder = imgpack::Pack::open(path).subset("half");
    imgpack::Record held = holder[1];  // `holder` keeps its mapping alive
    CHECK(bytes(held.data) == small.blobs[3]);
    CHECK(held.verify());
}

TEST_CASE("reader API: handles are never empty, and a moved-from one is still whole") {
    TempDir dir;
    const std::string path = written(dir);
    imgpack::Pack a = imgpack::Pack::open(path);
    imgpack::Pack b = std::move(a);  // a copy: Pack has no move
    CHECK(a.splits().size() == 2);   // NOLINT(bugprone-use-after-move): the point of the test
    CHECK(a.split("train")[0].name == "a.JPEG");
    CHECK(b.split("train")[0].name == "a.JPEG");
    a = std::move(b);
    CHECK(b.subsets().size() == 1);  // NOLINT(bugprone-use-after-move)

    imgpack::Split s = a.split("train");
    imgpack::Split t = std::move(s);
    CHECK(s[3].name == "d.JPEG");  // NOLINT(bugprone-use-after-move)
    CHECK(t[3].verify());
    imgpack::Subset h = a.subset("half");
    imgpack::Subset g = std::move(h);
    CHECK(h[0].name == "b.JPEG");  // NOLINT(bugprone-use-after-move)
    CHECK(g.split().name() == "train");
    imgpack::Splits list = a.splits();
    imgpack::Splits moved = std::move(list);
    CHECK(list.size() == 2);  // NOLINT(bugprone-use-after-move)
    CHECK(list[1][0].name == "t.JPEG");
    CHECK(moved.size() == 2);

    // Reassigning a handle drops its share; the other handles keep the mapping.
    imgpack::Split keep = a.split("train");
    a = imgpack::Pack::open(path);
    CHECK(keep[2].verify());
}

TEST_CASE("reader API: split.subset(name) gives only a subset of that split") {
    TempDir dir;
    const std::string path = written(dir);
    imgpack::Pack p = imgpack::Pack::open(path);
    const imgpack::Split train = p.split("train"), other = p.splits()[1];
    REQUIRE(other.name() != "train");
    const imgpack::Subset half = train.subset("half");
    CHECK(half.name() == "half");
    CHECK(half.size() == p.subset("half").size());
    CHECK(half[0].name == p.subset("half")[0].name);
    try {
        (void)other.subset("half");
        FAIL("a subset of train was given as one of " << other.name());
    } catch (const imgpack::Error& e) {
        CHECK(std::string(e.what()) == "imgpack: " + path + ": subset 'half' is a subset of split 'train', not of '" +
                                           std::string(other.name()) + "'");
    }
    CHECK_THROWS_WITH_AS((void)train.subset("none"), ("imgpack: " + path + ": no subset named 'none'").c_str(),
                         imgpack::Error);
}

TEST_CASE("reader API: verify_section reads only a section the directory lists") {
    TempDir dir;
    const std::string path = written(dir);
    imgpack::Pack p = imgpack::Pack::open(path);
    const size_t n = p.sections().size();
    REQUIRE(n >= 5);
    for (size_t i = 0; i < n; ++i) CHECK(p.verify_section(i));
    // Issue 9: verify_section(SectionInfo) hashed whatever offset and length a caller made up. It
    // takes an index now (compile_fail/ checks that a SectionInfo does not compile), and an index
    // past the directory is an error, not a read.
    CHECK_THROWS_WITH_AS(p.verify_section(n), doctest::Contains("no section"), imgpack::Error);
    CHECK_THROWS_AS(p.verify_section(size_t(-1)), imgpack::Error);
}

TEST_CASE("reader: unknown codec and color-space values read as unknown (FORMAT.md 4.5, SHOULD)") {
    TempDir dir;
    const std::string good = written(dir);
    auto f = test::read_file(good);
    // Record 0 gets the last known values, records 1-3 the first unknown ones and the largest.
    const std::pair<uint8_t, uint8_t> stored[] = {{2, 5}, {3, 6}, {255, 255}, {0, 0}};
    for (size_t i = 0; i < 4; ++i) {
        f[record_at(f, 0, i) + 30] = stored[i].first;
        f[record_at(f, 0, i) + 31] = stored[i].second;
    }
    test::reseal(f);
    test::write_file(dir / "enums.imgpack", f);
    imgpack::Split train = imgpack::Pack::open((dir / "enums.imgpack").string()).split("train");
    CHECK(train[0].codec == fmt::Codec::png);
    CHECK(train[0].color_space == fmt::ColorSpace::ycck);
    for (size_t i = 1; i < 4; ++i) {
        CAPTURE(i);
        CHECK(train[i].codec == fmt::Codec::unknown);
        CHECK(train[i].color_space == fmt::ColorSpace::unknown);
        CHECK(train[i].verify());  // the rest of the record reads as before
    }
    // Untouched: the other split.
    CHECK(imgpack::Pack::open(good).split("test")[0].codec == fmt::Codec::jpeg);
}

TEST_CASE("reader: duplicate names among 65,000 subsets are found (sorted, not compared pairwise)") {
    // The duplicate checks were O(n^2): 65,000 subsets took 6.8 s to open. No time is asserted
    // here; the test shows that many subsets open, are found by name, and that a duplicate among
    // them is still rejected.
    TempDir dir;
    constexpr size_t kSubsets = 65000;  // the directory holds at most 65,536 sections
    auto name_of = [](size_t i) {
        std::string s = std::to_string(i);
        return "s" + std::string(6 - s.size(), '0') + s;
    };
    {
        imgpack::PackWriter w(dir / "many.imgpack", false);
        imgpack::PackContents c;
        imgpack::RecordDef r;
        r.blob_offset = w.append_blob(bytes_of("x"));
        r.blob_size = 1;
        r.xxh3 = XXH3_64bits("x", 1);
        for (const char* n : {"a", "b", "c"}) {
            r.name = n;
            c.splits.push_back({std::string("split_") + n, {r}});
        }
        // In reverse order of name, so that the directory order is not the sorted order.
        for (size_t i = kSubsets; i-- > 0;) c.subsets.push_back({name_of(i), "split_" + std::string(1, "abc"[i % 3]), "", {0}});
        w.finish(c);
    }
    imgpack::Pack p = imgpack::Pack::open((dir / "many.imgpack").string());
    REQUIRE(p.subsets().size() == kSubsets);
    size_t found = 0;
    for (size_t i = 0; i < kSubsets; i += 997) {
        std::optional<imgpack::Subset> s = p.find_subset(name_of(i));
        found += s && s->name() == name_of(i) && s->split().name() == "split_" + std::string(1, "abc"[i % 3]);
    }
    CHECK(found == (kSubsets + 996) / 997);
    CHECK_FALSE(p.find_subset("s"));
    CHECK_FALSE(p.find_subset("s999999"));
    CHECK(p.subset(name_of(kSubsets - 1)).size() == 1);
    CHECK(p.find_split("split_b"));

    // Subset 40,000 in directory order takes the name of subset 123; then split b takes a's name.
    auto f = test::read_file(dir / "many.imgpack");
    auto sub = [&](int n) { return test::find_section(f, fmt::SectionKind::subset, n).offset; };
    std::copy_n(f.begin() + sub(123), 8, f.begin() + sub(40000));
    test::reseal(f);
    test::write_file(dir / "dup.imgpack", f);
    CHECK(test::open_error(dir / "dup.imgpack").find("two subsets are named '" + name_of(kSubsets - 1 - 123) + "'") !=
          std::string::npos);
    f = test::read_file(dir / "many.imgpack");
    auto split = [&](int n) { return test::find_section(f, fmt::SectionKind::split, n).offset; };
    std::copy_n(f.begin() + split(0), 8, f.begin() + split(1));
    test::reseal(f);
    test::write_file(dir / "dup.imgpack", f);
    CHECK(test::open_error(dir / "dup.imgpack").find("two splits are named 'split_a'") != std::string::npos);
}

TEST_CASE("reader: a file truncated under a live mapping raises SIGBUS on the lost pages") {
    // Documented in reader.hpp, as LMDB documents it: a mapped pack must not be truncated. A
    // child process reads what truncation removed and must die of SIGBUS; the same read before
    // the truncation must succeed (so the test can fail).
    TempDir dir;
    SmallPack small;
    const std::string path = written(dir, small);
    imgpack::Pack pack = imgpack::Pack::open(path);
    const imgpack::Record big = pack.split("train")[2];  // 5000 bytes, past the first page
    REQUIRE(big.offset >= 4096);
    auto read_in_child = [&](auto&& read) {
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::signal(SIGBUS, SIG_DFL);  // a sanitizer's handler would turn the signal into an abort
            read();
            ::_exit(0);
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        return status;
    };
    auto read_blob = [&] {
        unsigned sum = 0;
        for (unsigned char c : big.data) sum += c;
        ::_exit(sum == 5000u * 'c' ? 0 : 3);
    };
    int before = read_in_child(read_blob);
    CHECK((WIFEXITED(before) && WEXITSTATUS(before) == 0));

    REQUIRE(::truncate(path.c_str(), 4096) == 0);  // the header page stays, the rest is gone
    int blob = read_in_child(read_blob);
    CHECK_MESSAGE((WIFSIGNALED(blob) && WTERMSIG(blob) == SIGBUS), "wait status ", blob);
    // The metadata lies past the blobs: reading a record's fields faults the same way.
    int record = read_in_child([&] { ::_exit(pack.split("train")[1].name.size() == 6 ? 0 : 3); });
    CHECK_MESSAGE((WIFSIGNALED(record) && WTERMSIG(record) == SIGBUS), "wait status ", record);
    // A new open sees the short file and rejects it with a message, not a signal.
    CHECK(test::open_error(path).find("truncated") != std::string::npos);
}

TEST_CASE("reader: a pack replaced by rename is seen old or new, never mixed") {
    TempDir dir;
    SmallPack old_pack, new_pack;
    new_pack.train_names = {"e.JPEG", "f.JPEG", "g.JPEG", "h.JPEG"};
    new_pack.blobs[2] = bytes_of(std::string(7000, 'g'));  // a different file size, too
    const std::string path = written(dir, old_pack);
    const std::string old_copy = written(dir, old_pack, "old.imgpack");
    const std::string new_copy = written(dir, new_pack, "new.imgpack");

    imgpack::Pack before = imgpack::Pack::open(path);
    imgpack::Split old_train = before.split("train");
    // Replace the pack as the converter does: a complete new file renamed over the old one.
    REQUIRE(::link(new_copy.c_str(), (dir / "incoming").c_str()) == 0);
    REQUIRE(::rename((dir / "incoming").c_str(), path.c_str()) == 0);
    // The open Pack keeps the file it mapped (its inode lives while mapped)...
    CHECK(old_train[0].name == "a.JPEG");
    CHECK(bytes(old_train[2].data) == old_pack.blobs[2]);
    CHECK(old_train[2].verify());
    CHECK(before.verify_section(0));
    // ...and a new open sees the new file whole.
    imgpack::Split new_train = imgpack::Pack::open(path).split("train");
    CHECK(new_train[0].name == "e.JPEG");
    CHECK(bytes(new_train[2].data) == new_pack.blobs[2]);
    // Deleted, the old file is still read through the mapping.
    std::filesystem::remove(path);
    CHECK(old_train[3].verify());
    CHECK(before.subset("half")[1].name == "d.JPEG");

    // While another thread keeps renaming the old and the new pack over the path, every open
    // succeeds and reads one of the two whole: open() opens the path once and then only uses that
    // descriptor, so a rename between its steps cannot mix two files (a size taken from the path
    // and the bytes from the descriptor would be "truncated or appended to").
    std::atomic<bool> stop{false}, renamer_failed{false};
    std::atomic<size_t> renames{0};
    std::thread renamer([&] {
        const std::string incoming = (dir / "incoming").string();
        for (size_t k = 0; !stop.load(); ++k) {
            if (::link(k % 2 ? old_copy.c_str() : new_copy.c_str(), incoming.c_str()) != 0 ||
                ::rename(incoming.c_str(), path.c_str()) != 0) {
                renamer_failed = true;
                break;
            }
            renames.fetch_add(1);
        }
    });
    size_t old_seen = 0, new_seen = 0, bad = 0;
    std::string first_error;
    while (old_seen + new_seen + bad < 300 && !renamer_failed.load()) {
        // Each open overlaps renames: wait for the renamer to make progress between two opens.
        for (size_t seen = renames.load(); renames.load() == seen && !renamer_failed.load();) std::this_thread::yield();
        try {
            imgpack::Split s = imgpack::Pack::open(path).split("train");
            bool is_old = s[0].name == "a.JPEG", is_new = s[0].name == "e.JPEG";
            bool whole = s.size() == 4 && s[2].verify() &&
                         bytes(s[2].data) == (is_old ? old_pack.blobs[2] : new_pack.blobs[2]);
            old_seen += is_old && whole;
            new_seen += is_new && whole;
            bad += !((is_old || is_new) && whole);
        } catch (const imgpack::Error& e) {
            if (std::string(e.what()).find("cannot open") != std::string::npos) continue;  // before the first rename
            if (bad++ == 0) first_error = e.what();
        }
    }
    stop = true;
    renamer.join();
    MESSAGE("opens: ", old_seen, " old, ", new_seen, " new; renames meanwhile: ", renames.load());
    CHECK_FALSE(renamer_failed.load());
    CHECK_MESSAGE(bad == 0, "first error: ", first_error);
    CHECK(renames.load() > 0);
}
