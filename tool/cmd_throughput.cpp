// imgpack throughput PACK --split S [--subset NAME] --transform none|train|eval [--size 224]
//   [-j N] [--seconds T | --epochs E] [--batch B] [--readahead N] [--every K] [--cold] [--json]
// Runs the Loader over the pack, epoch after epoch, and says how many images per second it made:
// per wall second, per thread, and per CPU second (the honest per-core figure on a shared
// machine). Also the process's resident memory over the run (anonymous: the loader's own;
// file: the pack's pages mapped so far, which the kernel may reclaim).
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/loader.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace imgpack::cli {

namespace {

double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// RssAnon and RssFile from /proc/self/status, in KiB (0 where the kernel does not say).
struct Resident {
    uint64_t anon_kib = 0, file_kib = 0;
};
Resident resident() {
    Resident r;
    FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return r;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long long v = 0;
        if (std::sscanf(line, "RssAnon: %llu kB", &v) == 1) r.anon_kib = v;
        else if (std::sscanf(line, "RssFile: %llu kB", &v) == 1) r.file_kib = v;
    }
    std::fclose(f);
    return r;
}

// Bytes this process has had read from storage (/proc/self/io read_bytes: its page faults and
// the readahead they or its advice started); 0 where the kernel does not say.
uint64_t storage_read_bytes() {
    FILE* f = std::fopen("/proc/self/io", "r");
    if (!f) return 0;
    char line[128];
    unsigned long long v = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "read_bytes: %llu", &v) == 1) break;
    std::fclose(f);
    return v;
}

// Drops the pack's pages from the page cache (those no process maps), as after a reboot: a
// cold-cache run for anyone, no privileges needed. Returns false where the kernel refused.
bool evict_from_page_cache(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    // Dirty pages (a pack just written) cannot be dropped: write them back first.
    bool ok = ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
    ::close(fd);
    return ok;
}

// The fraction of the file's pages in the page cache (mincore on a mapping that touches none).
double cached_fraction(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st {};
    double fraction = -1;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t size = size_t(st.st_size), page = size_t(::sysconf(_SC_PAGESIZE));
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            std::vector<unsigned char> in_core((size + page - 1) / page);
            if (::mincore(p, size, in_core.data()) == 0) {
                size_t n = 0;
                for (unsigned char c : in_core) n += c & 1;
                fraction = double(n) / double(in_core.size());
            }
            ::munmap(p, size);
        }
    }
    ::close(fd);
    return fraction;
}

const std::map<std::string, TransformKind> kTransforms{
    {"none", TransformKind::none}, {"train", TransformKind::train}, {"eval", TransformKind::eval}};

}  // namespace

