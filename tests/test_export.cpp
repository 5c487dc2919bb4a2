// imgpack export: every exported record byte for byte the source's, subsets carried re-indexed
// or dropped, shards that together hold every record once and are label-balanced, subsets drawn
// at export, a corrupt source record caught while copied, and every bad input refused with
// nothing left behind. (Signals and a full disk: tests/test_faults.cpp.)
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "small_pack.hpp"
#include "synth_fixture.hpp"

#include <imgpack/export.hpp>
#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>

#include <xxhash.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace fmt = imgpack::format;
using test::TempDir;

namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<fs::path> leftovers(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (contains(e.path().filename().string(), ".tmp-")) out.push_back(e.path());
    return out;
}

imgpack::ExportSummary export_of(const fs::path& out, std::vector<imgpack::ExportSplit> splits,
                                 std::optional<imgpack::ExportShard> shard = {}, const fs::path& source = {}) {
    imgpack::ExportOptions o;
    o.source = source.empty() ? test::synth_imagenet().pack : source;
    o.output = out;
    o.splits = std::move(splits);
    o.shard = shard;
    return imgpack::export_pack(o);
}

std::string export_error(const imgpack::ExportOptions& o) {
    try {
        imgpack::export_pack(o);
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

// Everything a reader sees of a record, its bytes included, except where they lie in the file.
void check_same_record(const imgpack::Record& got, const imgpack::Record& want) {
    CAPTURE(want.name);
    CHECK(got.name == want.name);
    CHECK(std::equal(got.data.begin(), got.data.end(), want.data.begin(), want.data.end()));
    CHECK(got.xxh3 == want.xxh3);
    CHECK(got.verify());
    CHECK(got.label == want.label);
    CHECK(got.wnid == want.wnid);
    CHECK(got.width == want.width);
    CHECK(got.height == want.height);
    CHECK(got.codec == want.codec);
    CHECK(got.color_space == want.color_space);
    CHECK(got.flags == want.flags);
}

void check_classes(const imgpack::Pack& got, const imgpack::Pack& want) {
    REQUIRE(got.class_count() == want.class_count());
    for (size_t c = 0; c < want.class_count(); ++c) {
        CHECK(got.classes()[c].wnid == want.classes()[c].wnid);
        CHECK(got.classes()[c].name == want.classes()[c].name);
    }
}

// Every checksum of a pack holds, the blob section's included (what imgpack verify checks).
bool verifies(const imgpack::Pack& p) {
    for (size_t s = 0; s < p.sections().size(); ++s)
        if (!p.verify_section(s)) return false;
    for (const imgpack::Split& s : p.splits())
        for (imgpack::Record r : s)
            if (!r.verify()) return false;
    return true;
}

}  // namespace

TEST_CASE("export: train=10pct and validation, every record byte for byte, the class table whole, subsets re-indexed") {
    TempDir dir;
    const auto& d = test::synth_imagenet();
    const auto out = dir / "10pct.imgpack";
    imgpack::ExportSummary sum = export_of(out, {{"train", "10pct"}, {"validation", ""}});
    const auto src = imgpack::Pack::open(d.pack.string());
    const auto got = imgpack::Pack::open(out.string());
    CHECK(verifies(got));
    check_classes(got, src);

    REQUIRE(got.splits().size() == 2);
    CHECK(got.splits()[0].name() == "train");
    CHECK(got.splits()[1].name() == "validation");
    const imgpack::Subset tenth = src.subset("10pct");
    const imgpack::Split train = got.split("train");
    REQUIRE(train.size() == tenth.size());
    for (size_t i = 0; i < train.size(); ++i) check_same_record(train[i], tenth[i]);
    const imgpack::Split val = got.split("validation"), src_val = src.split("validation");
    REQUIRE(val.size() == src_val.size());
    for (size_t i = 0; i < val.size(); ++i) check_same_record(val[i], src_val[i]);
    // The repaired images (synth's CMYK JPEG and PNG) keep their flag, if the subset holds them.
    size_t repaired = 0;
    for (imgpack::Record r : src.split("validation")) repaired += r.repaired();
    for (imgpack::Record r : val) repaired -= r.repaired();
    CHECK(repaired == 0);

    // Both subsets lie inside 10pct: they come along, naming the same records.
    REQUIRE(got.subsets().size() == 2);
    for (const char* name : {"1pct", "10pct"}) {
        CAPTURE(name);
        const imgpack::Subset before = src.subset(name), after = got.subset(name);
        CHECK(after.split().name() == "train");
        CHECK(after.origin() == before.origin());
        REQUIRE(after.size() == before.size());
        for (size_t i = 0; i < after.size(); ++i) CHECK(after[i].name == before[i].name);
    }
    CHECK(got.subset("10pct").size() == train.size());  // all of train: indices 0..n-1
    CHECK(sum.dropped.empty());
    CHECK(sum.source_id == src.id());
    CHECK(sum.id == got.id());
    CHECK(sum.splits.size() == 2);
    CHECK(sum.splits[0].records == tenth.size());
    CHECK(sum.splits[0].subset == "10pct");

    // Where it came from (FORMAT.md §4.9): the source's identity and the selection.
    CHECK(got.version_minor() == 2);
    const std::optional<imgpack::Provenance> prov = got.provenance();
    REQUIRE(prov);
    CHECK(prov->source_id == src.id());
    CHECK_FALSE(prov->sharded());
    REQUIRE(prov->splits.size() == 2);
    CHECK((prov->splits[0].name == "train" && prov->splits[0].source_split == "train" &&
           prov->splits[0].source_subset == "10pct"));
    CHECK((prov->splits[1].name == "validation" && prov->splits[1].source_subset.empty()));
    REQUIRE(prov->subsets.size() == 2);
    CHECK((prov->subsets[0].name == "1pct" && prov->subsets[0].source_subset == "1pct"));
    CHECK((prov->subsets[1].name == "10pct" && prov->subsets[1].source_subset == "10pct"));

    // The same export again, and with the splits named in another order: the same bytes.
    export_of(dir / "again.imgpack", {{"validation", ""}, {"train", "10pct"}});
    CHECK(test::read_file(dir / "again.imgpack") == test::read_file(out));
}

TEST_CASE("export: subsets not wholly inside an exported split are dropped, and the summary says why") {
    TempDir dir;
    // Their split is not exported.
    imgpack::ExportSummary sum = export_of(dir / "val.imgpack", {{"validation", ""}});
    CHECK(imgpack::Pack::open((dir / "val.imgpack").string()).subsets().empty());
    REQUIRE(sum.dropped.size() == 2);
    CHECK(sum.dropped[0] == "subset '1pct' of split 'train': its split is not exported");
    CHECK(sum.dropped[1] == "subset '10pct' of split 'train': its split is not exported");
    // Half of train: 10pct (one record of each of the 6 classes) is cut in two.
    sum = export_of(dir / "half.imgpack", {{"train", ""}}, imgpack::ExportShard{0, 2});
    const auto half = imgpack::Pack::open((dir / "half.imgpack").string());
    REQUIRE(sum.dropped.size() == 2);
    const size_t kept = half.split("train").size();
    CHECK(contains(sum.dropped[1], "subset '10pct' of split 'train': "));
    CHECK(contains(sum.dropped[1], " of its 6 records are not in the export"));
    CHECK(half.subsets().empty());
    CHECK(kept == 33);
    // No --split: every split whole, every subset along, nothing dropped.
    imgpack::ExportSummary all = export_of(dir / "all.imgpack", {});
    CHECK(all.dropped.empty());
    CHECK(imgpack::Pack::open((dir / "all.imgpack").string()).subsets().size() == 2);
    // Every split whole and the pack's own subsets: the records are the source's, the layout too.
    const auto src = imgpack::Pack::open(test::synth_imagenet().pack.string());
    const auto copy = imgpack::Pack::open((dir / "all.imgpack").string());
    for (const imgpack::Split& s : src.splits()) {
        const imgpack::Split c = copy.split(s.name());
        REQUIRE(c.size() == s.size());
        for (size_t i = 0; i < s.size(); ++i) check_same_record(c[i], s[i]);
    }
}

TEST_CASE("export: N shards hold every record exactly once, each class's parts within one of each other") {
    const auto& d = test::synth_imagenet();
    const auto src = imgpack::Pack::open(d.pack.string());
    for (uint32_t n : {1u, 3u, 4u}) {
        CAPTURE(n);
        TempDir dir;
        // split -> name -> how many shards hold it; split -> class -> per-shard counts
        std::map<std::string, std::map<std::string, int>> seen;
        std::map<std::string, std::map<int32_t, std::vector<size_t>>> per_class;
        std::map<std::string, std::vector<size_t>> sizes;
        for (uint32_t k = 0; k < n; ++k) {
            const auto out = dir / ("shard" + std::to_string(k) + ".imgpack");
            export_of(out, {}, imgpack::ExportShard{k, n});
            const auto got = imgpack::Pack::open(out.string());
            CHECK(verifies(got));
            check_classes(got, src);
            for (const imgpack::Split& s : got.splits()) {
                const std::string split(s.name());
                const imgpack::Split whole = src.split(split);
                sizes[split].push_back(s.size());
                for (imgpack::Record r : s) {
                    ++seen[split][std::string(r.name)];
                    auto i = whole.find(r.name);
                    REQUIRE(i);
                    check_same_record(r, whole[*i]);
                    auto& counts = per_class[split][r.label];
                    counts.resize(n);
                    ++counts[k];
                }
            }
            // Shard the same way again: the same bytes.
            if (k == 0) {
                export_of(dir / "again.imgpack", {}, imgpack::ExportShard{k, n});
                CHECK(test::read_file(dir / "again.imgpack") == test::read_file(out));
            }
        }
        for (const imgpack::Split& s : src.splits()) {
            const std::string split(s.name());
            CAPTURE(split);
            CHECK(seen[split].size() == s.size());  // every record ...
            for (const auto& [name, times] : seen[split]) CHECK(times == 1);  // ... exactly once
            const auto [lo, hi] = std::minmax_element(sizes[split].begin(), sizes[split].end());
            CHECK(*hi - *lo <= 1);
            for (const auto& [label, counts] : per_class[split]) {
                CAPTURE(label);
                const auto [clo, chi] = std::minmax_element(counts.begin(), counts.end());
                CHECK(*chi - *clo <= 1);
            }
        }
    }
}

TEST_CASE("export: shards of a subset, and shards depend on names and labels only") {
    TempDir dir;
    const auto src = imgpack::Pack::open(test::synth_imagenet().pack.string());
    std::set<std::string> together;
    size_t total = 0;
    for (uint32_t k = 0; k < 2; ++k) {
        const auto out = dir / ("s" + std::to_string(k) + ".imgpack");
        export_of(out, {{"train", "10pct"}}, imgpack::ExportShard{k, 2});
        for (imgpack::Record r : imgpack::Pack::open(out.string()).split("train")) {
            together.insert(std::string(r.name));
            ++total;
        }
    }
    std::set<std::string> tenth;
    for (imgpack::Record r : src.subset("10pct")) tenth.insert(std::string(r.name));
    CHECK(together == tenth);
    CHECK(total == tenth.size());

    // shard_positions is a function of names and labels: the same records in another pack (the
    // as-is conversion, other bytes for two images) shard alike.
    export_of(dir / "a.imgpack", {{"train", ""}}, imgpack::ExportShard{1, 3});
    export_of(dir / "b.imgpack", {{"train", ""}}, imgpack::ExportShard{1, 3}, test::synth_imagenet().pack_as_is);
    std::vector<std::string> a, b;
    for (imgpack::Record r : imgpack::Pack::open((dir / "a.imgpack").string()).split("train")) a.emplace_back(r.name);
    for (imgpack::Record r : imgpack::Pack::open((dir / "b.imgpack").string()).split("train")) b.emplace_back(r.name);
    CHECK(a == b);
}

TEST_CASE("export: balanced subsets drawn at export, from the exported train split") {
    TempDir dir;
    imgpack::ExportOptions o;
    o.source = test::synth_imagenet().pack;
    o.output = dir / "drawn.imgpack";
    o.splits = {{"train", ""}};
    o.shard = imgpack::ExportShard{0, 2};
    o.draws = {{"half", 0.5}};
    o.seed = 9;
    imgpack::ExportSummary sum = imgpack::export_pack(o);
    const auto got = imgpack::Pack::open(o.output.string());
    const imgpack::Subset half = got.subset("half");
    CHECK(half.origin() == "balanced:fraction=0.5,seed=9");
    const imgpack::Split train = got.split("train");
    CHECK(half.size() == size_t(std::llround(0.5 * double(train.size()))));
    std::map<int32_t, size_t> per_class;
    for (imgpack::Record r : half) ++per_class[r.label];
    size_t lo = SIZE_MAX, hi = 0;
    for (const auto& [label, count] : per_class) lo = std::min(lo, count), hi = std::max(hi, count);
    CHECK(hi - lo <= 1);
    REQUIRE(!sum.subsets.empty());
    CHECK(sum.subsets.back().drawn);
    // The same seed draws the same; another seed, another subset.
    o.output = dir / "again.imgpack";
    imgpack::export_pack(o);
    CHECK(test::read_file(dir / "again.imgpack") == test::read_file(dir / "drawn.imgpack"));
    o.output = dir / "other.imgpack";
    o.seed = 10;
    imgpack::export_pack(o);
    const imgpack::Subset other = imgpack::Pack::open(o.output.string()).subset("half");
    std::vector<uint32_t> x, y;
    for (size_t i = 0; i < half.size(); ++i) x.push_back(half.index(i));
    for (size_t i = 0; i < other.size(); ++i) y.push_back(other.index(i));
    CHECK(x != y);

    // A drawn subset needs a train split, and a name no carried subset has.
    o.output = dir / "bad.imgpack";
    o.splits = {{"validation", ""}};
    CHECK(contains(export_error(o), "--subset half draws from the exported train split, and the export has none"));
    o.splits = {{"train", ""}};
    o.shard.reset();
    o.draws = {{"1pct", 0.5}};
    CHECK(contains(export_error(o), "subset '1pct' would be drawn, but the source's subset of that name comes along"));
    CHECK_FALSE(fs::exists(o.output));
}

TEST_CASE("export: a corrupt record in the selection fails the export, naming split, record and file") {
    TempDir dir;
    const auto src = imgpack::Pack::open(test::synth_imagenet().pack.string());
    // Damage one image of 1pct (opening does not read image bytes, so the pack still opens).
    const imgpack::Record victim = src.subset("1pct")[0];
    auto bytes = test::read_file(test::synth_imagenet().pack);
    bytes[victim.offset + victim.data.size() / 2] ^= 0x10;
    const auto damaged = dir / "damaged.imgpack";
    test::write_file(damaged, bytes);
    const auto out = dir / "out.imgpack";
    test::write_text(out, "the previous file");

    test::RunResult r = test::cli("export " + test::quote(damaged.string()) + " --split train=1pct -f -o " +
                                  test::quote(out.string()));
    CHECK(r.status == 1);
    CHECK(contains(r.err, damaged.string()));
    CHECK(contains(r.err, "split 'train' record " + std::to_string(victim.index) + " (" + std::string(victim.name) + ")"));
    CHECK(contains(r.err, "checksum mismatch"));
    CHECK(test::read_file(out) == test::bytes_of("the previous file"));
    CHECK(leftovers(dir.path()).empty());

    // A record outside the selection is never read: validation alone exports.
    r = test::cli("export " + test::quote(damaged.string()) + " --split validation -o " +
                  test::quote((dir / "val.imgpack").string()));
    CHECK(r.status == 0);
    CHECK(verifies(imgpack::Pack::open((dir / "val.imgpack").string())));
}

TEST_CASE("export: bad input, each a clear error, exit 1 (2 for usage), nothing at the output") {
    TempDir dir;
    const std::string src = test::quote(test::synth_imagenet().pack.string());
    const auto out = dir / "out.imgpack";
    auto run = [&](const std::string& args, int status, const std::string& message) {
        CAPTURE(args);
        test::RunResult r = test::cli("export " + args);
        CHECK(r.status == status);
        CHECK(contains(r.err, message));
        CHECK_FALSE(fs::exists(out));
        CHECK(leftovers(dir.path()).empty());
    };
    const std::string o = " -o " + test::quote(out.string());
    run(src + " --split nope" + o, 1, "no split 'nope' (its splits: 'train', 'validation', 'test')");
    run(src + " --split train=nope" + o, 1, "no subset 'nope' (its subsets: '1pct', '10pct')");
    run(src + " --split validation=1pct" + o, 1,
        "subset '1pct' is a subset of split 'train', not of 'validation' (--split train=1pct exports it)");
    run(src + " --shard 3/3" + o, 2, "K must be less than N");
    run(src + " --shard 0/0" + o, 2, "N must be at least 1");
    run(src + " --shard 1" + o, 2, "takes K/N");
    run(src + " --shard -1/2" + o, 2, "takes K/N");
    run(src + " --split train=" + o, 2, "takes NAME or NAME=SUBSET");
    run(src + " --split train --split train" + o, 2, "split 'train' is named twice");
    run(src + " --subset half=1.5" + o, 2, "NAME=FRACTION with 0 < FRACTION <= 1");
    run(src + " --subset half=list.txt" + o, 2, "NAME=FRACTION");
    run(src + " --subset 'b a d=0.5'" + o, 1, "subset name 'b a d' must be 1-64 characters");
    run(src, 2, "--output is required");
    run(test::quote((dir / "missing.imgpack").string()) + o, 1, "missing.imgpack: cannot open");

    // A source that fails validation (truncated).
    auto bytes = test::read_file(test::synth_imagenet().pack);
    bytes.resize(bytes.size() - 1);
    test::write_file(dir / "truncated.imgpack", bytes);
    run(test::quote((dir / "truncated.imgpack").string()) + o, 1, "truncated.imgpack: header says the file is");

    // An existing output without --force.
    test::write_text(out, "mine");
    test::RunResult r = test::cli("export " + src + o);
    CHECK(r.status == 1);
    CHECK(contains(r.err, "already exists (use --force to replace it)"));
    CHECK(test::read_file(out) == test::bytes_of("mine"));
    CHECK(test::cli("export " + src + " -f" + o).status == 0);
    CHECK(verifies(imgpack::Pack::open(out.string())));
}

TEST_CASE("export: the output is never the source, by any name") {
    TempDir dir;
    const auto pack = dir / "src.imgpack";
    fs::copy_file(test::synth_imagenet().pack, pack);
    fs::create_directories(dir / "sub");
    fs::create_hard_link(pack, dir / "hard.imgpack");
    fs::create_symlink(pack, dir / "soft.imgpack");
    const auto before = test::read_file(pack);
    for (const fs::path& same : {pack, dir / "sub" / ".." / "src.imgpack", dir / "hard.imgpack", dir / "soft.imgpack"}) {
        CAPTURE(same);
        test::RunResult r = test::cli("export " + test::quote(pack.string()) + " -f -o " + test::quote(same.string()));
        CHECK(r.status == 1);
        CHECK(contains(r.err, "is the source"));
        CHECK(test::read_file(pack) == before);
        CHECK(leftovers(dir.path()).empty());
    }
    CHECK(fs::is_symlink(dir / "soft.imgpack"));
}

TEST_CASE("export: empty selections") {
    TempDir dir;
    const auto pack = dir / "small.imgpack";
    {
        // train of 3 records, an empty test split, an empty subset of train.
        imgpack::PackWriter w(pack, false);
        imgpack::PackContents c;
        c.classes = {{"n00000001", ""}, {"n00000002", ""}};
        imgpack::SplitDef train{"train", {}};
        for (int i = 0; i < 3; ++i) {
            const std::vector<unsigned char> blob = test::bytes_of("image " + std::to_string(i));
            imgpack::RecordDef r;
            r.name = "r" + std::to_string(i) + ".JPEG";
            r.blob_offset = w.append_blob(blob);
            r.blob_size = static_cast<uint32_t>(blob.size());
            r.xxh3 = XXH3_64bits(blob.data(), blob.size());
            r.label = i % 2;
            train.records.push_back(r);
        }
        c.splits = {train, {"test", {}}};
        c.subsets = {{"none", "train", "list:none.txt", {}}};
        w.finish(c);
    }
    imgpack::ExportOptions o;
    o.source = pack;
    o.output = dir / "out.imgpack";
    o.splits = {{"test", ""}};
    CHECK(contains(export_error(o), "split 'test' has no records: nothing to export from it"));
    o.splits = {{"train", "none"}};
    CHECK(contains(export_error(o), "subset 'none' of split 'train' is empty: nothing to export"));
    o.splits = {};
    o.shard = imgpack::ExportShard{3, 4};  // 3 records in 4 shards: shard 3 is empty
    CHECK(contains(export_error(o), "shard 3/4 holds no record (the selection has 3, fewer than 4 shards)"));
    CHECK_FALSE(fs::exists(o.output));
    // Shards 0-2 hold one record each; the empty test split comes along empty.
    o.shard = imgpack::ExportShard{2, 4};
    imgpack::export_pack(o);
    const auto got = imgpack::Pack::open(o.output.string());
    CHECK(got.split("train").size() == 1);
    CHECK(got.split("test").empty());
    CHECK(got.subset("none").empty());
}

TEST_CASE("export: imgpack info shows the provenance, as text and in --json") {
    TempDir dir;
    const auto& d = test::synth_imagenet();
    const std::string src_id = imgpack::Pack::open(d.pack.string()).id();
    const auto out = dir / "shard.imgpack";
    test::RunResult r = test::cli("export " + test::quote(d.pack.string()) +
                                  " --split train=10pct --split test --shard 1/2 --subset d=0.5 --seed 4 -o " +
                                  test::quote(out.string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "wrote " + out.string()));
    CHECK(contains(r.out, "from " + d.pack.string() + " (id " + src_id + "), shard 1/2"));
    CHECK(contains(r.out, "subset d "));
    const std::string id = imgpack::Pack::open(out.string()).id();
    CHECK(contains(r.out, "id " + id));

    test::RunResult text = test::cli("info " + test::quote(out.string()));
    REQUIRE(text.status == 0);
    CHECK(contains(text.out, "exported from: " + src_id + ", shard 1/2 of each split\n"));
    CHECK(contains(text.out, "  split  train        from subset 10pct\n"));
    CHECK(contains(text.out, "  split  test         from split test\n"));
    CHECK(contains(text.out, "  subset d            drawn at export\n"));
    test::RunResult json = test::cli("info --json " + test::quote(out.string()));
    REQUIRE(json.status == 0);
    CHECK(contains(json.out, "\"provenance\":{\"source_id\":\"" + src_id +
                                 "\",\"shard\":{\"index\":1,\"count\":2},\"splits\":[{\"name\":\"train\","
                                 "\"source_split\":\"train\",\"source_subset\":\"10pct\"},{\"name\":\"test\","
                                 "\"source_split\":\"test\",\"source_subset\":\"\"}],\"subsets\":[{\"name\":\"d\","
                                 "\"source_subset\":\"\"}]},\"skipped\":[]}"));
    // A converted pack has none.
    CHECK(contains(test::cli("info --json " + test::quote(d.pack.string())).out, "\"provenance\":null,\"skipped\":[]}"));
}

TEST_CASE("export: the summary says which subsets were dropped and why, and --help shows the syntax") {
    TempDir dir;
    const std::string src = test::quote(test::synth_imagenet().pack.string());
    const auto out = dir / "val.imgpack";
    test::RunResult r = test::cli("export " + src + " --split validation -o " + test::quote(out.string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "  split  validation "));
    CHECK(contains(r.out, "dropped: subset '1pct' of split 'train': its split is not exported\n"));
    CHECK(contains(r.out, "dropped: subset '10pct' of split 'train': its split is not exported\n"));
    // Carried subsets are listed as such.
    r = test::cli("export " + src + " --split train=10pct -o " + test::quote((dir / "10pct.imgpack").string()));
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "subset 1pct "));
    CHECK(contains(r.out, "(carried, re-indexed: "));
    CHECK_FALSE(contains(r.out, "dropped:"));
    // -q prints nothing.
    r = test::cli("export -q -f " + src + " --split validation -o " + test::quote(out.string()));
    CHECK(r.status == 0);
    CHECK(r.out.empty());

    test::RunResult help = test::cli("export --help");
    CHECK(help.status == 0);
    for (const char* part : {"--split", "NAME=SUBSET", "--shard", "K/N", "--force", "--subset",
                             "--split train=1pct --split validation -o imagenet-1pct.imgpack",
                             "--split NAME copies split NAME whole", "splits not named are left out"}) {
        CAPTURE(part);
        CHECK(contains(help.out, part));
    }
    // The top-level help lists the command.
    CHECK(contains(test::cli("--help").out, "export"));
}

