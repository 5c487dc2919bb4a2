// imgpack_bench_pack: reader-side timings on an existing pack, for the convert and scale
// benchmarks (bench/convert_bench.sh, bench/scale_bench.sh). Two modes:
//
//   imgpack_bench_pack index PACK [--opens N] [--lookups N] [--rounds R] [--seed S]
//       What a pack costs beyond its image bytes: the metadata (every section but the blobs, plus
//       the header and the directory) per record; Pack::open time (map + validate every record),
//       median of N opens; random record access `split[i]` and `Split::find(name)`, ns per call.
//
//   imgpack_bench_pack fresh-read PACK [PACK...] [--reads N] [--rounds R] [--seed S] [--tsv]
//       Random whole-record reads through a FRESH mapping, per file, alternating between the files
//       round by round. The files should hold the same records (copies of one pack made
//       different ways): what differs is how their pages got into the page cache (by the
//       converter's writes, by cp, by small writes), which decides the size of the page-cache
//       folios and so the cost of the page faults a new mapping takes. --tsv: one line per file,
//       "file fresh_us min max mapped_us fault_us resident_percent", no table.
//
//   imgpack_bench_pack folios FILE [FILE...]
//       How a file's page cache is made up: the share of its bytes in folios of each size (from
//       /proc/self/pagemap and /proc/kpageflags, so it needs root). Read-only; faults every page
//       of the file into a throwaway mapping, reading from disk what is not cached.
//
// Neither mode reads from disk on purpose: both expect the pack in the page cache and say how
// much of it is (mincore) before timing.
#include "bench_args.hpp"
#include "measure.hpp"

#include <imgpack/reader.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string mode;
    std::vector<std::string> packs;
    unsigned opens = 21;          // index: Pack::open repetitions
    unsigned lookups = 2'000'000; // index: random split[i] per round (find: a quarter of it)
    unsigned reads = 2'000;       // fresh-read: records read per pass
    unsigned rounds = 7;
    unsigned seed = 1;
    bool tsv = false;
};

constexpr const char* kUsage =
    "usage: imgpack_bench_pack index PACK [--opens N] [--lookups N] [--rounds R] [--seed S]\n"
    "       imgpack_bench_pack fresh-read PACK [PACK...] [--reads N] [--rounds R] [--seed S] [--tsv]\n"
    "       imgpack_bench_pack folios FILE [FILE...]\n";

using imgpack::bench::parse_unsigned;

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (a == "--tsv") {
            o.tsv = true;
            continue;
        }
        if (a.rfind("--", 0) != 0) {
            if (o.mode.empty()) o.mode = a;
            else o.packs.push_back(a);
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument("missing value for " + a);
        const char* v = argv[++i];
        if (a == "--opens") o.opens = parse_unsigned(a, v);
        else if (a == "--lookups") o.lookups = parse_unsigned(a, v);
        else if (a == "--reads") o.reads = parse_unsigned(a, v);
        else if (a == "--rounds") o.rounds = parse_unsigned(a, v);
        else if (a == "--seed") o.seed = parse_unsigned(a, v);
        else throw std::invalid_argument("unknown flag: " + a);
    }
    if (o.mode != "index" && o.mode != "fresh-read" && o.mode != "folios")
        throw std::invalid_argument("the mode is index, fresh-read or folios");
    if (o.packs.empty() || (o.mode == "index" && o.packs.size() != 1))
        throw std::invalid_argument(o.mode == "index" ? "index takes one PACK" : o.mode + " takes one or more files");
    return o;
}

// ---- measuring -----------------------------------------------------------------------------------

