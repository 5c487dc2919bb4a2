// imgpack verify PACK [-j N]: checks every record's checksum, in parallel, and the blob
// section's own checksum. Metadata checksums and every offset were already checked by open.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/reader.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace imgpack::cli {

namespace {

struct Failure {
    size_t split;
    size_t index;
};

std::vector<Failure> verify_records(const Pack& pack, unsigned jobs, uint64_t& bytes) {
    // Work is handed out in chunks of records so threads share it evenly without contention.
    constexpr size_t kChunk = 256;
    struct Chunk {
        size_t split, begin, end;
    };
    std::vector<Chunk> chunks;
    for (size_t s = 0; s < pack.splits().size(); ++s)
        for (size_t b = 0; b < pack.splits()[s].size(); b += kChunk)
            chunks.push_back({s, b, std::min(b + kChunk, pack.splits()[s].size())});
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> total{0};
    std::mutex m;
    std::vector<Failure> failures;
    auto run = [&] {
        uint64_t mine = 0;
        for (size_t c; (c = next.fetch_add(1)) < chunks.size();) {
            const Split split = pack.splits()[chunks[c].split];
            for (size_t i = chunks[c].begin; i < chunks[c].end; ++i) {
                Record r = split[i];
                mine += r.data.size();
                if (!r.verify()) {
                    std::lock_guard lock(m);
                    failures.push_back({chunks[c].split, i});
                }
            }
        }
        total += mine;
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(run);
    run();
    for (auto& t : threads) t.join();
    std::sort(failures.begin(), failures.end(),
              [](const Failure& a, const Failure& b) { return a.split != b.split ? a.split < b.split : a.index < b.index; });
    bytes = total;
    return failures;
}

}  // namespace

void add_verify(CLI::App& app) {
    auto* cmd = app.add_subcommand("verify", "Check every checksum in a pack; non-zero exit on any mismatch");
    struct Args {
        std::string path;
        unsigned jobs = 0;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("-j,--jobs", a->jobs, "Threads (default: one per core)");
    cmd->callback([a] {
        Pack pack = Pack::open(a->path);  // header, directory, metadata checksums, every offset
        unsigned jobs = a->jobs ? a->jobs : std::max(1u, std::thread::hardware_concurrency());
        uint64_t bytes = 0;
        size_t records = 0;
        for (const Split& s : pack.splits()) records += s.size();
        std::vector<Failure> failures = verify_records(pack, jobs, bytes);
        bool blob_section_ok = true;
        for (size_t i = 0; i < pack.sections().size(); ++i)
            if (pack.sections()[i].kind == uint32_t(format::SectionKind::blobs)) blob_section_ok = pack.verify_section(i);
        for (const Failure& f : failures) {
            const Split split = pack.splits()[f.split];
            std::fprintf(stderr, "%s: split '%s' record %zu (%s): checksum mismatch, the image bytes are corrupt\n",
                         a->path.c_str(), std::string(split.name()).c_str(), f.index,
                         std::string(split.name_at(f.index)).c_str());
        }
        if (!blob_section_ok)
            std::fprintf(stderr, "%s: blob section checksum mismatch (image bytes or the padding between them "
                                 "are corrupt)\n", a->path.c_str());
        if (!failures.empty() || !blob_section_ok) {
            std::fprintf(stderr, "%s: FAILED: %zu of %zu records corrupt\n", a->path.c_str(), failures.size(), records);
            throw ExitStatus{1};
        }
        std::printf("%s: OK: %zu records, %s of images, all checksums match\n", a->path.c_str(), records,
                    human_bytes(bytes).c_str());
    });
}

}  // namespace imgpack::cli
