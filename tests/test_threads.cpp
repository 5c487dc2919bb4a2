// One Pack shared by many threads: reads, verification and lookups of every split and subset at
// once, with Pack handles copied from thread to thread and the original dropped while others
// read. `./dev test` also runs this under ThreadSanitizer (build-tsan/), where any data race in
// the reader fails it. The pack is made with PackWriter (no libarchive or TurboJPEG, which are
// not TSan-instrumented, runs here).
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <deque>
#include <latch>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace fmt = imgpack::format;

namespace {

constexpr int kThreads = 8;

// 5 classes; train (400 labeled), validation (120 labeled), test (60 unlabeled); subsets on
// train and validation. Blob sizes vary from 1 byte to 6 KB.
std::filesystem::path write_pack(const test::TempDir& dir) {
    std::filesystem::path out = dir / "threads.imgpack";
    imgpack::PackWriter w(out, false);
    std::mt19937_64 rng(7);
    imgpack::PackContents c;
    for (int k = 0; k < 5; ++k) c.classes.push_back({"n0000000" + std::to_string(k), "class " + std::to_string(k)});
    auto make_split = [&](const std::string& name, size_t n, bool labeled) {
        imgpack::SplitDef sp;
        sp.name = name;
        for (size_t i = 0; i < n; ++i) {
            std::vector<unsigned char> bytes(1 + rng() % 6000);
            for (auto& b : bytes) b = static_cast<unsigned char>(rng());
            imgpack::RecordDef r;
            char file[64];
            std::snprintf(file, sizeof file, "%s_%06zu.JPEG", name.c_str(), i);
            r.name = file;
            r.blob_offset = w.append_blob(bytes);
            r.blob_size = static_cast<uint32_t>(bytes.size());
            r.xxh3 = XXH3_64bits(bytes.data(), bytes.size());
            r.width = static_cast<uint16_t>(i);
            r.codec = fmt::Codec::jpeg;
            r.label = labeled ? static_cast<int32_t>(rng() % 5) : fmt::kUnlabeled;
            sp.records.push_back(std::move(r));
        }
        c.splits.push_back(std::move(sp));
    };
    make_split("train", 400, true);
    make_split("validation", 120, true);
    make_split("test", 60, false);
    auto make_subset = [&](const std::string& name, const std::string& split, size_t n, size_t every) {
        imgpack::SubsetDef s;
        s.name = name;
        s.split = split;
        s.origin = "test";
        for (size_t i = 0; i < n; i += every) s.indices.push_back(static_cast<uint32_t>(i));
        c.subsets.push_back(std::move(s));
    };
    make_subset("1pct", "train", 400, 97);
    make_subset("10pct", "train", 400, 9);
    make_subset("half", "validation", 120, 2);
    w.finish(c);
    return out;
}

// A hand-off point where threads leave Pack copies for other threads to pick up.
class Mailbox {
public:
    void put(imgpack::Pack p) {
        std::lock_guard lock(m_);
        q_.push_back(std::move(p));
    }
    std::optional<imgpack::Pack> take() {
        std::lock_guard lock(m_);
        if (q_.empty()) return std::nullopt;
        imgpack::Pack p = std::move(q_.front());
        q_.pop_front();
        return p;
    }

private:
    std::mutex m_;
    std::deque<imgpack::Pack> q_;
};

// Random reads of one pack. Returns the number of problems seen (0 expected); doctest's
// assertions are made on the main thread only.
size_t hammer(const imgpack::Pack& pack, std::mt19937_64& rng, int iterations) {
    size_t bad = 0;
    for (int it = 0; it < iterations; ++it) {
        const auto& splits = pack.splits();
        const imgpack::Split& sp = splits[rng() % splits.size()];
        size_t i = rng() % sp.size();
        imgpack::Record r = sp[i];
        bad += !r.verify();
        bad += r.index != i;
        bad += sp.find(r.name) != i;
        bad += sp.name_at(i) != r.name;
        bad += !pack.find_split(sp.name()) || pack.find_split(sp.name())->name().data() != sp.name().data();
        if (r.labeled()) bad += pack.find_class(r.wnid) != r.label;
        bad += r.data.empty() || r.data.front() != pack.split(sp.name()).at(i).data.front();
        const auto& subsets = pack.subsets();
        const imgpack::Subset& sub = subsets[rng() % subsets.size()];
        size_t j = rng() % sub.size();
        imgpack::Record s = sub[j];
        bad += s.index != sub.index(j);
        bad += s.name != sub.split().name_at(sub.index(j));
        bad += !s.verify();
        bad += !pack.find_subset(sub.name()) || pack.find_subset(sub.name())->name().data() != sub.name().data();
        try {
            (void)sp.at(sp.size());
            ++bad;
        } catch (const imgpack::Error&) {
        }
    }
    return bad;
}

}  // namespace

