// Odd and hostile inputs (issue 13): none may lose or shift data without a word, or take memory
// the input did not ask for. Each class of input is tried with the case the issue gives and a
// second case of the same class. Archives are written here (libarchive, GNU tar), so each test
// builds exactly the oddity it is about.
#include <doctest/doctest.h>

#include "archives.hpp"
#include "memory_budget.hpp"
#include "skip.hpp"
#include "synth_fixture.hpp"

#include <imgpack/reader.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <cstring>
#include <functional>

namespace {

using test::fs::path;
using test::tiny_jpeg;
using Bytes = std::vector<unsigned char>;
using OnBad = imgpack::ConvertOptions::OnBadImage;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string val_name(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "ILSVRC2012_val_%08d.JPEG", n);
    return buf;
}
std::string test_name(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "ILSVRC2012_test_%08d.JPEG", n);
    return buf;
}
std::string wnid(int n) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "n%08d", n);
    return buf;
}

Bytes bytes_of(std::span<const unsigned char> s) { return {s.begin(), s.end()}; }
Bytes text(const std::string& s) { return {s.begin(), s.end()}; }

struct Scratch {
    test::TempDir dir;
    path put(const std::string& name, const Bytes& bytes) const {
        test::fs::create_directories((dir / name).parent_path());
        test::write_file(dir / name, bytes);
        return dir / name;
    }
    path put_text(const std::string& name, const std::string& s) const { return put(name, text(s)); }
    // GNU tar (not our code) over files of `from`, with its own options.
    path gnu_tar(const std::string& name, const std::string& options, const path& from, const std::string& files) const {
        test::RunResult r = test::run("tar " + options + " -cf " + test::quote((dir / name).string()) + " -C " +
                                      test::quote(from.string()) + " " + files);
        REQUIRE_MESSAGE(r.status == 0, r.err);
        return dir / name;
    }
    path out(const std::string& name = "out.imgpack") const { return dir / name; }
};

// Runs `setup` then a conversion with `o` in a child process (limits set there stay there), and
// returns the conversion's error, "converted", or what `setup` returned instead of "".
std::string convert_in_child(const imgpack::ConvertOptions& o, const std::function<std::string()>& setup) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string what = setup();
        if (what.empty()) try {
                imgpack::convert(o);
                what = "converted";
            } catch (const std::exception& e) {
                what = e.what();
            }
        (void)!::write(fds[1], what.data(), what.size());
        ::_exit(0);  // no atexit handlers (LeakSanitizer's would need a thread, or memory)
    }
    ::close(fds[1]);
    std::string what;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) what.append(buf, size_t(n));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "the child died: status ", status);
    return what;
}

void check_no_temporary_file(const path& dir) {
    for (const path& p : test::temporaries(dir)) CHECK_MESSAGE(false, "left behind: ", p);
}

// A conversion that must fail with every part in its message, and leave nothing behind.
void expect_failure(const imgpack::ConvertOptions& o, const std::vector<std::string>& parts) {
    std::string err = test::convert_error(o);
    REQUIRE_MESSAGE(!err.empty(), "converted, but should have failed");
    for (const std::string& p : parts) CHECK_MESSAGE(contains(err, p), "expected '", p, "' in: ", err);
    CHECK_FALSE(test::fs::exists(o.output));
    check_no_temporary_file(o.output.parent_path());
}

// A val tar of tiny JPEGs ILSVRC2012_val_<first..last>, with `odd` replacing the bytes of some.
Bytes val_tar(int first, int last, const std::map<int, Bytes>& odd = {}) {
    test::Files files;
    for (int i = first; i <= last; ++i) files.emplace_back(val_name(i), odd.count(i) ? odd.at(i) : tiny_jpeg(uint8_t(i)));
    return test::tar_bytes(files);
}

// A train tar of per-class tars: classes[i] = {WNID, images}; 0 images gives an empty class tar.
Bytes train_tar(const std::vector<std::pair<std::string, int>>& classes) {
    test::Files outer;
    for (const auto& [w, n] : classes) {
        test::Files inner;
        for (int i = 1; i <= n; ++i) inner.emplace_back(w + "_" + std::to_string(i) + ".JPEG", tiny_jpeg(uint8_t(i * 3)));
        outer.emplace_back(w + ".tar", test::tar_bytes(inner));
    }
    return test::tar_bytes(outer);
}

// The byte offset just past the data of the `n`-th member (0-based) of a ustar archive whose
// members are all regular files.
size_t end_of_member(const Bytes& tar, int n) {
    size_t at = 0;
    for (int i = 0;; ++i) {
        size_t size = std::stoul(std::string(reinterpret_cast<const char*>(tar.data() + at + 124), 11), nullptr, 8);
        at += 512 + (size + 511) / 512 * 512;
        if (i == n) return at;
    }
}

Bytes with_zero_block_at(Bytes tar, size_t at) {
    tar.insert(tar.begin() + long(at), 512, 0);
    return tar;
}

}  // namespace

// --- issue 13, item 2 (and 8): sparse members ------------------------------------------------

