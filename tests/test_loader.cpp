// The Loader (imgpack/loader.hpp): batches hold the right pixels in the right places, the same
// with any number of threads, partitioned across ranks, resumable mid-epoch; buffers are leases;
// bad records fail at their batch or are replaced. Built into imgpack_thread_tests, so that
// `./dev test` also runs it under ThreadSanitizer.
#include <doctest/doctest.h>

#include "loader_fixture.hpp"

#include <imgpack/loader.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

namespace test {
long allocations();  // loader/allocation_counter.cpp: the program's operator new calls so far
}

using imgpack::Batch;
using imgpack::Loader;
using imgpack::LoaderOptions;
using imgpack::LoaderSource;

namespace {

LoaderOptions small_options(int threads, size_t batch = 8) {
    LoaderOptions o;
    o.batch_size = batch;
    o.threads = threads;
    o.seed = 42;
    o.transform.size = 32;
    o.transform.resize = 36;
    return o;
}

// One batch, copied out (the lease goes back at once).
struct Copy {
    size_t number = 0, valid = 0, replaced = 0;
    std::vector<unsigned char> images;
    std::vector<int64_t> labels, indices;
    bool operator==(const Copy&) const = default;
};

Copy copy_of(const Batch& b) {
    return {b.number(), b.valid(), b.replaced(), {b.images().begin(), b.images().end()},
            {b.labels().begin(), b.labels().end()}, {b.indices().begin(), b.indices().end()}};
}

std::vector<Copy> read_epoch(Loader& loader, uint64_t epoch, size_t from = 0) {
    loader.start_epoch(epoch, from);
    std::vector<Copy> out;
    while (auto b = loader.next()) out.push_back(copy_of(*b));
    return out;
}

std::vector<Copy> epoch_of(const std::filesystem::path& pack, LoaderSource source, const LoaderOptions& o,
                           uint64_t epoch) {
    Loader loader(imgpack::Pack::open(pack.string()), std::move(source), o);
    return read_epoch(loader, epoch);
}

std::string failure_of(Loader& loader, size_t* batches_before = nullptr) {
    size_t n = 0;
    try {
        while (auto b = loader.next()) ++n;
    } catch (const imgpack::LoaderError& e) {
        if (batches_before) *batches_before = n;
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("loader: each sample holds its record decoded with its own seed, in NHWC and NCHW") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    auto split = pack.split("train");
    for (auto kind : {imgpack::TransformKind::train, imgpack::TransformKind::eval}) {
        LoaderOptions o = small_options(3);
        o.transform.kind = kind;
        LoaderOptions planar = o;
        planar.layout = imgpack::Layout::nchw;
        Loader loader(pack, LoaderSource::whole_split("train"), o), chw(pack, LoaderSource::whole_split("train"), planar);
        loader.start_epoch(5);
        chw.start_epoch(5);
        imgpack::Decoder decoder;
        const size_t side = 32, image = side * side * 3;
        std::vector<unsigned char> expected(image);
        std::set<int64_t> seen;
        while (auto b = loader.next()) {
            auto p = chw.next();
            REQUIRE(p);
            REQUIRE(b->size() == 8);
            REQUIRE(b->images().size() == 8 * image);
            CHECK(b->height() == 32);
            CHECK(b->width() == 32);
            for (size_t i = 0; i < b->size(); ++i) {
                int64_t record = b->indices()[i];
                REQUIRE(p->indices()[i] == record);
                seen.insert(record);
                imgpack::Record r = split[size_t(record)];
                CHECK(b->labels()[i] == r.label);
                decoder.decode(r.data, o.transform, imgpack::sample_seed(42, 5, uint64_t(record)),
                               imgpack::ImageView::hwc(expected.data(), 32, 32));
                REQUIRE(std::memcmp(b->images().data() + i * image, expected.data(), image) == 0);
                const unsigned char* planes = p->images().data() + i * image;
                for (size_t y = 0; y < side; ++y)
                    for (size_t x = 0; x < side; ++x)
                        for (size_t c = 0; c < 3; ++c)
                            REQUIRE(planes[c * side * side + y * side + x] == expected[(y * side + x) * 3 + c]);
            }
        }
        CHECK(!chw.next());
        CHECK(seen.size() == split.size());  // one rank, 96 = 12 batches of 8: every record once
    }
}

TEST_CASE("loader: batches are identical with 1, 2 and 5 threads") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    auto one = epoch_of(path, LoaderSource::whole_split("train"), small_options(1), 3);
    REQUIRE(one.size() == 12);
    for (int threads : {2, 5}) {
        auto many = epoch_of(path, LoaderSource::whole_split("train"), small_options(threads), 3);
        CHECK(many == one);
    }
    auto next_epoch = epoch_of(path, LoaderSource::whole_split("train"), small_options(2), 4);
    CHECK(next_epoch != one);
}

TEST_CASE("loader: ranks read disjoint, equal shares that cover the split, padding last") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);  // validation: 40 records
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    for (auto rem : {imgpack::Remainder::pad, imgpack::Remainder::drop}) {
        std::map<int64_t, int> reads;
        size_t batches = 0, padded = 0;
        for (int rank = 0; rank < 3; ++rank) {
            LoaderOptions o = small_options(2, 4);
            o.rank = rank;
            o.world_size = 3;
            o.remainder = rem;
            Loader loader(pack, LoaderSource::whole_split("validation"), o);
            auto epoch = read_epoch(loader, 1);
            if (rank == 0) batches = epoch.size();
            REQUIRE(epoch.size() == batches);
            REQUIRE(loader.batches_per_epoch() == batches);
            for (const Copy& b : epoch)
                for (size_t i = 0; i < b.indices.size(); ++i) {
                    if (i < b.valid) reads[b.indices[i]]++;
                    else ++padded;
                }
        }
        for (auto [record, times] : reads) CHECK(times == 1);
        if (rem == imgpack::Remainder::pad) {
            CHECK(batches == 4);  // 40 records over 3 ranks x 4: 48 places
            CHECK(reads.size() == 40);
            CHECK(padded == 8);
        } else {
            CHECK(batches == 3);  // 36 records read, 4 wait for another epoch
            CHECK(reads.size() == 36);
            CHECK(padded == 0);
        }
    }
}

