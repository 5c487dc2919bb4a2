// The epoch's order and its partition across ranks (imgpack/epoch_order.hpp): a permutation per
// (seed, epoch), equal shares for every rank, together covering the epoch once, padding stated.
#include <doctest/doctest.h>

#include <imgpack/epoch_order.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

using imgpack::EpochOrder;
using imgpack::OrderOptions;
using imgpack::Remainder;

namespace {

OrderOptions options(size_t batch, int rank, int world, Remainder rem, bool shuffle = true, uint64_t seed = 5) {
    OrderOptions o;
    o.seed = seed;
    o.shuffle = shuffle;
    o.batch_size = batch;
    o.rank = rank;
    o.world_size = world;
    o.remainder = rem;
    return o;
}

// The rank's samples as source positions, in order.
std::vector<size_t> rank_sequence(const EpochOrder& e) {
    std::vector<size_t> out;
    for (size_t j = 0; j < e.samples(); ++j) out.push_back(e.source_position(j));
    return out;
}

}  // namespace

TEST_CASE("epoch order: a permutation drawn from (seed, epoch), the same every time") {
    const size_t n = 1000;
    EpochOrder a(n, options(10, 0, 1, Remainder::pad), 3), b(n, options(10, 0, 1, Remainder::pad), 3);
    std::vector<uint32_t> pa(a.permutation().begin(), a.permutation().end());
    std::vector<uint32_t> pb(b.permutation().begin(), b.permutation().end());
    CHECK(pa == pb);
    std::vector<uint32_t> sorted = pa;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);

    EpochOrder next_epoch(n, options(10, 0, 1, Remainder::pad), 4);
    EpochOrder other_seed(n, options(10, 0, 1, Remainder::pad, true, 6), 3);
    CHECK(std::vector<uint32_t>(next_epoch.permutation().begin(), next_epoch.permutation().end()) != pa);
    CHECK(std::vector<uint32_t>(other_seed.permutation().begin(), other_seed.permutation().end()) != pa);
    // Shuffled means moved: a permutation that left most records in place would pass the checks above.
    size_t fixed = 0;
    for (size_t i = 0; i < n; ++i) fixed += pa[i] == i;
    CHECK(fixed < 20);

    EpochOrder in_order(n, options(10, 0, 1, Remainder::pad, false), 7);
    for (size_t i = 0; i < n; ++i) REQUIRE(in_order.permutation()[i] == i);
}

TEST_CASE("epoch order: the permutation is pinned, so a resumed run draws it again after an upgrade") {
    // Changing the generator silently changes every run's order; a change must be deliberate.
    EpochOrder e(12, options(1, 0, 1, Remainder::pad, true, 2024), 1);
    std::vector<uint32_t> got(e.permutation().begin(), e.permutation().end());
    std::vector<uint32_t> pinned{1, 0, 3, 9, 10, 5, 8, 2, 11, 6, 4, 7};
    CHECK(got == pinned);
}

TEST_CASE("epoch order: Fisher-Yates draws every position uniformly") {
    // Where record 0 lands over 6000 epochs of 6 records: each of the 6 places ~1000 times.
    std::vector<int> where(6);
    for (uint64_t epoch = 0; epoch < 6000; ++epoch) {
        EpochOrder e(6, options(1, 0, 1, Remainder::pad), epoch);
        auto p = e.permutation();
        where[size_t(std::find(p.begin(), p.end(), 0u) - p.begin())]++;
    }
    for (int c : where) CHECK((c > 850 && c < 1150));  // ~5 sigma
}

TEST_CASE("epoch order: ranks get equal shares that cover the epoch once, the padding stated") {
    for (Remainder rem : {Remainder::pad, Remainder::drop})
        for (size_t n : {1u, 7u, 64u, 100u, 1000u, 1001u})
            for (int world : {1, 2, 3, 8})
                for (size_t batch : {1u, 4u, 32u}) {
                    const int remainder = int(rem);
                    CAPTURE(n);
                    CAPTURE(world);
                    CAPTURE(batch);
                    CAPTURE(remainder);
                    if (rem == Remainder::drop && n < size_t(world) * batch) {
                        CHECK_THROWS_AS(EpochOrder(n, options(batch, 0, world, rem), 2), std::invalid_argument);
                        continue;
                    }
                    std::map<size_t, int> reads;   // source position -> times read, padding excluded
                    size_t padding = 0, batches = 0;
                    for (int r = 0; r < world; ++r) {
                        EpochOrder e(n, options(batch, r, world, rem), 2);
                        if (r == 0) batches = e.batches();
                        REQUIRE(e.batches() == batches);             // equal batches on every rank
                        REQUIRE(e.samples() == batches * batch);      // all of them full
                        for (size_t b = 0; b < e.batches(); ++b) {
                            size_t valid = e.valid_in_batch(b);
                            for (size_t i = 0; i < batch; ++i) {
                                size_t j = b * batch + i;
                                REQUIRE(e.is_padding(j) == (i >= valid));  // padding comes last in a batch
                                REQUIRE(e.source_position(j) < n);
                                if (e.is_padding(j)) ++padding;
                                else reads[e.source_position(j)]++;
                            }
                        }
                    }
                    const size_t per_step = size_t(world) * batch;
                    for (auto [pos, times] : reads) REQUIRE(times == 1);  // disjoint: no record twice
                    if (rem == Remainder::pad) {
                        CHECK(reads.size() == n);                          // every record once
                        CHECK(padding == (per_step - n % per_step) % per_step);
                    } else {
                        CHECK(reads.size() == n / per_step * per_step);    // all but the remainder
                        CHECK(padding == 0);
                    }
                }
}