TEST_CASE("hostile: a sparse member is stored as tar extracts it, holes as zeros, to its full size") {
    Scratch s;
    const Bytes jpeg = tiny_jpeg(40);
    auto sparse_file = [&](const path& p, const std::vector<std::pair<uint64_t, Bytes>>& data, uint64_t size) {
        test::fs::create_directories(p.parent_path());
        int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE(fd >= 0);
        for (const auto& [at, bytes] : data) REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), off_t(at)) == ssize_t(bytes.size()));
        REQUIRE(::ftruncate(fd, off_t(size)) == 0);
        ::close(fd);
    };
    struct Case {
        std::string what, tar_options;
        std::vector<std::pair<uint64_t, Bytes>> data;
        uint64_t size;
    };
    const std::vector<Case> cases = {
        // The case: GNU tar --sparse, the data ends in a hole (3,000,000 bytes, 4,096 stored).
        {"GNU sparse, a hole at the end", "--sparse --format=gnu", {{0, jpeg}}, 3000000},
        // The same class in another format: PAX sparse 1.0, holes in the middle and at the end.
        {"PAX sparse 1.0, holes in the middle and at the end", "--sparse --format=posix --sparse-version=1.0",
         {{0, jpeg}, {1 << 20, text("data between two holes")}},
         2 << 20},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        const path src = s.dir / ("src-" + std::to_string(&c - cases.data()));
        sparse_file(src / val_name(1), c.data, c.size);
        test::write_file(src / val_name(2), tiny_jpeg(2));
        const path tar = s.gnu_tar(src.filename().string() + ".tar", c.tar_options, src, val_name(1) + " " + val_name(2));
        REQUIRE_MESSAGE(test::fs::file_size(tar) < 64 * 1024, "GNU tar stored the holes: the test needs a sparse member");
        // Ground truth: GNU tar's own extraction.
        const path x = s.dir / ("x-" + src.filename().string());
        test::fs::create_directories(x);
        REQUIRE(test::run("tar -xf " + test::quote(tar.string()) + " -C " + test::quote(x.string())).status == 0);
        const Bytes extracted = test::read_file(x / val_name(1));
        REQUIRE(extracted.size() == c.size);

        imgpack::ConvertOptions o;
        o.val = tar;
        o.output = s.out(src.filename().string() + ".imgpack");
        imgpack::convert(o);
        imgpack::Pack pack = imgpack::Pack::open(o.output.string());
        const imgpack::Split& val = pack.split("validation");
        REQUIRE(val.size() == 2);
        CHECK(val[0].data.size() == c.size);
        CHECK(bytes_of(val[0].data) == extracted);
        CHECK(bytes_of(val[1].data) == tiny_jpeg(2));
        CHECK(val[0].verify());
    }
}

TEST_CASE("hostile: a member over the per-image limit is refused before it is read, and skip skips it") {
    Scratch s;
    // The case: a 20 KB tar whose sparse member claims 4 GiB (it used to be read whole).
    const path src = s.dir / "src";
    test::fs::create_directories(src);
    test::write_file(src / val_name(1), tiny_jpeg(1));
    test::write_file(src / val_name(2), tiny_jpeg(2));
    REQUIRE(::truncate((src / val_name(2)).c_str(), off_t(4) << 30) == 0);
    test::write_file(src / val_name(3), tiny_jpeg(3));
    const path tar = s.gnu_tar("val.tar", "--sparse --format=gnu", src, val_name(1) + " " + val_name(2) + " " + val_name(3));
    REQUIRE(test::fs::file_size(tar) < 64 * 1024);
    imgpack::ConvertOptions o;
    o.val = tar;
    o.output = s.out();
    expect_failure(o, {"val.tar: " + val_name(2), "4294967296 bytes, more than the per-image limit of 67108864 bytes",
                       "--max-image-bytes"});
    o.on_bad_image = OnBad::skip;
    imgpack::ConvertSummary sum = imgpack::convert(o);
    REQUIRE(sum.skipped.size() == 1);
    CHECK(contains(sum.skipped[0], val_name(2)));
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.split("validation").size() == 2);
    CHECK(pack.split("validation")[1].name == val_name(3));

    // The same class: a header claiming 1 TB (GNU base-256 size) with nothing after it. Refused
    // from the header, without allocating; the archive then ends where 1 TB was promised, and
    // that damage is what stops the conversion (reading goes on while the entry is reported).
    Bytes header(512, 0);
    std::memcpy(header.data(), val_name(4).c_str(), val_name(4).size());
    std::memcpy(header.data() + 100, "0000644", 8);
    std::memcpy(header.data() + 108, "0000000", 8);
    std::memcpy(header.data() + 116, "0000000", 8);
    header[124] = 0x80;  // base-256: the size in the remaining 11 bytes, big-endian
    const uint64_t terabyte = uint64_t{1} << 40;
    for (int i = 0; i < 8; ++i) header[135 - i] = uint8_t(terabyte >> (8 * i));
    std::memcpy(header.data() + 136, "00000000000", 12);
    header[156] = '0';
    std::memcpy(header.data() + 257, "ustar", 6);
    std::memcpy(header.data() + 263, "00", 2);
    std::memset(header.data() + 148, ' ', 8);
    unsigned sum_bytes = 0;
    for (unsigned char c : header) sum_bytes += c;
    std::snprintf(reinterpret_cast<char*>(header.data() + 148), 8, "%06o", sum_bytes);
    Bytes huge = val_tar(1, 1);
    huge.resize(end_of_member(huge, 0));
    huge.insert(huge.end(), header.begin(), header.end());
    huge.resize(huge.size() + 10240, 0);
    o.val = s.put("huge.tar", huge);
    o.output = s.out("huge.imgpack");
    for (OnBad mode : {OnBad::fail, OnBad::skip}) {
        o.on_bad_image = mode;
        expect_failure(o, {"huge.tar: cannot read the next entry (truncated or corrupt?)", std::to_string(terabyte)});
        CHECK_FALSE(contains(test::convert_error(o), "bad_alloc"));
    }

    // And in a folder: the size is known from stat, before the file is read.
    const path folder = s.dir / "valdir";
    test::fs::create_directories(folder);
    test::write_file(folder / val_name(1), tiny_jpeg(1));
    test::write_file(folder / val_name(2), Bytes(5000, 0xFF));
    o.val = folder;
    o.max_image_bytes = 4096;
    o.on_bad_image = OnBad::fail;
    expect_failure(o, {val_name(2), "5000 bytes, more than the per-image limit of 4096 bytes"});
    o.max_image_bytes = 0;
    expect_failure(o, {"--max-image-bytes must be 1..4294967295"});
}