TEST_CASE("loader: resuming at (epoch, batches done) gives the batches an uninterrupted run gives") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    Loader whole(pack, LoaderSource::whole_split("train"), small_options(2));
    auto full = read_epoch(whole, 7);
    for (size_t done : {size_t(0), size_t(1), size_t(5), size_t(11), size_t(12)}) {
        Loader resumed(pack, LoaderSource::whole_split("train"), small_options(3));
        auto rest = read_epoch(resumed, 7, done);
        CHECK(rest == std::vector<Copy>(full.begin() + std::ptrdiff_t(done), full.end()));
    }
    // An epoch abandoned half-way (batches still being made) and started again from its middle.
    Loader interrupted(pack, LoaderSource::whole_split("train"), small_options(2));
    interrupted.start_epoch(7);
    auto first = interrupted.next();
    REQUIRE(first);
    auto second = interrupted.next();
    CHECK(copy_of(*first) == full[0]);
    auto rest = read_epoch(interrupted, 7, 4);
    CHECK(rest == std::vector<Copy>(full.begin() + 4, full.end()));
    CHECK(copy_of(*second) == full[1]);  // a batch held across start_epoch is untouched
    CHECK_THROWS_AS(interrupted.start_epoch(7, 13), std::invalid_argument);
}

TEST_CASE("loader: a subset and a caller's index list are the epoch's only records") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    std::set<int64_t> seen;
    Loader subset(pack, LoaderSource::named_subset("quarter"), small_options(2, 4));
    for (const Copy& b : read_epoch(subset, 0))
        for (int64_t i : b.indices) {
            CHECK(i % 4 == 0);
            seen.insert(i);
        }
    CHECK(seen.size() == 24);

    LoaderOptions in_order = small_options(2, 3);
    in_order.shuffle = false;
    std::vector<uint32_t> list{9, 3, 3, 50, 0, 95};
    Loader listed(pack, LoaderSource::index_list("train", list), in_order);
    std::vector<int64_t> got;
    for (const Copy& b : read_epoch(listed, 0)) got.insert(got.end(), b.indices.begin(), b.indices.end());
    CHECK(got == std::vector<int64_t>{9, 3, 3, 50, 0, 95});

    CHECK_THROWS_AS(Loader(pack, LoaderSource::index_list("train", {1, 96}), in_order), std::invalid_argument);
    LoaderSource wrong = LoaderSource::named_subset("quarter");
    wrong.split = "validation";
    // Names that the pack does not hold as asked (the reader's Split::subset says so): Error.
    CHECK_THROWS_AS(Loader(pack, wrong, in_order), imgpack::Error);
    CHECK_THROWS_AS(Loader(pack, LoaderSource::whole_split("nope"), in_order), imgpack::Error);
}

