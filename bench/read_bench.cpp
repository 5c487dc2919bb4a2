// imgpack_bench_read: random record reads from one pack vs. the same JPEGs as loose files in an
// extracted train/<WNID>/<name>.JPEG tree, read the way an ImageFolder loader reads them
// (open + fstat + read + close). The page cache is warm for both, so what is measured is the
// per-image overhead, not the disk. Also: Pack::open time and Split::find time.
//
//   imgpack_bench_read [--classes N] [--per-class M] [--min-side A] [--max-side B]
//                      [--rounds R] [--seed S] [--keep DIR]
#include "bench_args.hpp"
#include "measure.hpp"

#include <imgpack/reader.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef IMGPACK_CLI
#error "IMGPACK_CLI (the imgpack CLI's path) must be defined by the build"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
    unsigned classes = 100, per_class = 200;  // 20,000 images, ~120 MiB
    unsigned min_side = 64, max_side = 256;
    unsigned rounds = 5;
    unsigned seed = 1;
    std::string keep;  // build the data here once and reuse it; empty: a temporary directory
};

// ---- command line ------------------------------------------------------------------------------

constexpr const char* kUsage =
    "usage: imgpack_bench_read [--classes N] [--per-class M] [--min-side A] [--max-side B]\n"
    "                          [--rounds R] [--seed S] [--keep DIR]\n"
    "  --keep DIR  make the data in DIR and leave it there; a later run with the same\n"
    "              data flags reuses it (default: a temporary directory, removed at exit)\n";

using imgpack::bench::parse_unsigned;

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "-h" || flag == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) throw std::invalid_argument("unknown flag or missing value: " + flag);
        const char* value = argv[++i];
        if (flag == "--keep") o.keep = value;
        else if (flag == "--classes") o.classes = parse_unsigned(flag, value);
        else if (flag == "--per-class") o.per_class = parse_unsigned(flag, value);
        else if (flag == "--min-side") o.min_side = parse_unsigned(flag, value);
        else if (flag == "--max-side") o.max_side = parse_unsigned(flag, value);
        else if (flag == "--rounds") o.rounds = parse_unsigned(flag, value);
        else if (flag == "--seed") o.seed = parse_unsigned(flag, value);
        else throw std::invalid_argument("unknown flag: " + flag);
    }
    if (o.min_side > o.max_side) throw std::invalid_argument("--min-side is above --max-side");
    return o;
}

// ---- the machine -------------------------------------------------------------------------------

std::string proc_field(const char* file, const char* key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key, 0) == 0) {
            size_t colon = line.find(':');
            size_t start = line.find_first_not_of(" \t", colon + 1);
            return start == std::string::npos ? "" : line.substr(start);
        }
    return "unknown";
}

// Opening a file costs differently per file system (overlayfs adds a layer), so name it.
std::string fs_type(const fs::path& dir) {
    struct statfs s {};
    if (::statfs(dir.c_str(), &s) != 0) return "unknown";
    switch (static_cast<unsigned long>(s.f_type)) {
        case 0xEF53: return "ext4";
        case 0x58465342: return "xfs";
        case 0x9123683E: return "btrfs";
        case 0x01021994: return "tmpfs";
        case 0x794C7630: return "overlayfs";
        default: {
            char hex[32];
            std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(s.f_type));
            return hex;
        }
    }
}

void print_machine(const fs::path& dir) {
    struct utsname u {};
    ::uname(&u);
    std::printf("machine: %ld CPUs (nproc), %s, memory %s, Linux %s\n", ::sysconf(_SC_NPROCESSORS_ONLN),
                proc_field("/proc/cpuinfo", "model name").c_str(), proc_field("/proc/meminfo", "MemTotal").c_str(),
                u.release);
    std::printf("data:    %s (%s)\n", dir.c_str(), fs_type(dir).c_str());
}

// ---- the data: a synthetic ImageNet, as one pack and as an extracted tree ------------------------

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

