// imgpack_scale_gen: a synthetic ImageNet with ILSVRC2012's exact counts, fast, for
// bench/scale_bench.sh. Every image is one of a few tiny JPEGs (made once with TurboJPEG), so
// 1.43 million records fit on a small machine and the archives take seconds to write.
//
//   imgpack_scale_gen DIR [--lists DIR] [--side S] [--quality Q] [--variants K] [--seed N]
//
// Writes into DIR:
//   ILSVRC2012_img_train.tar   1,000 per-class <WNID>.tar, 1,281,167 images in all
//   ILSVRC2012_img_val.tar     50,000 ILSVRC2012_val_%08d.JPEG
//   ILSVRC2012_img_test.tar    100,000 ILSVRC2012_test_%08d.JPEG
//   imagenet2012_labels.txt    the class list (TFDS's format: one WNID per line, label order)
//   imagenet2012_validation_labels.txt   one WNID per validation image (TFDS's format)
//   1percent.txt, 10percent.txt          SimCLR's subset lists (only with real lists, see below)
//
// With --lists DIR (ImageNet's public metadata, e.g. /work/shared/imagenet) holding
// imagenet2012_labels.txt, train_val_files_count.txt, 1percent.txt and 10percent.txt, the data
// has the real WNIDs and the real per-class train counts (732..1300), every name in SimCLR's 1%
// and 10% lists exists (the rest of a class is filled with other <WNID>_<k>.JPEG numbers), and
// imagenet2012_validation_labels.txt is copied when present. Without it: 1,000 made-up WNIDs,
// counts as even as 1,281,167 allows (167 classes of 1,282 and 833 of 1,281), 50 validation
// images per class, and no subset lists (the benchmark then asks the converter for generated
// 1pct/10pct subsets).
#include "bench_args.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <turbojpeg.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

// ILSVRC2012's counts.
constexpr size_t kClasses = 1000, kTrain = 1'281'167, kVal = 50'000, kTest = 100'000;
constexpr time_t kMtime = 1335830400;  // 2012-05-01, as imgpack synth

struct Options {
    fs::path out;
    fs::path lists;          // ImageNet's metadata lists; empty: made-up classes
    unsigned side = 16;      // image width and height
    unsigned quality = 90;
    unsigned variants = 8;   // distinct JPEGs, cycled through
    unsigned seed = 1;
};

constexpr const char* kUsage =
    "usage: imgpack_scale_gen DIR [--lists DIR] [--side S] [--quality Q] [--variants K] [--seed N]\n"
    "  --lists DIR  take WNIDs, per-class counts and SimCLR's subset lists from ImageNet's\n"
    "               metadata in DIR (imagenet2012_labels.txt, train_val_files_count.txt,\n"
    "               1percent.txt, 10percent.txt); default: made-up WNIDs, even counts\n"
    "  --side S     images are S x S pixels (default 16); --quality Q (default 90)\n";

using imgpack::bench::parse_unsigned;

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (a.rfind("--", 0) != 0) {
            if (!o.out.empty()) throw std::invalid_argument("one DIR only");
            o.out = a;
            continue;
        }
        if (i + 1 >= argc) throw std::invalid_argument("missing value for " + a);
        const char* v = argv[++i];
        if (a == "--lists") o.lists = v;
        else if (a == "--side") o.side = parse_unsigned(a, v, 4096);
        else if (a == "--quality") o.quality = parse_unsigned(a, v, 100);
        else if (a == "--variants") o.variants = parse_unsigned(a, v, 1000);
        else if (a == "--seed") o.seed = parse_unsigned(a, v, 1'000'000'000);
        else throw std::invalid_argument("unknown flag: " + a);
    }
    if (o.out.empty()) throw std::invalid_argument("DIR is missing");
    return o;
}

std::vector<std::string> read_lines(const fs::path& p) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) lines.push_back(l);
    return lines;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    for (const std::string& l : lines) out << l << '\n';
    if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

// ---- the images ------------------------------------------------------------------------------------

// K small JPEGs: a gradient plus noise, baseline 4:2:0, each different.
std::vector<Bytes> make_jpegs(const Options& o) {
    std::unique_ptr<void, int (*)(void*)> tj(tjInitCompress(), tjDestroy);
    if (!tj) throw std::runtime_error("tjInitCompress failed");
    std::mt19937_64 rng(o.seed);
    std::vector<Bytes> out;
    std::vector<unsigned char> px(size_t{o.side} * o.side * 3);
    for (unsigned k = 0; k < o.variants; ++k) {
        for (unsigned y = 0; y < o.side; ++y)
            for (unsigned x = 0; x < o.side; ++x)
                for (unsigned c = 0; c < 3; ++c)
                    px[(size_t{y} * o.side + x) * 3 + c] =
                        static_cast<unsigned char>((x * (c + 1) * 255 / o.side + y * 255 / o.side + k * 37 +
                                                    rng() % 24) & 255);
        unsigned char* jpeg = nullptr;
        unsigned long size = 0;
        if (tjCompress2(tj.get(), px.data(), int(o.side), 0, int(o.side), TJPF_RGB, &jpeg, &size, TJSAMP_420,
                        int(o.quality), 0) != 0)
            throw std::runtime_error(std::string("tjCompress2: ") + tjGetErrorStr2(tj.get()));
        out.emplace_back(jpeg, jpeg + size);
        tjFree(jpeg);
    }
    return out;
}