inline void use(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

using imgpack::bench::seconds_of;
using imgpack::bench::Spread;
using imgpack::bench::spread;

// Share of a file's pages in the page cache, from mincore on a throwaway mapping (no faults).
double resident_share(const std::string& path) {
    imgpack::Pack p = imgpack::Pack::open(path);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t pages = (p.file_size() + page - 1) / page;
    // The mapping's base, found through a record: its data pointer minus its file offset.
    std::optional<imgpack::Split> s;
    for (const imgpack::Split& x : p.splits())
        if (!x.empty()) s = x;
    if (!s) return 1.0;
    imgpack::Record r = (*s)[0];
    const unsigned char* base = r.data.data() - r.offset;
    std::vector<unsigned char> vec(pages);
    if (::mincore(const_cast<unsigned char*>(base), p.file_size(), vec.data()) != 0) return -1;
    size_t in = 0;
    for (unsigned char v : vec) in += v & 1;
    return double(in) / double(pages);
}

// ---- index: metadata size, open, lookups -----------------------------------------------------------

void print_metadata(const imgpack::Pack& pack) {
    uint64_t records = 0, blob_len = 0;
    for (const imgpack::Split& s : pack.splits()) records += s.size();
    std::map<std::string, uint64_t> by_kind;
    for (const imgpack::SectionInfo& s : pack.sections()) {
        if (s.kind == static_cast<uint32_t>(imgpack::format::SectionKind::blobs)) blob_len += s.length;
        else by_kind[imgpack::format::section_kind_name(s.kind)] += s.length;
    }
    const uint64_t meta = pack.file_size() - blob_len;
    std::printf("pack: %s, %.1f MiB, %llu records in %zu splits, %zu classes, %zu subsets\n", pack.path().c_str(),
                double(pack.file_size()) / (1 << 20), (unsigned long long)records, pack.splits().size(),
                pack.class_count(), pack.subsets().size());
    for (const imgpack::Split& s : pack.splits())
        std::printf("  split %-11s %9zu records, %8.1f MiB of images (mean %.0f B)\n", std::string(s.name()).c_str(),
                    s.size(), double(s.blob_bytes()) / (1 << 20), s.empty() ? 0.0 : double(s.blob_bytes()) / double(s.size()));
    for (const imgpack::Subset& s : pack.subsets())
        std::printf("  subset %-10s %9zu records of %s\n", std::string(s.name()).c_str(), s.size(),
                    std::string(s.split().name()).c_str());
    std::printf("metadata (file size - blob section) = %.2f MiB = %.1f bytes/record\n", double(meta) / (1 << 20),
                double(meta) / double(records));
    uint64_t sections = 0;
    for (const auto& [kind, len] : by_kind) {
        std::printf("  %-12s %10.2f MiB  %6.1f B/record\n", kind.c_str(), double(len) / (1 << 20),
                    double(len) / double(records));
        sections += len;
    }
    std::printf("  %-12s %10.2f MiB  (header, directory, padding, the gap before the blobs)\n", "other",
                double(meta - sections) / (1 << 20));
}

void bench_open(const std::string& path, unsigned opens) {
    uint64_t records = 0;
    std::vector<double> t;
    for (unsigned i = 0; i < opens; ++i) {
        std::optional<imgpack::Pack> p;
        t.push_back(seconds_of([&] { p = imgpack::Pack::open(path); }));
        records = 0;
        for (const imgpack::Split& s : p->splits()) records += s.size();
    }
    const double first = t.front();
    Spread s = spread(t);
    std::printf("Pack::open (map + validate %llu records): %.2f ms median of %u [%.2f..%.2f], first %.2f ms, "
                "%.1f ns/record\n",
                (unsigned long long)records, s.median * 1e3, opens, s.min * 1e3, s.max * 1e3, first * 1e3,
                s.median / double(records) * 1e9);

    // Open hashes every metadata section while it checks the records (the two share one pass over
    // memory), so its time does not split into the two. For scale: the checksums alone, timed on
    // a mapping already faulted in.
    imgpack::Pack p = imgpack::Pack::open(path);
    uint64_t bytes = 0;
    std::vector<double> h;
    for (unsigned i = 0; i < std::min(opens, 7u); ++i)
        h.push_back(seconds_of([&] {
            bytes = 0;
            for (size_t i = 0; i < p.sections().size(); ++i)
                if (p.sections()[i].kind != static_cast<uint32_t>(imgpack::format::SectionKind::blobs)) {
                    if (!p.verify_section(i)) throw std::runtime_error("a metadata section fails its checksum");
                    bytes += p.sections()[i].length;
                }
        }));
    Spread hs = spread(h);
    std::printf("  for scale: XXH3-64 of the %.1f MiB of metadata sections alone: %.2f ms (%.1f GB/s), warm mapping\n",
                double(bytes) / (1 << 20), hs.median * 1e3, double(bytes) / hs.median / 1e9);

    // And the page faults a new mapping takes when open first touches the metadata: a raw
    // mapping of the file, one byte read per page of every metadata section.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<double> f;
    for (unsigned i = 0; i < std::min(opens, 7u); ++i) {
        void* m = ::mmap(nullptr, p.file_size(), PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) throw std::runtime_error("cannot map " + path);
        const auto* base = static_cast<const volatile unsigned char*>(m);
        f.push_back(seconds_of([&] {
            unsigned sum = 0;
            for (const imgpack::SectionInfo& sec : p.sections())
                if (sec.kind != static_cast<uint32_t>(imgpack::format::SectionKind::blobs))
                    for (uint64_t at = sec.offset / page * page; at < sec.offset + sec.length; at += page)
                        sum += base[at];
            use(&sum);
        }));
        ::munmap(m, p.file_size());
    }
    ::close(fd);
    Spread fs = spread(f);
    std::printf("  and the first touch of those pages on a new mapping (page faults) alone: %.2f ms\n", fs.median * 1e3);
}

// split[i] for random i: decodes the 40-byte record and resolves its name and WNID. The fields are
// folded into a sum so nothing is optimized away; the image bytes are not touched. Two ways:
// independent lookups (a list of random indices: the CPU overlaps the cache misses, as a loader
// drawing a batch of indices does) and dependent ones (the next index is computed from the record
// just read, so every lookup waits for the one before: the latency of one lookup).
void bench_lookup(const imgpack::Split& split, unsigned lookups, unsigned rounds, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> idx(lookups);
    for (uint32_t& i : idx) i = static_cast<uint32_t>(rng() % split.size());
    std::vector<double> t, chained;
    uint64_t sink = 0;
    for (unsigned r = 0; r < rounds; ++r) {
        t.push_back(seconds_of([&] {
            for (uint32_t i : idx) {
                imgpack::Record rec = split[i];
                sink += rec.data.size() + rec.name.size() + rec.wnid.size() + uint64_t(rec.label) + rec.xxh3;
            }
        }));
        chained.push_back(seconds_of([&] {
            uint64_t i = idx[0];
            for (unsigned k = 0; k < lookups; ++k) {
                imgpack::Record rec = split[i];
                sink += rec.data.size() + rec.name.size() + rec.wnid.size() + uint64_t(rec.label);
                i = (rec.xxh3 ^ idx[k]) % split.size();  // needs this record before the next lookup
            }
        }));
    }
    use(&sink);
    Spread s = spread(t), c = spread(chained);
    const double n = lookups;
    std::printf("%s[i], random i (%u per round, median of %u): %.1f ns/lookup [%.1f..%.1f] independent, "
                "%.1f ns [%.1f..%.1f] dependent\n",
                std::string(split.name()).c_str(), lookups, rounds, s.median / n * 1e9, s.min / n * 1e9,
                s.max / n * 1e9, c.median / n * 1e9, c.min / n * 1e9, c.max / n * 1e9);
}

void bench_find(const imgpack::Split& split, unsigned lookups, unsigned rounds, unsigned seed) {
    std::mt19937_64 rng(seed + 1);
    std::vector<std::pair<std::string, size_t>> q;
    q.reserve(lookups);
    for (unsigned k = 0; k < lookups; ++k) {
        size_t i = rng() % split.size();
        q.emplace_back(std::string(split.name_at(i)), i);
    }
    std::vector<double> t;
    for (unsigned r = 0; r < rounds; ++r) {
        size_t misses = 0;
        t.push_back(seconds_of([&] {
            for (const auto& [name, i] : q) misses += split.find(name) != i;
        }));
        if (misses) throw std::runtime_error("Split::find returned a wrong index");
    }
    Spread s = spread(t);
    const double n = lookups;
    std::printf("%s.find(name), random names (%u per round): %.0f ns/call median of %u [%.0f..%.0f]\n",
                std::string(split.name()).c_str(), lookups, s.median / n * 1e9, rounds, s.min / n * 1e9,
                s.max / n * 1e9);
}

int run_index(const Options& o) {
    const std::string& path = o.packs[0];
    std::printf("page cache: %.1f%% of %s resident before timing\n", resident_share(path) * 100, path.c_str());
    bench_open(path, o.opens);
    imgpack::Pack pack = imgpack::Pack::open(path);
    print_metadata(pack);
    for (const imgpack::Split& s : pack.splits())
        if (!s.empty()) bench_lookup(s, o.lookups, o.rounds, o.seed);
    for (const imgpack::Subset& sub : pack.subsets()) {
        // subset[j]: one more indirection (the u32 index array) before the record.
        std::mt19937_64 rng(o.seed + 2);
        std::vector<uint32_t> idx(o.lookups);
        for (uint32_t& j : idx) j = static_cast<uint32_t>(rng() % sub.size());
        std::vector<double> t;
        uint64_t sink = 0;
        for (unsigned r = 0; r < o.rounds; ++r)
            t.push_back(seconds_of([&] {
                for (uint32_t j : idx) sink += sub[j].data.size() + uint64_t(sub[j].label);
            }));
        use(&sink);
        Spread s = spread(t);
        std::printf("subset %s[j], random j: %.1f ns/lookup median of %u [%.1f..%.1f]\n", std::string(sub.name()).c_str(),
                    s.median / o.lookups * 1e9, o.rounds, s.min / o.lookups * 1e9, s.max / o.lookups * 1e9);
    }
    for (const imgpack::Split& s : pack.splits())
        if (!s.empty()) bench_find(s, std::max(1u, o.lookups / 4), o.rounds, o.seed);
    return 0;
}

// ---- fresh-read: random record reads on a new mapping, per file -----------------------------------

int run_fresh_read(const Options& o) {
    // The records to read: the same random (split, index) list for every file.
    imgpack::Pack first = imgpack::Pack::open(o.packs[0]);
    std::optional<imgpack::Split> split;
    for (const imgpack::Split& s : first.splits())
        if (!split || s.size() > split->size()) split = s;
    if (!split || split->empty()) throw std::runtime_error(o.packs[0] + " has no records");
    const std::string split_name(split->name());
    std::vector<double> resident;  // % of each file in the page cache before the timing
    for (const std::string& p : o.packs) {
        imgpack::Pack q = imgpack::Pack::open(p);
        if (q.split(split_name).size() != split->size() || q.split(split_name).blob_bytes() != split->blob_bytes())
            throw std::runtime_error(p + " does not hold the same records as " + o.packs[0]);
        resident.push_back(resident_share(p) * 100);
        if (!o.tsv) std::printf("page cache: %5.1f%% of %s resident\n", resident.back(), p.c_str());
    }

    size_t largest = 0;
    for (imgpack::Record r : *split) largest = std::max(largest, r.data.size());
    std::vector<unsigned char> buf(largest);
    std::mt19937_64 rng(o.seed);

    struct Times {
        std::vector<double> fresh, mapped;
    };
    std::vector<Times> times(o.packs.size());
    uint64_t bytes_per_round = 0;
    for (unsigned round = 0; round < o.rounds; ++round) {
        std::vector<uint32_t> idx(o.reads);
        for (uint32_t& i : idx) i = static_cast<uint32_t>(rng() % split->size());
        bytes_per_round = 0;
        for (uint32_t i : idx) bytes_per_round += (*split)[i].data.size();
        for (size_t f = 0; f < o.packs.size(); ++f) {
            imgpack::Pack p = imgpack::Pack::open(o.packs[f]);  // a new mapping: no page-table entries yet
            const imgpack::Split s = p.split(split_name);
            auto pass = [&] {
                for (uint32_t i : idx) {
                    imgpack::Record r = s[i];
                    std::memcpy(buf.data(), r.data.data(), r.data.size());
                    use(buf.data());
                }
            };
            times[f].fresh.push_back(seconds_of(pass));   // pays the page faults
            times[f].mapped.push_back(seconds_of(pass));  // the same records again: mapped now
        }
    }
    const double n = o.reads;
    if (o.tsv) {
        for (size_t f = 0; f < o.packs.size(); ++f) {
            Spread a = spread(times[f].fresh), b = spread(times[f].mapped);
            std::printf("%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\n", o.packs[f].c_str(), a.median / n * 1e6,
                        a.min / n * 1e6, a.max / n * 1e6, b.median / n * 1e6, (a.median - b.median) / n * 1e6,
                        resident[f]);
        }
        return 0;
    }
    std::printf("random record reads, %u per pass (mean %.1f KiB), %u rounds alternating, us/read median [min..max]:\n",
                o.reads, double(bytes_per_round) / n / 1024, o.rounds);
    std::printf("  %-48s %-22s %-22s %s\n", "file", "fresh mapping", "same mapping again", "fault cost");
    for (size_t f = 0; f < o.packs.size(); ++f) {
        Spread a = spread(times[f].fresh), b = spread(times[f].mapped);
        char fa[64], fb[64];
        std::snprintf(fa, sizeof fa, "%6.2f [%.2f..%.2f]", a.median / n * 1e6, a.min / n * 1e6, a.max / n * 1e6);
        std::snprintf(fb, sizeof fb, "%6.2f [%.2f..%.2f]", b.median / n * 1e6, b.min / n * 1e6, b.max / n * 1e6);
        std::printf("  %-48s %-22s %-22s %.2f us/read\n", o.packs[f].c_str(), fa, fb, (a.median - b.median) / n * 1e6);
    }
    return 0;
}

// ---- folios: the page cache's make-up, from pagemap and kpageflags ----------------------------------

// Appends "size: share of bytes" for one file: every page is faulted into a private read-only
// mapping, its frame number read from /proc/self/pagemap, and the frame's flags from
// /proc/kpageflags (compound head/tail: the first and the other pages of a large folio).
int run_folios(const Options& o) {
    const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    const int kpageflags = ::open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
    if (pagemap < 0 || kpageflags < 0) {
        std::printf("folios: cannot read /proc/self/pagemap and /proc/kpageflags (needs root); skipped\n");
        return 0;
    }
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    constexpr uint64_t kHead = 1ull << 15, kTail = 1ull << 16, kPfnMask = (1ull << 55) - 1, kPresent = 1ull << 63;
    for (const std::string& path : o.packs) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) throw std::runtime_error("cannot open " + path);
        const size_t size = static_cast<size_t>(st.st_size), pages = (size + page - 1) / page;
        void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        ::close(fd);
        if (m == MAP_FAILED) throw std::runtime_error("cannot map " + path);
        std::vector<uint64_t> entries(pages);
        const off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(m) / page * 8);
        if (::pread(pagemap, entries.data(), pages * 8, at) != static_cast<ssize_t>(pages * 8))
            throw std::runtime_error("cannot read /proc/self/pagemap");
        // Runs of pages: a head starts a folio, tails continue it; anything else is a 4 KiB folio.
        std::map<size_t, size_t> pages_by_folio_pages;
        size_t run = 0, missing = 0;
        auto close_run = [&] {
            if (run) pages_by_folio_pages[run] += run;
            run = 0;
        };
        for (uint64_t e : entries) {
            uint64_t flags = 0;
            if (!(e & kPresent) || (e & kPfnMask) == 0 ||
                ::pread(kpageflags, &flags, 8, static_cast<off_t>((e & kPfnMask) * 8)) != 8) {
                close_run();
                ++missing;
                continue;
            }
            if (flags & kTail) {
                if (run) ++run;
                else run = 1;  // the file starts inside a folio (cannot happen) or the head was missing
            } else {
                close_run();
                run = 1;
                if (!(flags & kHead)) close_run();  // an order-0 folio
            }
        }
        close_run();
        ::munmap(m, size);
        std::printf("%s: %.1f MiB, bytes by page-cache folio size:", path.c_str(), double(size) / (1 << 20));
        for (const auto& [folio_pages, n] : pages_by_folio_pages) {
            const double share = double(n) / double(pages) * 100;
            if (share < 0.05) continue;
            const size_t kib = folio_pages * page / 1024;
            if (kib >= 1024) std::printf("  %zu MiB %.1f%%", kib / 1024, share);
            else std::printf("  %zu KiB %.1f%%", kib, share);
        }
        if (missing) std::printf("  (unknown: %.1f%%)", double(missing) / double(pages) * 100);
        std::printf("\n");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        Options o = parse_args(argc, argv);
        if (o.mode == "folios") return run_folios(o);
        return o.mode == "index" ? run_index(o) : run_fresh_read(o);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "imgpack_bench_pack: %s\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "imgpack_bench_pack: %s\n", e.what());
        return 1;
    }
}