void shell(const std::string& command) {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("command failed: " + command);
}

// ImageNet's train tar holds one tar per class; users extract each into train/<WNID>/.
void extract_tree(const fs::path& train_tar, const fs::path& tree) {
    fs::path class_tars = tree.parent_path() / "class_tars";
    fs::create_directories(class_tars);
    shell("tar -xf " + quote(train_tar) + " -C " + quote(class_tars));
    for (const fs::directory_entry& e : fs::directory_iterator(class_tars)) {
        fs::path class_dir = tree / e.path().stem();
        fs::create_directories(class_dir);
        shell("tar -xf " + quote(e.path()) + " -C " + quote(class_dir));
    }
    fs::remove_all(class_tars);
}

std::string data_stamp(const Options& o) {
    return "imgpack_bench_read data: classes=" + std::to_string(o.classes) + " per-class=" +
           std::to_string(o.per_class) + " sides=" + std::to_string(o.min_side) + ".." +
           std::to_string(o.max_side) + " seed=" + std::to_string(o.seed) + " no-repair\n";
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Makes dir/train.imgpack and dir/train/ unless a previous run left the same data there.
void ensure_data(const Options& o, const fs::path& dir) {
    const fs::path stamp = dir / "bench-data.txt", pack = dir / "train.imgpack", tree = dir / "train";
    if (fs::exists(stamp) && read_text(stamp) == data_stamp(o)) {
        std::printf("reusing the data in %s\n", dir.c_str());
        return;
    }
    // Never delete a train/ this benchmark did not make (--keep could name a real ImageNet).
    if (fs::exists(tree) && !fs::exists(stamp))
        throw std::runtime_error(tree.string() + " exists and was not made by this benchmark; pick another --keep");
    for (const fs::path& p : {stamp, pack, tree, dir / "synth"}) fs::remove_all(p);

    auto start = Clock::now();
    const fs::path synth = dir / "synth", train_tar = synth / "ILSVRC2012_img_train.tar";
    std::printf("making %u x %u synthetic images in %s ...\n", o.classes, o.per_class, dir.c_str());
    shell(quote(IMGPACK_CLI) + " synth " + quote(synth) + " --classes " + std::to_string(o.classes) +
          " --per-class " + std::to_string(o.per_class) + " --val 0 --test 0 --seed " + std::to_string(o.seed) +
          " --min-side " + std::to_string(o.min_side) + " --max-side " + std::to_string(o.max_side) + " >/dev/null");
    // --no-repair: synth's CMYK and PNG quirk images stay as they are, so that every record holds
    // exactly the bytes of its file in the extracted tree (the warm-up checks this).
    shell(quote(IMGPACK_CLI) + " convert --train " + quote(train_tar) + " -o " + quote(pack) + " -q --no-repair");
    extract_tree(train_tar, tree);
    fs::remove_all(synth);
    std::ofstream(stamp) << data_stamp(o);
    std::printf("data ready in %.1f s\n", std::chrono::duration<double>(Clock::now() - start).count());
}

// A fresh directory under $TMPDIR, removed when the benchmark ends (normally or by exception).
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "imgpack_bench_read.XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// ---- the two ways to read one image ------------------------------------------------------------

// Tells the compiler the buffer's bytes are used, so no copy into it can be optimized away.
inline void use(const unsigned char* p) { asm volatile("" : : "r"(p) : "memory"); }

// The ImageFolder way: open, fstat for the size, read it all into a buffer, close.
size_t read_file(const std::string& path, std::vector<unsigned char>& buf) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot stat " + path);
    }
    size_t size = static_cast<size_t>(st.st_size), got = 0;
    if (buf.size() < size) buf.resize(size);
    while (got < size) {
        ssize_t n = ::read(fd, buf.data() + got, size - got);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot read " + path);
        }
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    use(buf.data());
    return size;
}