TEST_CASE("export: an empty selection from the command line exits 1 and writes nothing") {
    TempDir dir;
    const auto pack = dir / "small.imgpack";
    {
        imgpack::PackWriter w(pack, false);
        imgpack::PackContents c;
        c.classes = {{"n00000001", ""}};
        const std::vector<unsigned char> blob = test::bytes_of("image");
        imgpack::RecordDef rec;
        rec.name = "r.JPEG";
        rec.blob_offset = w.append_blob(blob);
        rec.blob_size = static_cast<uint32_t>(blob.size());
        rec.xxh3 = XXH3_64bits(blob.data(), blob.size());
        rec.label = 0;
        c.splits = {{"train", {rec}}, {"test", {}}};
        w.finish(c);
    }
    const auto out = dir / "out.imgpack";
    for (const std::string& args : {std::string(" --split test"), std::string(" --shard 1/2")}) {
        CAPTURE(args);
        test::RunResult r =
            test::cli("export " + test::quote(pack.string()) + args + " -o " + test::quote(out.string()));
        CHECK(r.status == 1);
        CHECK(contains(r.err, pack.string()));
        CHECK((contains(r.err, "nothing to export") || contains(r.err, "holds no record")));
        CHECK_FALSE(fs::exists(out));
        CHECK(leftovers(dir.path()).empty());
    }
}