TEST_CASE("loader: unlabeled records have label -1, transform none decodes without pixels out") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    LoaderOptions o = small_options(2, 4);
    auto epoch = epoch_of(path, LoaderSource::whole_split("test"), o, 0);
    REQUIRE(epoch.size() == 2);
    for (const Copy& b : epoch)
        for (int64_t l : b.labels) CHECK(l == -1);
    o.transform.kind = imgpack::TransformKind::none;
    auto decoded = epoch_of(path, LoaderSource::whole_split("validation"), o, 0);
    REQUIRE(decoded.size() == 10);
    CHECK(decoded[0].images.empty());
    CHECK(decoded[0].labels.size() == 4);
}

TEST_CASE("loader: a batch is a lease, and holding every buffer is an error, not a hang") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    LoaderOptions o = small_options(2);
    o.buffers = 2;
    Loader loader(pack, LoaderSource::whole_split("train"), o);
    loader.start_epoch(0);
    auto a = loader.next(), b = loader.next();
    REQUIRE(a);
    REQUIRE(b);
    const unsigned char* a_memory = a->images().data();
    Copy a_copy = copy_of(*a);
    CHECK_THROWS_AS(loader.next(), imgpack::LoaderError);
    a->release();
    CHECK(!*a);
    CHECK(a->images().empty());
    auto c = loader.next();  // fills the buffer a gave back
    REQUIRE(c);
    CHECK(c->images().data() == a_memory);
    CHECK(c->number() == 2);
    CHECK(copy_of(*c) != a_copy);

    // Another thread gives buffers back: with wait_for_buffers, next() waits for it.
    o.wait_for_buffers = true;
    Loader waiting(pack, LoaderSource::whole_split("train"), o);
    waiting.start_epoch(0);
    std::optional<Batch> held[2] = {waiting.next(), waiting.next()};
    std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        held[0]->release();
    });
    auto third = waiting.next();
    releaser.join();
    REQUIRE(third);
    CHECK(third->number() == 2);
}

TEST_CASE("loader: a batch outlives its loader, a moved-from loader refuses work") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    std::optional<Batch> kept;
    Copy expected;
    {
        Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), small_options(2));
        loader.start_epoch(0);
        kept = loader.next();
        expected = copy_of(*kept);
        Loader moved = std::move(loader);
        CHECK_THROWS_AS(loader.next(), std::logic_error);
        CHECK(moved.next());
    }
    CHECK(copy_of(*kept) == expected);  // read after the loader and the pack are gone (ASan checks)
    kept.reset();
}

TEST_CASE("loader: BadData::fail stops at the bad record's batch, naming it, with threads joined") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.truncated = {17};
    auto path = test::write_loader_pack(dir, spec);
    LoaderOptions o = small_options(2);
    o.shuffle = false;  // record 17 is in batch 2
    Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), o);
    loader.start_epoch(0);
    size_t before = 0;
    std::string error = failure_of(loader, &before);
    CHECK(before == 2);
    CHECK(error.find("loader.imgpack") != std::string::npos);
    CHECK(error.find("split 'train' record 17 (train_0017.JPEG)") != std::string::npos);
    CHECK_THROWS_WITH_AS(loader.next(), error.c_str(), imgpack::LoaderError);  // and again, the same
    CHECK_THROWS_AS(loader.start_epoch(1), imgpack::LoaderError);
}

TEST_CASE("loader: BadData::fail with garbage under many threads and a shuffled order") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.garbage = {5, 60};
    auto path = test::write_loader_pack(dir, spec);
    LoaderOptions o = small_options(4);
    Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), o);
    loader.start_epoch(2);
    std::string error = failure_of(loader);
    CHECK((error.find("record 5 (train_0005.JPEG)") != std::string::npos ||
           error.find("record 60 (train_0060.JPEG)") != std::string::npos));
}