TEST_CASE("epoch order: strided like DistributedSampler, padding repeats the epoch's start") {
    // 10 records in order, 3 ranks, batches of 2: 12 positions, 2 of them padding (records 0, 1).
    std::vector<std::vector<size_t>> expected{{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
    for (int r = 0; r < 3; ++r) {
        EpochOrder e(10, options(2, r, 3, Remainder::pad, false), 0);
        CHECK(rank_sequence(e) == expected[size_t(r)]);
    }
    EpochOrder r1(10, options(2, 1, 3, Remainder::pad, false), 0);
    CHECK(r1.valid_in_batch(0) == 2);
    CHECK(r1.valid_in_batch(1) == 1);
    CHECK(r1.padding() == 2);
    // Dropped: 10 records make one step of 3 x 2; records 6..9 wait for another epoch's order.
    EpochOrder d2(10, options(2, 2, 3, Remainder::drop, false), 0);
    CHECK(rank_sequence(d2) == std::vector<size_t>{2, 5});
    // Fewer records than ranks: padding wraps round the permutation as often as it must.
    EpochOrder tiny(2, options(4, 2, 3, Remainder::pad, false), 0);
    CHECK(rank_sequence(tiny) == std::vector<size_t>{0, 1, 0, 1});
    CHECK(tiny.valid_in_batch(0) == 0);
}

TEST_CASE("epoch order: the same global order whatever the world size") {
    // Batch b of all ranks is perm[b*W*B, (b+1)*W*B): interleaving the ranks gives back perm.
    const size_t n = 960;
    EpochOrder one(n, options(8, 0, 1, Remainder::drop), 11);
    for (int world : {2, 4, 6}) {
        std::vector<EpochOrder> ranks;
        for (int r = 0; r < world; ++r) ranks.emplace_back(n, options(8, r, world, Remainder::drop), 11);
        for (size_t g = 0; g < ranks[0].global_size(); ++g)
            REQUIRE(ranks[g % size_t(world)].source_position(g / size_t(world)) == one.permutation()[g]);
    }
}

TEST_CASE("epoch order: replacements are deterministic, in range and spread over the source") {
    EpochOrder e(50, options(4, 1, 2, Remainder::pad), 9), again(50, options(4, 1, 2, Remainder::pad), 9);
    std::set<size_t> seen;
    for (size_t j = 0; j < e.samples(); ++j)
        for (uint32_t attempt = 0; attempt < 8; ++attempt) {
            size_t r = e.replacement(j, attempt);
            REQUIRE(r < 50);
            REQUIRE(r == again.replacement(j, attempt));
            seen.insert(r);
        }
    CHECK(seen.size() == 50);
    CHECK(e.replacement(0, 0) != e.replacement(0, 1));
    EpochOrder later(50, options(4, 1, 2, Remainder::pad), 10);
    size_t same = 0;
    for (size_t j = 0; j < e.samples(); ++j) same += e.replacement(j, 0) == later.replacement(j, 0);
    CHECK(same < 10);
}

TEST_CASE("epoch order: bad options are refused") {
    CHECK_THROWS_AS(EpochOrder(10, options(4, 2, 2, Remainder::pad), 0), std::invalid_argument);
    CHECK_THROWS_AS(EpochOrder(10, options(4, -1, 2, Remainder::pad), 0), std::invalid_argument);
    CHECK_THROWS_AS(EpochOrder(10, options(4, 0, 0, Remainder::pad), 0), std::invalid_argument);
    CHECK_THROWS_AS(EpochOrder(10, options(0, 0, 1, Remainder::pad), 0), std::invalid_argument);
    CHECK_THROWS_AS(EpochOrder(0, options(4, 0, 1, Remainder::pad), 0), std::invalid_argument);
}