// ---- tar (libarchive) ------------------------------------------------------------------------------

la_ssize_t append_cb(archive*, void* client, const void* buffer, size_t length) {
    auto* out = static_cast<Bytes*>(client);
    const auto* p = static_cast<const unsigned char*>(buffer);
    out->insert(out->end(), p, p + length);
    return static_cast<la_ssize_t>(length);
}

class Tar {
public:
    // To a file, or (memory != nullptr) appended to *memory.
    Tar(const fs::path& file, Bytes* memory) : a_(archive_write_new(), archive_write_free), name_(file.string()) {
        entry_ = archive_entry_new();
        check(archive_write_set_format_ustar(a_.get()), "ustar");
        check(archive_write_add_filter_none(a_.get()), "filter");
        if (memory) {
            check(archive_write_set_bytes_in_last_block(a_.get(), 1), "last block");
            check(archive_write_open(a_.get(), memory, nullptr, append_cb, nullptr), "open");
        } else {
            check(archive_write_set_bytes_per_block(a_.get(), 1 << 20), "block size");
            check(archive_write_set_bytes_in_last_block(a_.get(), 1), "last block");
            check(archive_write_open_filename(a_.get(), file.c_str()), "open");
        }
    }
    ~Tar() { archive_entry_free(entry_); }
    Tar(const Tar&) = delete;
    Tar& operator=(const Tar&) = delete;

    void add(const std::string& name, const unsigned char* data, size_t size) {
        archive_entry_clear(entry_);
        archive_entry_set_pathname(entry_, name.c_str());
        archive_entry_set_filetype(entry_, AE_IFREG);
        archive_entry_set_perm(entry_, 0644);
        archive_entry_set_size(entry_, static_cast<la_int64_t>(size));
        archive_entry_set_mtime(entry_, kMtime, 0);
        check(archive_write_header(a_.get(), entry_), "header of " + name);
        if (archive_write_data(a_.get(), data, size) != static_cast<la_ssize_t>(size))
            check(ARCHIVE_FATAL, "data of " + name);
    }
    void close() { check(archive_write_close(a_.get()), "close"); }

private:
    void check(int rc, const std::string& what) {
        if (rc != ARCHIVE_OK) {
            const char* m = archive_error_string(a_.get());
            throw std::runtime_error(name_ + ": " + what + ": " + (m ? m : "libarchive error"));
        }
    }
    std::unique_ptr<archive, int (*)(archive*)> a_;
    archive_entry* entry_ = nullptr;
    std::string name_;
};

// ---- the plan: classes, their counts and names -----------------------------------------------------

struct Class {
    std::string wnid;
    size_t count = 0;
    std::set<unsigned> listed;  // numbers k of <WNID>_<k>.JPEG named by the subset lists
};

// The number k in "<wnid>_<k>.JPEG", or 0.
unsigned number_of(const std::string& name, const std::string& wnid) {
    if (name.size() <= wnid.size() + 6 || name.compare(0, wnid.size(), wnid) != 0 || name[wnid.size()] != '_') return 0;
    return static_cast<unsigned>(std::strtoul(name.c_str() + wnid.size() + 1, nullptr, 10));
}

std::vector<Class> plan(const Options& o, bool real) {
    std::vector<Class> classes;
    if (real) {
        std::vector<std::string> wnids = read_lines(o.lists / "imagenet2012_labels.txt");
        std::map<std::string, size_t> counts;
        for (const std::string& l : read_lines(o.lists / "train_val_files_count.txt")) {
            size_t tab = l.find('\t');
            if (tab == std::string::npos || l.compare(tab + 1, 6, "train/") != 0 || l.size() <= tab + 7) continue;
            counts[l.substr(tab + 7)] = std::stoul(l.substr(0, tab));
        }
        for (const std::string& w : wnids) {
            if (!counts.count(w)) throw std::runtime_error("train_val_files_count.txt has no count for " + w);
            classes.push_back({w, counts[w], {}});
        }
        std::map<std::string, Class*> by_wnid;
        for (Class& c : classes) by_wnid[c.wnid] = &c;
        for (const char* list : {"1percent.txt", "10percent.txt"})
            for (const std::string& name : read_lines(o.lists / list)) {
                auto it = by_wnid.find(name.substr(0, name.find('_')));
                unsigned k = it == by_wnid.end() ? 0 : number_of(name, it->first);
                if (k == 0) throw std::runtime_error(std::string(list) + ": not an ImageNet train name: " + name);
                it->second->listed.insert(k);
            }
    } else {
        for (size_t i = 0; i < kClasses; ++i) {
            char w[16];
            std::snprintf(w, sizeof w, "n%08zu", 1'000'000 + i * 7919);
            classes.push_back({w, kTrain / kClasses + (i < kTrain % kClasses ? 1 : 0), {}});
        }
    }
    size_t total = 0;
    for (const Class& c : classes) {
        if (c.listed.size() > c.count) throw std::runtime_error(c.wnid + ": the lists name more images than it has");
        total += c.count;
    }
    if (classes.size() != kClasses || total != kTrain)
        throw std::runtime_error("the class counts give " + std::to_string(classes.size()) + " classes and " +
                                 std::to_string(total) + " train images, not ImageNet's 1000 and 1281167");
    return classes;
}