// --- item 3: empty classes -------------------------------------------------------------------

TEST_CASE("hostile: an empty class tar or class folder keeps its class, and every later label stays") {
    Scratch s;
    const std::vector<std::pair<std::string, int>> classes = {{wnid(1), 2}, {wnid(2), 0}, {wnid(3), 2}};
    auto check_classes = [&](const path& pack_path) {
        imgpack::Pack pack = imgpack::Pack::open(pack_path.string());
        REQUIRE(pack.class_count() == 3);
        for (size_t i = 0; i < 3; ++i) CHECK(pack.classes()[i].wnid == wnid(int(i) + 1));
        const imgpack::Split& train = pack.split("train");
        REQUIRE(train.size() == 4);
        for (imgpack::Record r : train) CHECK(r.wnid == std::string(r.name).substr(0, 9));
        CHECK(train[3].label == 2);  // n00000003's, not shifted down to 1
    };
    // The case: an empty per-class tar. Validation labels naming its class work.
    imgpack::ConvertOptions o;
    o.train = s.put("train.tar", train_tar(classes));
    o.val = s.put("val.tar", val_tar(1, 2));
    o.val_labels = s.put_text("labels.txt", wnid(2) + "\n" + wnid(3) + "\n");
    o.output = s.out("a.imgpack");
    imgpack::ConvertSummary sum = imgpack::convert(o);
    check_classes(o.output);
    bool noted = false;
    for (const std::string& n : sum.notes) noted |= contains(n, wnid(2) + " (label 1)");
    CHECK_MESSAGE(noted, "no note names the empty class");
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    CHECK(pack.split("validation")[0].label == 1);

    // The same class: an empty class folder of an extracted train tree.
    const path tree = s.dir / "train";
    for (const auto& [w, n] : classes) {
        test::fs::create_directories(tree / w);
        for (int i = 1; i <= n; ++i) test::write_file(tree / w / (w + "_" + std::to_string(i) + ".JPEG"), tiny_jpeg(uint8_t(i * 3)));
    }
    o.train = tree;
    o.output = s.out("b.imgpack");
    imgpack::convert(o);
    check_classes(o.output);

    // ... and a class whose every image is skipped.
    test::write_text(tree / wnid(2) / (wnid(2) + "_1.JPEG"), "not an image");
    o.on_bad_image = OnBad::skip;
    o.output = s.out("c.imgpack");
    CHECK(imgpack::convert(o).skipped.size() == 1);
    check_classes(o.output);

    // A class list without the empty class: the conversion stops, naming it.
    o.classes = s.put_text("classes.txt", wnid(1) + "\n" + wnid(3) + "\n");
    o.val_labels.clear();
    o.output = s.out("d.imgpack");
    expect_failure(o, {"holds 1 class(es) not in the class list", "classes.txt", wnid(2)});

    // An empty folder that cannot name a class is a bad entry of its own: in a train tree, and
    // in a flat validation folder, where it does not make the folder a labeled one.
    o.classes.clear();
    test::fs::create_directories(tree / "lost+found");
    o.on_bad_image = OnBad::fail;
    expect_failure(o, {"lost+found", "empty, and 'lost+found' is not a WNID"});
    const path val = s.dir / "val";
    test::fs::create_directories(val / "lost+found");
    for (int i = 1; i <= 2; ++i) test::write_file(val / val_name(i), tiny_jpeg(uint8_t(i)));
    o.train.clear();
    o.val = val;
    o.val_labels = s.put_text("val-labels.txt", wnid(3) + "\n" + wnid(1) + "\n");
    o.output = s.out("e.imgpack");
    expect_failure(o, {"val: lost+found", "empty, and 'lost+found' is not a WNID"});
    o.on_bad_image = OnBad::skip;
    CHECK(imgpack::convert(o).skipped.size() == 1);
    imgpack::Pack labeled = imgpack::Pack::open(o.output.string());
    REQUIRE(labeled.split("validation").size() == 2);
    CHECK(labeled.split("validation")[0].wnid == wnid(3));
}

// --- item 4: data after a tar's end ----------------------------------------------------------