TEST_CASE("threads: one Pack read, verified and searched by 8 threads, handles passed between them") {
    test::TempDir dir;
    const auto path = write_pack(dir);
    std::optional<imgpack::Pack> original = imgpack::Pack::open(path.string());

    Mailbox mailbox;
    std::latch copied(kThreads);          // every thread holds its own copy of `original`
    std::latch original_dropped(1);       // the main thread has destroyed `original`
    std::barrier phase(kThreads);
    std::atomic<size_t> bad{0}, handoffs{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::mt19937_64 rng(1000 + t);
            // Copy the shared handle concurrently with the other threads, and read through the
            // original itself while the main thread still holds it.
            imgpack::Pack mine = *original;
            size_t local = hammer(*original, rng, 200);
            copied.count_down();
            original_dropped.wait();  // from here on, `original` is gone; copies keep the mapping
            local += hammer(mine, rng, 2000);
            // Hand copies around: each thread leaves one and reads through whichever it picks up.
            mailbox.put(mine);
            phase.arrive_and_wait();
            for (int round = 0; round < 20; ++round) {
                if (std::optional<imgpack::Pack> other = mailbox.take()) {
                    local += hammer(*other, rng, 100);
                    mailbox.put(std::move(*other));  // moved on to the next taker
                    handoffs.fetch_add(1);
                }
            }
            phase.arrive_and_wait();
            // Each thread drops its own handle while the others are still reading theirs.
            {
                imgpack::Pack last = std::move(mine);
                local += hammer(last, rng, 100 * (t + 1));
            }
            // Concurrent opens of the same file are independent, too.
            imgpack::Pack reopened = imgpack::Pack::open(path.string());
            local += hammer(reopened, rng, 200);
            bad.fetch_add(local);
        });
    }
    copied.wait();
    original.reset();  // drop the original while every thread reads through its copy
    original_dropped.count_down();
    for (auto& th : threads) th.join();
    CHECK(bad.load() == 0);
    CHECK(handoffs.load() > 0);
    // The handles left in the mailbox still work after every thread has gone.
    size_t left = 0;
    while (std::optional<imgpack::Pack> p = mailbox.take()) {
        std::mt19937_64 rng(left);
        CHECK(hammer(*p, rng, 50) == 0);
        ++left;
    }
    CHECK(left == kThreads);
}

TEST_CASE("threads: verifying every record in parallel, as imgpack verify does, agrees with one thread") {
    test::TempDir dir;
    const auto path = write_pack(dir);
    const imgpack::Pack pack = imgpack::Pack::open(path.string());
    std::atomic<size_t> next{0}, ok{0}, total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            for (size_t s = 0; s < pack.splits().size(); ++s) {
                const imgpack::Split& sp = pack.splits()[s];
                for (imgpack::Record r : sp) ok.fetch_add(r.verify() ? 1 : 0);  // everyone reads everything
            }
            for (size_t k; (k = next.fetch_add(1)) < pack.subsets().size();)  // and shares the subsets
                for (imgpack::Record r : pack.subsets()[k]) total.fetch_add(r.verify() ? 1 : 0);
        });
    for (auto& th : threads) th.join();
    size_t records = 0, subset_records = 0;
    for (const imgpack::Split& sp : pack.splits()) records += sp.size();
    for (const imgpack::Subset& sub : pack.subsets()) subset_records += sub.size();
    CHECK(ok.load() == records * kThreads);
    CHECK(total.load() == subset_records);
}