// The pack way, doing the same work: the record's bytes end up in the same kind of buffer.
size_t read_record(const imgpack::Split& split, size_t i, std::vector<unsigned char>& buf) {
    imgpack::Record r = split[i];
    if (buf.size() < r.data.size()) buf.resize(r.data.size());
    std::memcpy(buf.data(), r.data.data(), r.data.size());
    use(buf.data());
    return r.data.size();
}

// ---- measuring ---------------------------------------------------------------------------------

using imgpack::bench::seconds_of;
using imgpack::bench::Spread;
using imgpack::bench::spread;

// Everything both readers need: the pack, and each record's file in the tree, by record index.
// `huge` is a byte-identical copy of the pack, opened with OpenOptions::huge_pages.
struct Dataset {
    std::string pack_path, huge_path;
    std::optional<imgpack::Pack> pack, huge;  // set by load(): a Pack is never empty
    std::optional<imgpack::Split> train, huge_train;
    std::vector<std::string> files;
    uint64_t bytes = 0;
    size_t largest = 0;
};

// Flushes a file and drops it from the page cache, so that the next reader fills the cache the
// way its own reads do (the converter writes blobs past the page cache, so a new pack starts so).
void drop_from_page_cache(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    const bool ok = ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("cannot drop " + path + " from the page cache");
}

Dataset load(const fs::path& dir) {
    Dataset d;
    d.pack_path = (dir / "train.imgpack").string();
    d.huge_path = (dir / "train-hugepages.imgpack").string();
    fs::copy_file(d.pack_path, d.huge_path, fs::copy_options::overwrite_existing);
    drop_from_page_cache(d.pack_path);
    drop_from_page_cache(d.huge_path);
    d.pack = imgpack::Pack::open(d.pack_path);
    d.train = d.pack->split("train");
    d.huge = imgpack::Pack::open(d.huge_path, {.huge_pages = true});
    d.huge_train = d.huge->split("train");
    d.files.reserve(d.train->size());
    for (imgpack::Record r : *d.train) {
        d.files.push_back((dir / "train" / r.wnid / r.name).string());
        d.bytes += r.data.size();
        d.largest = std::max(d.largest, r.data.size());
    }
    return d;
}

// The untimed warm-up: reads every byte both ways, which also proves both hold the same bytes.
void warm_up(const Dataset& d) {
    std::vector<unsigned char> buf(d.largest);
    for (size_t i = 0; i < d.train->size(); ++i) {
        imgpack::Record r = (*d.train)[i];
        size_t n = read_file(d.files[i], buf);
        if (!r.verify() || n != r.data.size() || XXH3_64bits(buf.data(), n) != r.xxh3 || !(*d.huge_train)[i].verify())
            throw std::runtime_error(d.files[i] + " differs from its record in the pack");
    }
}

struct Method {
    const char* name;
    std::function<void()> prepare;                            // untimed, before each pass
    std::function<uint64_t(std::span<const uint32_t>)> pass;  // reads every index; returns bytes
    std::vector<double> seconds;
};

// Rounds of A B C, A B C ...: every method reads the same fresh random permutation within a round.
void run_rounds(const Dataset& d, std::vector<Method>& methods, unsigned rounds, unsigned seed) {
    std::vector<uint32_t> order(d.train->size());
    std::iota(order.begin(), order.end(), 0u);
    std::mt19937_64 rng(seed);
    for (unsigned round = 0; round < rounds; ++round) {
        std::shuffle(order.begin(), order.end(), rng);
        for (Method& m : methods) {
            m.prepare();
            uint64_t bytes = 0;
            m.seconds.push_back(seconds_of([&] { bytes = m.pass(order); }));
            if (bytes != d.bytes) throw std::runtime_error(std::string(m.name) + " read the wrong number of bytes");
        }
    }
}