int run(const Options& o) {
    const auto start = std::chrono::steady_clock::now();
    const bool real = !o.lists.empty();
    std::vector<Class> classes = plan(o, real);
    std::vector<Bytes> jpegs = make_jpegs(o);
    size_t jpeg_bytes = 0;
    for (const Bytes& j : jpegs) jpeg_bytes += j.size();
    std::printf("images: %u variants of %ux%u, quality %u, mean %.0f bytes\n", o.variants, o.side, o.side, o.quality,
                double(jpeg_bytes) / double(jpegs.size()));
    fs::create_directories(o.out);
    std::mt19937_64 rng(o.seed);
    size_t image = 0;  // cycles through the variants
    auto next_jpeg = [&]() -> const Bytes& { return jpegs[image++ % jpegs.size()]; };

    // Train: per class, the listed numbers plus fresh ones up to the count, in shuffled order
    // (ImageNet's class tars are not sorted either; the converter sorts).
    {
        Tar outer(o.out / "ILSVRC2012_img_train.tar", nullptr);
        Bytes inner;
        for (const Class& c : classes) {
            std::vector<unsigned> numbers(c.listed.begin(), c.listed.end());
            for (unsigned k = 1; numbers.size() < c.count; ++k)
                if (!c.listed.count(k)) numbers.push_back(k);
            std::shuffle(numbers.begin(), numbers.end(), rng);
            inner.clear();
            {
                Tar t(c.wnid + ".tar", &inner);
                for (unsigned k : numbers) {
                    const Bytes& j = next_jpeg();
                    t.add(c.wnid + "_" + std::to_string(k) + ".JPEG", j.data(), j.size());
                }
                t.close();
            }
            outer.add(c.wnid + ".tar", inner.data(), inner.size());
        }
        outer.close();
    }

    // Validation and test: flat tars, names numbered from 1 as ImageNet's.
    auto flat = [&](const char* tar, const char* prefix, size_t n) {
        Tar t(o.out / tar, nullptr);
        char name[64];
        for (size_t i = 1; i <= n; ++i) {
            std::snprintf(name, sizeof name, "%s%08zu.JPEG", prefix, i);
            const Bytes& j = next_jpeg();
            t.add(name, j.data(), j.size());
        }
        t.close();
    };
    flat("ILSVRC2012_img_val.tar", "ILSVRC2012_val_", kVal);
    flat("ILSVRC2012_img_test.tar", "ILSVRC2012_test_", kTest);

    std::vector<std::string> wnids;
    for (const Class& c : classes) wnids.push_back(c.wnid);
    write_lines(o.out / "imagenet2012_labels.txt", wnids);
    if (real && fs::exists(o.lists / "imagenet2012_validation_labels.txt")) {
        write_lines(o.out / "imagenet2012_validation_labels.txt",
                    read_lines(o.lists / "imagenet2012_validation_labels.txt"));
    } else {
        std::vector<std::string> labels;
        for (size_t i = 0; i < kVal; ++i) labels.push_back(wnids[(i * 7) % kClasses]);  // 50 per class
        write_lines(o.out / "imagenet2012_validation_labels.txt", labels);
    }
    if (real)
        for (const char* list : {"1percent.txt", "10percent.txt"})
            write_lines(o.out / list, read_lines(o.lists / list));  // a copy (without the source's mode)

    std::printf("wrote %s: %zu classes (%s), %zu train, %zu validation, %zu test images in %.1f s\n", o.out.c_str(),
                classes.size(), real ? "real WNIDs and per-class counts, SimCLR's lists" : "made-up WNIDs, even counts",
                kTrain, kVal, kTest,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        return run(parse_args(argc, argv));
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "imgpack_scale_gen: %s\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "imgpack_scale_gen: %s\n", e.what());
        return 1;
    }
}