TEST_CASE("hostile: a lone zero block or a second archive after a tar's end stops the conversion") {
    Scratch s;
    imgpack::ConvertOptions o;
    o.output = s.out();
    const Bytes three = val_tar(1, 3);
    // The case: a lone zero block between members (GNU tar warns, then stops).
    const Bytes lone = with_zero_block_at(three, end_of_member(three, 0));
    const path lone_tar = s.put("lone.tar", lone);
    REQUIRE(contains(test::run("tar -tf " + test::quote(lone_tar.string())).err, "A lone zero block"));
    o.val = lone_tar;
    expect_failure(o, {"lone.tar", "lone zero block", "byte " + std::to_string(end_of_member(three, 0) + 512)});
    o.on_bad_image = OnBad::skip;  // damage, not a bad entry
    expect_failure(o, {"lone.tar", "lone zero block"});
    o.on_bad_image = OnBad::fail;

    // The same class: a second archive appended (cat a.tar b.tar), and a lone zero block in a
    // compressed tar and inside a per-class tar of the train archive.
    Bytes two = val_tar(1, 2);
    const Bytes more = val_tar(3, 4);
    two.insert(two.end(), more.begin(), more.end());
    o.val = s.put("cat.tar", two);
    expect_failure(o, {"cat.tar", "a second archive appended"});

    REQUIRE(test::run("gzip -k " + test::quote(lone_tar.string())).status == 0);
    o.val = s.dir / "lone.tar.gz";
    expect_failure(o, {"lone.tar.gz", "lone zero block"});

    test::Files inner;
    for (int i = 1; i <= 3; ++i) inner.emplace_back(wnid(7) + "_" + std::to_string(i) + ".JPEG", tiny_jpeg(uint8_t(i)));
    Bytes class_tar = test::tar_bytes(inner);
    class_tar = with_zero_block_at(class_tar, end_of_member(class_tar, 1));
    o.val.clear();
    o.train = s.put("train.tar", test::tar_bytes({{wnid(7) + ".tar", class_tar}}));
    expect_failure(o, {"train.tar: " + wnid(7) + ".tar", "lone zero block"});

    // Zeros after the end, however many, are padding: read.
    Bytes padded = val_tar(1, 2);
    padded.resize(padded.size() + 100000, 0);
    o.train.clear();
    o.val = s.put("padded.tar", padded);
    CHECK(imgpack::convert(o).splits.at(0).records == 2);
}

// --- item 5: the test patch ------------------------------------------------------------------

TEST_CASE("hostile: the test patch says what it did, and an image that replaces nothing is refused unless asked") {
    Scratch s;
    test::Files test_files;
    for (int i = 1; i <= 3; ++i) test_files.emplace_back(test_name(i), tiny_jpeg(uint8_t(i)));
    imgpack::ConvertOptions o;
    o.test = s.put("test.tar", test::tar_bytes(test_files));
    o.output = s.out();
    // The case: one image replaces a test image, one replaces nothing.
    o.test_patch = s.put("patch.tar", test::tar_bytes({{test_name(2), tiny_jpeg(90)}, {test_name(9), tiny_jpeg(91)}}));
    expect_failure(o, {"1 image(s) of the test patch replace no test image", "patch.tar: " + test_name(9),
                       "--test-patch-adds"});
    o.test_patch_adds = true;
    imgpack::ConvertSummary sum = imgpack::convert(o);
    CHECK(sum.patched == 1);
    CHECK(sum.patch_added == std::vector<std::string>{(s.dir / "patch.tar").string() + ": " + test_name(9)});
    bool noted = false;
    for (const std::string& n : sum.notes) noted |= n == "the test patch replaced 1 test image(s) and added 1 (--test-patch-adds)";
    CHECK(noted);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.split("test").size() == 4);
    CHECK(bytes_of(pack.split("test")[1].data) == tiny_jpeg(90));

    // The same class: a name outside the test set's naming, even with --test-patch-adds.
    o.test_patch = s.put("odd.tar", test::tar_bytes({{"photo.JPEG", tiny_jpeg(92)}}));
    o.output = s.out("b.imgpack");
    expect_failure(o, {"odd.tar: photo.JPEG", "ILSVRC2012_test_<8 digits>.JPEG"});
    // ... and a patch that holds nothing.
    o.test_patch = s.put("empty.tar", test::tar_bytes({}));
    expect_failure(o, {"empty.tar", "holds no image", "--allow-empty"});
    o.allow_empty = true;
    CHECK(imgpack::convert(o).patched == 0);
}

// --- item 7: empty inputs --------------------------------------------------------------------