TEST_CASE("loader: BadData::skip replaces bad records deterministically, counts and lists them") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.garbage = {5, 60};
    spec.truncated = {17};
    auto path = test::write_loader_pack(dir, spec);
    const std::set<int64_t> bad{5, 17, 60};
    std::vector<Copy> first;
    for (int threads : {1, 3}) {
        LoaderOptions o = small_options(threads);
        o.on_bad_data = imgpack::BadData::skip;
        Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), o);
        auto epoch = read_epoch(loader, 1);
        REQUIRE(epoch.size() == 12);
        size_t replaced = 0;
        for (const Copy& b : epoch) {
            replaced += b.replaced;
            for (int64_t i : b.indices) CHECK(bad.count(i) == 0);
        }
        CHECK(replaced == 3);
        CHECK(loader.replaced_samples() == 3);
        auto skipped = loader.skipped_records();
        REQUIRE(skipped.size() == 3);
        CHECK(skipped[0].index == 5);
        CHECK(skipped[0].name == "train_0005.JPEG");
        CHECK(skipped[1].index == 17);
        CHECK(!skipped[1].error.empty());
        read_epoch(loader, 2);  // a second epoch counts again, lists each record once
        CHECK(loader.replaced_samples() == 6);
        CHECK(loader.skipped_records().size() == 3);
        if (threads == 1) first = epoch;
        else CHECK(epoch == first);
    }
}

TEST_CASE("loader: BadData::skip gives up with an error when nothing decodes") {
    test::TempDir dir;
    test::LoaderPackSpec spec;
    spec.train = 8;
    for (size_t i = 0; i < 8; ++i) spec.garbage.insert(i);
    auto path = test::write_loader_pack(dir, spec);
    LoaderOptions o = small_options(2, 4);
    o.on_bad_data = imgpack::BadData::skip;
    o.max_replacement_tries = 5;
    Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), o);
    loader.start_epoch(0);
    CHECK(failure_of(loader).find("nor did any of the 5 records drawn to replace it") != std::string::npos);
}

TEST_CASE("loader: no allocation per image or per batch once warm") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    // Eval: the same geometry every epoch, so the decoder's buffers are warm after one epoch.
    LoaderOptions o = small_options(1);
    o.transform.kind = imgpack::TransformKind::eval;
    Loader loader(imgpack::Pack::open(path.string()), LoaderSource::whole_split("train"), o);
    loader.start_epoch(0);
    while (auto b = loader.next()) {
    }
    const long before = test::allocations();
    loader.start_epoch(1);
    size_t images = 0, batches = 0;
    while (auto b = loader.next()) images += b->size(), ++batches;
    const long allocations = test::allocations() - before;
    CHECK(images == 96);
    CHECK(batches == 12);
    CHECK(allocations <= 2);  // the new epoch's permutation; nothing per batch or per image
}

TEST_CASE("loader: bad options are refused") {
    test::TempDir dir;
    auto path = test::write_loader_pack(dir);
    imgpack::Pack pack = imgpack::Pack::open(path.string());
    auto make = [&](auto edit) {
        LoaderOptions o = small_options(1);
        edit(o);
        Loader loader(pack, LoaderSource::whole_split("train"), o);
    };
    CHECK_THROWS_AS(make([](LoaderOptions& o) { o.buffers = 1; }), std::invalid_argument);
    CHECK_THROWS_AS(make([](LoaderOptions& o) { o.batch_size = 0; }), std::invalid_argument);
    CHECK_THROWS_AS(make([](LoaderOptions& o) { o.rank = 2, o.world_size = 2; }), std::invalid_argument);
    CHECK_THROWS_AS(make([](LoaderOptions& o) { o.transform.size = 0; }), std::invalid_argument);
    CHECK_THROWS_AS(make([](LoaderOptions& o) { o.batch_size = 97, o.remainder = imgpack::Remainder::drop; }),
                    std::invalid_argument);
    Loader idle(pack, LoaderSource::whole_split("train"), small_options(1));
    CHECK_THROWS_AS(idle.next(), std::logic_error);
}