void add_throughput(CLI::App& app) {
    auto* cmd = app.add_subcommand("throughput", "Run the loader over a pack and measure images per second");
    struct Args {
        std::string path, split, subset, transform = "train";
        int size = 224, threads = 0;
        size_t batch = 64, readahead = 4, every = 1;
        double seconds = 10;
        uint64_t epochs = 0, seed = 0;
        std::string on_bad_data = "fail";
        bool cold = false, json = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("--split", a->split, "Split to read (train, validation, ...)");
    cmd->add_option("--subset", a->subset, "Read only this subset (of --split, when given)");
    cmd->add_option("--transform", a->transform,
                    "train (RandomResizedCrop + flip), eval (Resize + CenterCrop), or none (full decode only)")
        ->check(CLI::IsMember({"none", "train", "eval"}));
    cmd->add_option("--size", a->size, "Output side for train and eval (eval resizes to size * 8/7 first)")
        ->check(CLI::Range(1, 8192));
    cmd->add_option("-j,--threads", a->threads, "Worker threads (0: one per core)")->check(CLI::Range(0, 1024));
    cmd->add_option("--batch", a->batch, "Batch size")->check(CLI::Range(1, 1 << 20));
    auto* seconds = cmd->add_option("--seconds", a->seconds, "Run for about this long (whole batches)")
                        ->check(CLI::PositiveNumber);
    cmd->add_option("--epochs", a->epochs, "Run exactly this many epochs instead")->excludes(seconds)
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 32));
    cmd->add_option("--readahead", a->readahead, "Batches ahead whose records are advised WILLNEED (0: none)");
    cmd->add_option("--every", a->every,
                    "Read only every K-th record (records far apart, as in an epoch over a pack larger than memory)")
        ->check(CLI::Range(size_t{1}, size_t{1} << 31));
    cmd->add_option("--seed", a->seed, "The run's seed (order and augmentation)");
    cmd->add_option("--on-bad-data", a->on_bad_data, "A record that does not decode: fail, or skip (replace it)")
        ->check(CLI::IsMember({"fail", "skip"}));
    cmd->add_flag("--cold", a->cold, "Evict the pack from the page cache first (posix_fadvise DONTNEED)");
    cmd->add_flag("--json", a->json, "One JSON object");
    cmd->callback([a] {
        if (a->split.empty() && a->subset.empty()) throw CLI::ValidationError("--split or --subset is required");
        double cached_before = -1, cached_after = -1;
        if (a->cold) {
            cached_before = cached_fraction(a->path);
            if (!evict_from_page_cache(a->path))
                throw std::runtime_error("imgpack: " + a->path + ": cannot evict it from the page cache");
            cached_after = cached_fraction(a->path);
        }
        LoaderOptions o;
        o.batch_size = a->batch;
        o.threads = a->threads;
        o.seed = a->seed;
        o.readahead_batches = a->readahead;
        o.on_bad_data = a->on_bad_data == "skip" ? BadData::skip : BadData::fail;
        o.transform.kind = kTransforms.at(a->transform);
        o.transform.size = a->size;
        o.transform.resize = a->size * 8 / 7;  // 224 -> 256, torchvision's ImageNet recipe
        const uint64_t read0 = storage_read_bytes();  // opening counts too: its faults read around the metadata
        Pack pack = Pack::open(a->path);
        LoaderSource source = a->subset.empty() ? LoaderSource::whole_split(a->split)
                                                : LoaderSource::named_subset(a->subset);
        source.split = a->split;
        if (a->every > 1) {
            if (!a->subset.empty()) throw CLI::ValidationError("--every reads a whole split: not with --subset");
            std::vector<uint32_t> records;
            for (size_t i = 0; i < pack.split(a->split).size(); i += a->every) records.push_back(uint32_t(i));
            source = LoaderSource::index_list(a->split, std::move(records));
        }
        Loader loader(pack, std::move(source), o);

        using clock = std::chrono::steady_clock;
        const Resident before = resident();
        Resident first{}, peak{}, last{};
        const double cpu0 = cpu_seconds();
        const auto t0 = clock::now();
        uint64_t images = 0, batches = 0, epoch = 0;
        double elapsed = 0;
        for (bool done = false; !done; ++epoch) {
            loader.start_epoch(epoch);
            while (auto b = loader.next()) {
                images += b->size();
                last = resident();
                if (batches++ == 0) first = last;
                peak.anon_kib = std::max(peak.anon_kib, last.anon_kib);
                peak.file_kib = std::max(peak.file_kib, last.file_kib);
                elapsed = std::chrono::duration<double>(clock::now() - t0).count();
                if (a->epochs == 0 && elapsed >= a->seconds) {
                    done = true;
                    break;
                }
            }
            if (a->epochs != 0 && epoch + 1 >= a->epochs) done = true;
        }
        const double cpu = cpu_seconds() - cpu0;
        const uint64_t read_bytes = storage_read_bytes() - read0;
        const double rate = double(images) / elapsed;
        const int threads = loader.threads();
        if (a->json) {
            char buf[1024];
            std::snprintf(buf, sizeof buf,
                          "{\"images_per_s\":%.1f,\"threads\":%d,\"transform\":%s,\"size\":%d,\"batch\":%zu,"
                          "\"images\":%llu,\"seconds\":%.3f,\"cpu_seconds\":%.3f,\"images_per_thread_s\":%.1f,"
                          "\"images_per_cpu_s\":%.1f,\"epochs\":%llu,\"readahead\":%zu,\"cold\":%s,"
                          "\"cached_before_evict\":%.3f,\"cached_after_evict\":%.3f,"
                          "\"storage_read_bytes\":%llu,\"every\":%zu,"
                          "\"rss_anon_kib\":{\"before\":%llu,\"first_batch\":%llu,\"peak\":%llu,\"last\":%llu},"
                          "\"rss_file_kib\":{\"first_batch\":%llu,\"peak\":%llu}}",
                          rate, threads, json_string(a->transform).c_str(), a->size, a->batch,
                          (unsigned long long)images, elapsed, cpu, rate / threads, double(images) / cpu,
                          (unsigned long long)epoch, a->readahead, a->cold ? "true" : "false", cached_before, cached_after,
                          (unsigned long long)read_bytes, a->every,
                          (unsigned long long)before.anon_kib, (unsigned long long)first.anon_kib,
                          (unsigned long long)peak.anon_kib, (unsigned long long)last.anon_kib,
                          (unsigned long long)first.file_kib, (unsigned long long)peak.file_kib);
            std::printf("%s\n", buf);
        } else {
            std::printf("%s, %s %d: %llu images in %.2f s over %llu epoch(s)\n", a->path.c_str(), a->transform.c_str(),
                        a->size, (unsigned long long)images, elapsed, (unsigned long long)epoch);
            std::printf("  %.0f images/s on %d thread(s): %.0f per thread, %.0f per CPU second (%.2f s of CPU)\n",
                        rate, threads, rate / threads, double(images) / cpu, cpu);
            std::printf("  resident: loader %s -> %s after the first batch, peak %s; pack pages mapped %s\n",
                        human_bytes(before.anon_kib << 10).c_str(), human_bytes(first.anon_kib << 10).c_str(),
                        human_bytes(peak.anon_kib << 10).c_str(), human_bytes(peak.file_kib << 10).c_str());
            if (a->cold)
                std::printf("  cold: %.1f%% of the pack was cached before eviction, %.1f%% after\n",
                            100 * cached_before, 100 * cached_after);
            std::printf("  read from storage: %s\n", human_bytes(read_bytes).c_str());
        }
        const uint64_t replaced = loader.replaced_samples();
        if (replaced) std::fprintf(stderr, "imgpack: %llu samples replaced (records that do not decode)\n",
                                   (unsigned long long)replaced);
    });
}

}  // namespace imgpack::cli