TEST_CASE("hostile: empty splits and subsets are errors unless --allow-empty") {
    Scratch s;
    const path empty_tar = s.put("empty.tar", test::tar_bytes({}));
    const path empty_dir = s.dir / "empty";
    test::fs::create_directories(empty_dir);
    struct Case {
        std::string what;
        std::function<void(imgpack::ConvertOptions&)> set;
        std::vector<std::string> expect;
    };
    const std::vector<Case> cases = {
        {"an empty train tar", [&](auto& o) { o.train = empty_tar; }, {"empty.tar", "the train split would be empty"}},
        {"an empty train folder", [&](auto& o) { o.train = empty_dir; }, {"the train split would be empty"}},
        {"an empty validation tar", [&](auto& o) { o.val = empty_tar; }, {"the validation split would be empty"}},
        {"an empty test folder", [&](auto& o) { o.test = empty_dir; }, {"the test split would be empty"}},
        {"a validation tar whose every entry is skipped",
         [&](auto& o) {
             o.val = s.put("bad.tar", test::tar_bytes({{val_name(1), text("text")}}));
             o.on_bad_image = OnBad::skip;
         },
         {"the validation split would be empty", "1 entries were skipped"}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        imgpack::ConvertOptions o;
        o.output = s.out();
        c.set(o);
        expect_failure(o, c.expect);
        CHECK(contains(test::convert_error(o), "--allow-empty"));
        o.allow_empty = true;
        imgpack::ConvertSummary sum = imgpack::convert(o);
        REQUIRE(sum.splits.size() == 1);
        CHECK(sum.splits[0].records == 0);
        test::fs::remove(o.output);
    }

    // Subsets: an empty list (refused before any archive is read), a fraction that rounds to 0.
    imgpack::ConvertOptions o;
    o.train = s.put("train.tar", train_tar({{wnid(1), 3}, {wnid(2), 3}}));
    o.output = s.out();
    o.subsets = {{"none", s.put_text("none.txt", "\n")}};
    expect_failure(o, {"subset 'none'", "none.txt names no file", "--allow-empty"});
    o.subsets = {{"tiny", {}, 0.05}};
    expect_failure(o, {"subset 'tiny' would be empty", "a fraction of 0.05 of 6 train records rounds to 0"});
    o.allow_empty = true;
    imgpack::ConvertSummary sum = imgpack::convert(o);
    REQUIRE(sum.subsets.size() == 1);
    CHECK(sum.subsets[0].second == 0);
}

// --- item 8: memory --------------------------------------------------------------------------

#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("hostile: out of memory is an error that says so, never a bare std::bad_alloc") {
    // A child process whose address space is capped below what a legal (under a raised
    // --max-image-bytes) 3 GB sparse member needs.
    Scratch s;
    const path src = s.dir / "src";
    test::fs::create_directories(src);
    test::write_file(src / val_name(1), tiny_jpeg(1));
    REQUIRE(::truncate((src / val_name(1)).c_str(), off_t(3) << 30) == 0);
    const path tar = s.gnu_tar("val.tar", "--sparse --format=gnu", src, val_name(1));
    imgpack::ConvertOptions o;
    o.val = tar;
    o.output = s.out();
    o.max_image_bytes = UINT32_MAX;
    o.jobs = 1;
    const std::string what = convert_in_child(o, [] {
        // What the process maps already (thread arenas of earlier tests, ...) plus 1 GiB: room
        // for the conversion's own needs, not for the 3 GB member.
        unsigned long pages = 0;
        if (FILE* f = std::fopen("/proc/self/statm", "r")) {
            if (std::fscanf(f, "%lu", &pages) != 1) pages = 0;
            std::fclose(f);
        }
        const rlim_t limit = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE)) + (rlim_t(1) << 30);
        rlimit cap{limit, limit};
        return pages && ::setrlimit(RLIMIT_AS, &cap) == 0 ? "" : "cannot set RLIMIT_AS";
    });
    CHECK_MESSAGE(contains(what, "imgpack: out of memory while converting to"), what);
    check_no_temporary_file(s.dir.path());
}
#else
TEST_CASE("hostile: out of memory is an error that says so, never a bare std::bad_alloc") {
    IMGPACK_SKIP("an address-space cap cannot be set under AddressSanitizer (its shadow memory); the Release build runs it");
}
#endif

// --- item 9: threads -------------------------------------------------------------------------

TEST_CASE("hostile: a thread that cannot start is an error, and the temporary file is removed") {
    // A child process limited to `tasks` tasks. RLIMIT_NPROC counts every task of the user, and
    // root is exempt from it: root's child becomes a user id of its own, which nothing else on the
    // machine runs (not even this test in another build), so the count is the child's alone.
    if (::geteuid() != 0) IMGPACK_SKIP("needs root, to run the child as a user that runs nothing else");
    const uid_t loner = uid_t(3000000 + ::getpid() % 1000000);
    Scratch s;
    ::chmod(s.dir.path().c_str(), 0777);
    const path val = s.put("val.tar", val_tar(1, 4));
    auto attempt = [&](rlim_t tasks, unsigned jobs) {
        imgpack::ConvertOptions o;
        o.val = val;
        o.output = s.out();
        o.jobs = jobs;
        return convert_in_child(o, [&]() -> std::string {
            if (::setgid(loner) != 0 || ::setuid(loner) != 0) return "cannot change user";
            rlimit limit{tasks, tasks};
            return ::setrlimit(RLIMIT_NPROC, &limit) == 0 ? "" : "cannot set RLIMIT_NPROC";
        });
    };
    // Not even the writer's thread can start.
    std::string first = attempt(1, 4);
    CHECK_MESSAGE(contains(first, "imgpack: cannot start a thread: "), first);
    check_no_temporary_file(s.dir.path());
    // The process and the writer's thread may run, and one worker: the second cannot start.
    std::string what = attempt(3, 4);
    CHECK_MESSAGE(contains(what, "imgpack: cannot start thread 2 of 5 (4 workers"), what);
    CHECK(contains(what, "-j"));
    check_no_temporary_file(s.dir.path());
    CHECK_FALSE(test::fs::exists(s.out()));
    // With room for every thread, the same conversion succeeds: the limit was the cause.
    CHECK(attempt(16, 4) == "converted");
}