void print_method(const Method& m, const Dataset& d) {
    Spread s = spread(m.seconds);
    double n = double(d.train->size());
    char range[64];
    std::snprintf(range, sizeof range, "[%.1f..%.1f]", s.min * 1e3, s.max * 1e3);
    std::printf("  %-24s %7.1f ms/pass %-14s %6.2f us/img  %6.3f Mimg/s  %5.2f GB/s\n", m.name, s.median * 1e3,
                range, s.median / n * 1e6, n / s.median / 1e6, double(d.bytes) / s.median / 1e9);
}

// Per-round ratio: the rounds alternate, so each ratio compares passes run next to each other.
Spread ratio(const Method& slow, const Method& fast) {
    std::vector<double> r;
    for (size_t i = 0; i < fast.seconds.size(); ++i) r.push_back(slow.seconds[i] / fast.seconds[i]);
    return spread(r);
}

uint64_t pack_pass(const imgpack::Split& split, std::span<const uint32_t> order, std::vector<unsigned char>& buf) {
    uint64_t bytes = 0;
    for (uint32_t i : order) bytes += read_record(split, i, buf);
    return bytes;
}

uint64_t files_pass(const Dataset& d, std::span<const uint32_t> order, std::vector<unsigned char>& buf) {
    uint64_t bytes = 0;
    for (uint32_t i : order) bytes += read_file(d.files[i], buf);
    return bytes;
}

// Returns the headline line. Method 0 is imgpack, 1 the files, 2 imgpack through a new mapping,
// 3 and 4 the same two with the copy opened with huge_pages.
std::string bench_reads(const Dataset& d, unsigned rounds, unsigned seed) {
    std::vector<unsigned char> buf(d.largest);  // sized once: no allocation inside the timed loops
    std::optional<imgpack::Pack> fresh, fresh_huge;
    auto nothing = [] {};
    std::vector<Method> m;
    m.push_back({"imgpack", nothing, [&](auto order) { return pack_pass(*d.train, order, buf); }, {}});
    m.push_back({"files (open+read+close)", nothing, [&](auto order) { return files_pass(d, order, buf); }, {}});
    // A new mapping has no page-table entries yet, so its pass pays a minor fault per page, as a
    // newly started loader process would. Only the open is left out of the timing.
    m.push_back({"imgpack, fresh mapping", [&] { fresh.reset(); fresh = imgpack::Pack::open(d.pack_path); },
                 [&](auto order) { return pack_pass(fresh->split("train"), order, buf); }, {}});
    // The copy whose page cache its first reader filled through a huge_pages mapping.
    m.push_back({"imgpack, huge pages", nothing, [&](auto order) { return pack_pass(*d.huge_train, order, buf); }, {}});
    m.push_back({"  and fresh mapping",
                 [&] {
                     fresh_huge.reset();
                     fresh_huge = imgpack::Pack::open(d.huge_path, {.huge_pages = true});
                 },
                 [&](auto order) { return pack_pass(fresh_huge->split("train"), order, buf); }, {}});
    run_rounds(d, m, rounds, seed);

    std::printf("\nrandom read, warm page cache, %zu images, %u rounds alternating, median [min..max]:\n",
                d.train->size(), rounds);
    for (const Method& x : m) print_method(x, d);
    Spread r = ratio(m[1], m[0]), rf = ratio(m[1], m[2]), rh = ratio(m[1], m[3]), rhf = ratio(m[1], m[4]);
    std::printf("  ratio files/imgpack                = %5.1fx [%.1fx..%.1fx]\n", r.median, r.min, r.max);
    std::printf("  ratio files/imgpack, fresh mapping = %5.1fx [%.1fx..%.1fx]\n", rf.median, rf.min, rf.max);
    std::printf("  ratio files/imgpack, huge pages    = %5.1fx [%.1fx..%.1fx]; fresh mapping %.1fx [%.1fx..%.1fx]\n",
                rh.median, rh.min, rh.max, rhf.median, rhf.min, rhf.max);
    Spread g = ratio(m[0], m[3]), gf = ratio(m[2], m[4]);
    std::printf("  ratio imgpack/imgpack huge pages   = %5.2fx [%.2fx..%.2fx]; fresh mapping %.2fx [%.2fx..%.2fx]\n",
                g.median, g.min, g.max, gf.median, gf.min, gf.max);

    double n = double(d.train->size());
    char line[256];
    std::snprintf(line, sizeof line,
                  "random read, warm cache: imgpack %.2f Mimg/s, files %.2f Mimg/s, ratio files/imgpack = %.1fx "
                  "(median of %u, %.1fx..%.1fx)",
                  n / spread(m[0].seconds).median / 1e6, n / spread(m[1].seconds).median / 1e6, r.median, rounds,
                  r.min, r.max);
    return line;
}