TEST_CASE("hostile: -j is clamped to 4 per core and 256, with a note") {
    Scratch s;
    imgpack::ConvertOptions o;
    o.val = s.put("val.tar", val_tar(1, 2));
    o.output = s.out();
    o.jobs = UINT_MAX;  // -j 4294967295 used to end in std::bad_alloc
    imgpack::ConvertSummary sum = imgpack::convert(o);
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    CHECK(sum.jobs == std::min(imgpack::kMaxJobs, 4 * cores));
    REQUIRE_FALSE(sum.notes.empty());
    CHECK(contains(sum.notes[0], "-j 4294967295 is more than"));
    o.jobs = 3;
    o.overwrite = true;
    CHECK(imgpack::convert(o).jobs == std::min(3u, std::min(imgpack::kMaxJobs, 4 * cores)));
    test::RunResult r = test::cli("convert -j 4294967295 -f --val " + test::quote((s.dir / "val.tar").string()) + " -o " +
                                  test::quote(s.out().string()));
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK_FALSE(contains(r.err, "bad_alloc"));
    // The same class: item 9's -j 100000, through the CLI, says what it uses instead.
    r = test::cli("convert -j 100000 -f --val " + test::quote((s.dir / "val.tar").string()) + " -o " +
                  test::quote(s.out().string()));
    CHECK_MESSAGE(r.status == 0, r.err);
    CHECK_MESSAGE(contains(r.err, "-j 100000 is more than"), r.err);
    CHECK_FALSE(contains(r.err, "terminate"));
    check_no_temporary_file(s.dir.path());
}

// --- item 8: whole-image decodes share one budget, whatever -j is -----------------------------

TEST_CASE("hostile: the decode budget never lets leases hold more than it, and an oversized one runs alone") {
    // Repairs and --decode's checks take a lease of what their decode holds; with 8 workers the
    // bytes held at once must stay within the budget (the issue: 0.5 GB at -j 1, 4 GB at -j 8).
    imgpack::MemoryBudget budget(100);
    std::mutex m;
    uint64_t held = 0, most = 0;
    int alone_ok = 0;
    auto work = [&](uint64_t bytes, int times) {
        for (int i = 0; i < times; ++i) {
            imgpack::MemoryBudget::Lease lease(budget, bytes);
            {
                std::lock_guard lock(m);
                held += std::min<uint64_t>(bytes, budget.total());
                most = std::max(most, held);
                if (bytes > budget.total() && held == budget.total()) ++alone_ok;
            }
            std::this_thread::yield();
            std::lock_guard lock(m);
            held -= std::min<uint64_t>(bytes, budget.total());
        }
    };
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) workers.emplace_back(work, w == 7 ? 1000 : 30 + 5 * w, 200);
    for (std::thread& t : workers) t.join();
    CHECK(most <= 100);
    {
        // Leases that fit are held side by side (one thread holding both would wait forever if not).
        imgpack::MemoryBudget::Lease a(budget, 40), b(budget, 60);
    }
    CHECK(alone_ok == 200);  // the 1000-byte lease (over the whole budget) always held it alone
    CHECK(held == 0);
}

// --- item 12: skipped validation files and their labels --------------------------------------

TEST_CASE("hostile: --on-bad-image=skip on validation drops the skipped file's label with it") {
    Scratch s;
    // Five validation files, each its own class, so a shifted label shows.
    std::string tfds, kaggle = "ImageId,PredictionString\n";
    for (int i = 1; i <= 5; ++i) {
        tfds += wnid(i) + "\n";
        kaggle += "ILSVRC2012_val_0000000" + std::to_string(i) + "," + wnid(i) + " 1 2 3 4\n";
    }
    auto check = [&](const imgpack::ConvertOptions& o, std::vector<int> kept) {
        imgpack::ConvertSummary sum = imgpack::convert(o);
        CHECK(sum.skipped.size() == 5 - kept.size());
        imgpack::Pack pack = imgpack::Pack::open(o.output.string());
        const imgpack::Split& val = pack.split("validation");
        REQUIRE(val.size() == kept.size());
        for (size_t i = 0; i < kept.size(); ++i) {
            CHECK(val[i].name == val_name(kept[i]));
            CHECK(val[i].wnid == wnid(kept[i]));
        }
    };
    imgpack::ConvertOptions o;
    o.on_bad_image = OnBad::skip;
    // The case: a file in the middle is not an image; TFDS's list (by position).
    o.val = s.put("val.tar", val_tar(1, 5, {{3, text("not an image")}}));
    o.val_labels = s.put_text("labels.txt", tfds);
    o.output = s.out("a.imgpack");
    check(o, {1, 2, 4, 5});
    // The same with Kaggle's CSV (by name).
    o.val_labels = s.put_text("LOC_val_solution.csv", kaggle);
    o.output = s.out("b.imgpack");
    check(o, {1, 2, 4, 5});
    // The same class: other kinds of bad entry in a folder (a symbolic link, a file over the
    // limit), first and last.
    const path folder = s.dir / "val";
    test::fs::create_directories(folder);
    for (int i = 2; i <= 4; ++i) test::write_file(folder / val_name(i), tiny_jpeg(uint8_t(i)));
    test::fs::create_symlink(folder / val_name(2), folder / val_name(1));
    test::write_file(folder / val_name(5), Bytes(100000, 0xFF));
    o.val = folder;
    o.max_image_bytes = 50000;
    o.val_labels = s.dir / "labels.txt";
    o.output = s.out("c.imgpack");
    check(o, {2, 3, 4});
}

// --- item 14: messages, hard links, a folder of class tars -----------------------------------

TEST_CASE("hostile: a hard link member is packed as the member it names, as its extraction would be") {
    Scratch s;
    // GNU tar stores the second name of a hard-linked file as a link to the first.
    const path src = s.dir / "src";
    test::fs::create_directories(src);
    test::write_file(src / val_name(1), tiny_jpeg(1));
    test::fs::create_hard_link(src / val_name(1), src / val_name(2));
    test::write_file(src / val_name(3), tiny_jpeg(3));
    const path tar = s.gnu_tar("val.tar", "", src, val_name(1) + " " + val_name(2) + " " + val_name(3));
    REQUIRE(contains(test::run("tar -tvf " + test::quote(tar.string())).out, "link to " + val_name(1)));
    imgpack::ConvertOptions o;
    o.val = tar;
    o.output = s.out("tar.imgpack");
    imgpack::convert(o);
    o.val = src;  // the folder: the link is a file like any other
    o.output = s.out("dir.imgpack");
    imgpack::convert(o);
    imgpack::Pack from_tar = imgpack::Pack::open(s.out("tar.imgpack").string());
    imgpack::Pack from_dir = imgpack::Pack::open(s.out("dir.imgpack").string());
    const imgpack::Split &a = from_tar.split("validation"), &b = from_dir.split("validation");
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
        CHECK(a[i].name == b[i].name);
        CHECK(a[i].xxh3 == b[i].xxh3);
        CHECK(bytes_of(a[i].data) == bytes_of(b[i].data));
        CHECK(a[i].verify());
    }
    CHECK(a[1].data.data() == a[0].data.data());  // one copy of the bytes, two records

    // The same class, where the link cannot be resolved: its target was skipped, or is no earlier
    // member. Each is a bad entry naming the target.
    o.val = s.put("links.tar", test::tar_of({{val_name(1), text("not an image"), test::TarEntry::file, ""},
                                             {val_name(2), {}, test::TarEntry::hard_link, val_name(1)},
                                             {val_name(3), {}, test::TarEntry::hard_link, val_name(9)},
                                             {val_name(4), tiny_jpeg(4), test::TarEntry::file, ""}}));
    o.output = s.out("links.imgpack");
    expect_failure(o, {"links.tar: " + val_name(1), "not a JPEG"});
    o.on_bad_image = OnBad::skip;
    imgpack::ConvertSummary sum = imgpack::convert(o);
    REQUIRE(sum.skipped.size() == 3);
    CHECK(contains(sum.skipped[1], val_name(2) + ": a hard link to '" + val_name(1) + "', which is not an image packed"));
    CHECK(contains(sum.skipped[2], val_name(3) + ": a hard link to '" + val_name(9) + "'"));
    CHECK(imgpack::Pack::open(o.output.string()).split("validation").size() == 1);
}

TEST_CASE("hostile: a cut-short image is called truncated, and special files are named for what they are") {
    Scratch s;
    imgpack::ConvertOptions o;
    o.output = s.out();
    struct Case {
        Bytes bytes;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {{0xFF, 0xD8}, "truncated JPEG: 2 bytes, the SOI marker and nothing after it"},  // the issue's
        {{0xFF, 0xD8, 0xFF}, "truncated JPEG: 3 bytes"},
        {{0x89, 'P', 'N', 'G', '\r'}, "truncated PNG: 5 bytes, part of the PNG signature"},
        {{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H'}, "truncated PNG: 14 bytes, too short for its IHDR"},
        {{0xFF, 0xD8, 0x00, 0x00}, "a damaged JPEG: its SOI marker is not followed by another marker"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.expect);
        o.val = s.put("v.tar", test::tar_bytes({{val_name(1), c.bytes}}));
        std::string err = test::convert_error(o);
        CHECK_MESSAGE(contains(err, c.expect), err);
        CHECK_FALSE(contains(err, "no JPEG SOI marker"));
    }
    // A FIFO in a folder: said so, not "a special file (device, FIFO or socket)".
    const path folder = s.dir / "val";
    test::fs::create_directories(folder);
    REQUIRE(::mkfifo((folder / val_name(1)).c_str(), 0644) == 0);
    o.val = folder;
    std::string err = test::convert_error(o);
    CHECK_MESSAGE(contains(err, val_name(1) + ": a FIFO, not an image file"), err);

    // The same class in a tar (GNU tar's own members): a FIFO and a character device (/dev/null
    // stored under an image's name), each named for what it is.
    const path src = s.dir / "src";
    test::fs::create_directories(src);
    REQUIRE(::mkfifo((src / val_name(1)).c_str(), 0644) == 0);
    test::write_file(src / val_name(3), tiny_jpeg(3));
    const path tar = s.gnu_tar("special.tar", "", src, val_name(1));
    REQUIRE(test::run("tar -rf " + test::quote(tar.string()) + " -C /dev null --transform 's/null/" + val_name(2) + "/'").status == 0);
    REQUIRE(test::run("tar -rf " + test::quote(tar.string()) + " -C " + test::quote(src.string()) + " " + val_name(3)).status == 0);
    o.val = tar;
    o.on_bad_image = OnBad::skip;
    imgpack::ConvertSummary sum = imgpack::convert(o);
    REQUIRE(sum.skipped.size() == 2);
    CHECK_MESSAGE(contains(sum.skipped[0], val_name(1) + ": a FIFO, not an image file"), sum.skipped[0]);
    CHECK_MESSAGE(contains(sum.skipped[1], val_name(2) + ": a character device, not an image file"), sum.skipped[1]);
    CHECK(imgpack::Pack::open(o.output.string()).split("validation").size() == 1);
}

TEST_CASE("hostile: a folder of <WNID>.tar files (a half-extracted train archive) is read as the train archive") {
    const auto& d = test::synth_imagenet();
    test::TempDir dir;
    const path outer = dir / "train";
    test::fs::create_directories(outer);
    REQUIRE(test::run("tar -xf " + test::quote(d.s.train_tar.string()) + " -C " + test::quote(outer.string())).status == 0);
    imgpack::ConvertOptions o;
    o.train = outer;
    o.output = dir / "p.imgpack";
    imgpack::convert(o);
    imgpack::ConvertOptions t;
    t.train = d.s.train_tar;
    t.output = dir / "t.imgpack";
    imgpack::convert(t);
    imgpack::Pack a = imgpack::Pack::open(o.output.string()), b = imgpack::Pack::open(t.output.string());
    REQUIRE(a.class_count() == b.class_count());
    const imgpack::Split &x = a.split("train"), &y = b.split("train");
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) {
        CHECK(x[i].name == y[i].name);
        CHECK(x[i].label == y[i].label);
        CHECK(x[i].xxh3 == y[i].xxh3);
    }
}

TEST_CASE("hostile: a folder mixing <WNID>.tar files and <WNID>/ folders keeps every class, and a stray file says how") {
    Scratch s;
    const path train = s.dir / "train";
    test::fs::create_directories(train / wnid(2));
    test::write_file(train / (wnid(1) + ".tar"), test::tar_bytes({{wnid(1) + "_1.JPEG", tiny_jpeg(1)}}));
    for (int i = 1; i <= 2; ++i) test::write_file(train / wnid(2) / (wnid(2) + "_" + std::to_string(i) + ".JPEG"), tiny_jpeg(uint8_t(i)));
    test::write_file(train / (wnid(3) + ".tar"), test::tar_bytes({}));  // an empty class tar
    test::write_file(train / (wnid(4) + ".tar"), test::tar_bytes({{wnid(4) + "_1.JPEG", tiny_jpeg(4)}}));
    imgpack::ConvertOptions o;
    o.train = train;
    o.output = s.out();
    imgpack::convert(o);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.class_count() == 4);
    const imgpack::Split& t = pack.split("train");
    REQUIRE(t.size() == 4);
    CHECK(t[0].label == 0);
    CHECK(t[1].label == 1);
    CHECK(t[2].label == 1);
    CHECK(t[3].label == 3);  // n00000004's, with the empty n00000003 keeping label 2
    CHECK(t[3].wnid == wnid(4));
    // A file beside the class tars that is neither: named, with what a train folder must hold.
    test::write_file(train / "README.txt", text("notes"));
    o.output = s.out("b.imgpack");
    expect_failure(o, {"README.txt", "per-class <WNID>.tar or <WNID>/ folder"});
}