// Pack::open maps the file and validates every record, so its cost grows with the record count.
void bench_open(const Dataset& d) {
    std::vector<double> t;
    for (int i = 0; i < 15; ++i) {
        std::optional<imgpack::Pack> p;
        t.push_back(seconds_of([&] { p = imgpack::Pack::open(d.pack_path); }));
    }
    Spread s = spread(t);
    std::printf("\nPack::open (map + validate %zu records): %.3f ms median of 15 [%.3f..%.3f]\n", d.train->size(),
                s.median * 1e3, s.min * 1e3, s.max * 1e3);
}

// Split::find is a binary search over names sorted in the file; names are looked up in random order.
void bench_find(const Dataset& d, unsigned seed) {
    std::vector<std::pair<std::string, size_t>> queries;
    for (size_t i = 0; i < d.train->size(); ++i) queries.emplace_back(std::string(d.train->name_at(i)), i);
    std::shuffle(queries.begin(), queries.end(), std::mt19937_64(seed));
    std::vector<double> t;
    for (int round = 0; round < 5; ++round) {
        size_t misses = 0;
        t.push_back(seconds_of([&] {
            for (const auto& [name, index] : queries) misses += d.train->find(name) != index;
        }));
        if (misses) throw std::runtime_error("Split::find returned a wrong index");
    }
    Spread s = spread(t);
    double n = double(queries.size());
    std::printf("Split::find (%zu names, random order): %.0f ns/call median of 5 [%.0f..%.0f]\n", queries.size(),
                s.median / n * 1e9, s.min / n * 1e9, s.max / n * 1e9);
}

void print_data(const Dataset& d) {
    std::printf("images:  %zu in %zu classes, %.1f MiB of JPEG (mean %.1f KiB, largest %.1f KiB)\n",
                d.train->size(), d.pack->class_count(), double(d.bytes) / (1 << 20),
                double(d.bytes) / double(d.train->size()) / 1024, double(d.largest) / 1024);
    std::printf("pack:    %s, %.1f MiB\n", d.pack_path.c_str(), double(d.pack->file_size()) / (1 << 20));
}

int run(const Options& o) {
    std::optional<TempDir> temp;
    if (o.keep.empty()) temp.emplace();
    fs::path dir = o.keep.empty() ? temp->path() : fs::absolute(o.keep);
    fs::create_directories(dir);

    print_machine(dir);
    ensure_data(o, dir);
    Dataset d = load(dir);
    print_data(d);
    auto start = Clock::now();
    warm_up(d);
    std::printf("warm-up: read every file and every record once, untimed (%.1f s); they hold the same bytes\n",
                std::chrono::duration<double>(Clock::now() - start).count());

    std::string headline = bench_reads(d, o.rounds, o.seed);
    bench_open(d);
    bench_find(d, o.seed);
    std::printf("\n%s\n", headline.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep our lines in order with the tools it runs
    try {
        return run(parse_args(argc, argv));
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "imgpack_bench_read: %s\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "imgpack_bench_read: %s\n", e.what());
        return 1;
    }
}