TEST_CASE("hostile: a legal output name of 253 or 255 bytes is written (its temporary name stays short)") {
    Scratch s;
    imgpack::ConvertOptions o;
    o.val = s.put("val.tar", val_tar(1, 2));
    for (size_t length : {size_t(253), size_t(255)}) {
        CAPTURE(length);
        // The case (253 ASCII bytes), and NAME_MAX itself with a multi-byte character
        // (the temporary name, `imgpack-XXXXXX.tmp`, owes nothing to the destination's).
        const std::string name = length == 253 ? std::string(245, 'p') + ".imgpack"
                                               : std::string(243, 'q') + "\xC3\xA9" + "rr.imgpack";
        REQUIRE(name.size() == length);
        o.output = s.dir / name;
        imgpack::ConvertSummary sum = imgpack::convert(o);
        CHECK(sum.splits.at(0).records == 2);
        CHECK(imgpack::Pack::open(o.output.string()).split("validation").size() == 2);
        check_no_temporary_file(s.dir.path());
    }
}

// --- item 13: process substitution for every source and list ---------------------------------

TEST_CASE("hostile: every source and list can come through a pipe (process substitution)") {
    Scratch s;
    test::Files test_files;
    for (int i = 1; i <= 3; ++i) test_files.emplace_back(test_name(i), tiny_jpeg(uint8_t(i)));
    const path test_tar = s.put("test.tar", test::tar_bytes(test_files));
    const path patch = s.put("patch.tar", test::tar_bytes({{test_name(2), tiny_jpeg(77)}}));
    const path train = s.put("train.tar", train_tar({{wnid(1), 2}, {wnid(2), 2}}));
    const path val = s.put("val.tar", val_tar(1, 2));
    const path labels = s.put_text("labels.csv", "ImageId,PredictionString\nILSVRC2012_val_00000001," + wnid(2) +
                                                     " 1\nILSVRC2012_val_00000002," + wnid(1) + " 1\n");
    auto q = [](const path& p) { return test::quote(p.string()); };
    auto piped = [&](const path& p) { return "<(cat " + q(p) + ")"; };
    const path out = s.out();
    const std::string cmd = std::string(IMGPACK_CLI) + " convert -q --train " + piped(train) + " --val " + piped(val) +
                            " --val-labels " + piped(labels) + " --test " + piped(test_tar) + " --test-patch " +
                            piped(patch) + " -o " + q(out);
    test::RunResult r = test::run("/bin/bash -c " + test::quote(cmd));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    imgpack::Pack pack = imgpack::Pack::open(out.string());
    CHECK(pack.split("train").size() == 4);
    REQUIRE(pack.split("validation").size() == 2);
    CHECK(pack.split("validation")[0].wnid == wnid(2));
    REQUIRE(pack.split("test").size() == 3);
    CHECK(bytes_of(pack.split("test")[1].data) == tiny_jpeg(77));
}
