// Validation labels and class names from every source users have (TFDS list, ILSVRC2012 devkit
// archive or directory, Kaggle CSV, synset_words.txt), and the MAT v5 reader under the devkit.
// The real files live in ../shared/imagenet/ (never copied into this tree); the tests that need
// them report themselves skipped when it is absent. Synthetic MAT-files, written here in both byte
// orders, cover the reader's paths and its handling of malformed input.
#include <doctest/doctest.h>

#include "label_sources.hpp"
#include "matlab_v5.hpp"
#include "text_lists.hpp"

#include "helpers.hpp"
#include "shared_data.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

const fs::path kShared = test::shared_imagenet();
const fs::path kDevkitData = kShared / "ILSVRC2012_devkit_t12" / "data";

bool have_shared() {
    return fs::exists(kDevkitData / "meta.mat") && fs::exists(kShared / "imagenet2012_validation_labels.txt");
}

// ILSVRC2012_ID -> (WNID, words), from the derived tsv.
struct TsvRow {
    int id;
    std::string wnid, words;
};
std::vector<TsvRow> read_tsv() {
    std::vector<TsvRow> rows;
    for (const std::string& line : imgpack::read_lines(kShared / "ilsvrc2012_devkit_id_wnid_words.tsv")) {
        size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
        REQUIRE(t2 != std::string::npos);
        rows.push_back({std::stoi(line.substr(0, t1)), line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
    }
    return rows;
}

std::vector<std::string> val_names(size_t n) {
    std::vector<std::string> names;
    char buf[64];
    for (size_t i = 1; i <= n; ++i) {
        std::snprintf(buf, sizeof buf, "ILSVRC2012_val_%08zu.JPEG", i);
        names.emplace_back(buf);
    }
    return names;
}

// The message of the runtime_error `f` throws; fails the test for no exception or another type.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL("expected std::runtime_error, got another exception: ", e.what());
    }
    FAIL("expected std::runtime_error, nothing was thrown");
    return {};
}

// Runs `f` on malformed input: success or std::runtime_error are both fine; anything else is not.
template <class F>
bool survives(F&& f) {
    try {
        f();
    } catch (const std::runtime_error&) {
    } catch (const std::exception& e) {
        FAIL_CHECK("unexpected exception type: ", e.what());
        return false;
    }
    return true;
}

// --- a small MAT v5 writer, for synthetic files in either byte order -------------------------

enum : uint32_t { miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miDOUBLE = 9,
                  miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16 };
enum : uint8_t { mxCELL = 1, mxSTRUCT = 2, mxCHAR = 4, mxDOUBLE = 6, mxUINT8 = 9 };

// Appends with a loop: GCC 12's -Warray-bounds/-Wstringop-overread misfire on vector::insert
// of byte vectors at -O3.
void append(Bytes& o, const Bytes& d) {
    for (unsigned char c : d) o.push_back(c);
}

struct MatWriter {
    bool big = false;

    void put(Bytes& o, uint64_t v, int width) const {
        for (int i = 0; i < width; ++i) {
            int shift = big ? 8 * (width - 1 - i) : 8 * i;
            o.push_back(uint8_t(v >> shift));
        }
    }
    Bytes u32s(std::initializer_list<uint32_t> vs) const {
        Bytes o;
        for (uint32_t v : vs) put(o, v, 4);
        return o;
    }
    Bytes element(uint32_t type, const Bytes& data, bool small = true) const {
        Bytes o;
        if (small && !data.empty() && data.size() <= 4) {
            put(o, (uint32_t(data.size()) << 16) | type, 4);
            append(o, data);
            o.resize(8, 0);
            return o;
        }
        put(o, type, 4);
        put(o, data.size(), 4);
        append(o, data);
        if (type != miMATRIX && type != miCOMPRESSED) o.resize((o.size() + 7) / 8 * 8, 0);
        return o;
    }
    Bytes matrix(uint8_t cls, std::vector<uint32_t> dims, const std::string& name, const Bytes& body,
                 uint32_t flags = 0) const {
        Bytes in = element(miUINT32, u32s({cls | (flags << 8), 0}), false);
        Bytes d;
        for (uint32_t v : dims) put(d, v, 4);
        append(in, element(miINT32, d));
        append(in, element(miINT8, Bytes(name.begin(), name.end())));
        append(in, body);
        return element(miMATRIX, in);
    }
    Bytes scalar(double v, uint32_t stored_as) const {
        Bytes d;
        if (stored_as == miUINT8) d.push_back(uint8_t(v));
        else if (stored_as == miINT16) put(d, uint16_t(int16_t(v)), 2);
        else {
            uint64_t bits;
            std::memcpy(&bits, &v, 8);
            put(d, bits, 8);
        }
        return matrix(mxDOUBLE, {1, 1}, "", element(stored_as, d));
    }
    Bytes utf8_chars(const std::string& s) const {
        return matrix(mxCHAR, {1, uint32_t(s.size())}, "", element(miUTF8, Bytes(s.begin(), s.end())));
    }
    Bytes utf16_chars(const std::u16string& s) const {
        Bytes d;
        for (char16_t c : s) put(d, c, 2);
        return matrix(mxCHAR, {1, uint32_t(s.size())}, "", element(miUINT16, d));
    }
    Bytes strukt(const std::string& name, std::vector<uint32_t> dims, const std::vector<std::string>& fields,
                 const std::vector<Bytes>& values, uint32_t len = 32) const {
        Bytes body = element(miINT32, u32s({len}));
        Bytes names;
        for (const std::string& f : fields) {
            Bytes n(f.begin(), f.end());
            n.resize(len, 0);
            append(names, n);
        }
        append(body, element(miINT8, names));
        for (const Bytes& v : values) append(body, v);
        return matrix(mxSTRUCT, dims, name, body);
    }
    Bytes file(const std::vector<Bytes>& vars) const {
        const std::string text = "MATLAB 5.0 MAT-file, written by imgpack's tests";
        Bytes o(116, ' ');
        for (size_t i = 0; i < text.size(); ++i) o[i] = uint8_t(text[i]);
        o.resize(124, 0);
        put(o, 0x0100, 2);
        put(o, ('M' << 8) | 'I', 2);
        for (const Bytes& v : vars) append(o, v);
        return o;
    }
};

// A miniature meta.mat: 4 leaves (stored out of ID order) and 2 inner synsets, the fields of the
// real one, numbers stored as miUINT8, miINT16 and miDOUBLE, chars as miUTF8 and miUINT16 (with a
// surrogate pair), plus a cell variable, an empty matrix and a logical array.
Bytes mini_meta(bool big) {
    MatWriter w{big};
    const std::vector<std::string> fields = {"ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children"};
    struct S {
        int id;
        const char* wnid;
        std::u16string words;
        int children;
    };
    const std::vector<S> synsets = {
        {3, "n00000003", u"three", 0},
        {1, "n00000001", u"one, first", 0},
        {5, "n00000005", u"animal", 2},
        {2, "n00000002", u"two \u00e9\U0001F600", 0},
        {4, "n00000004", u"four", 0},
        {6, "n00000006", u"entity", 1},
    };
    std::vector<Bytes> values;
    for (size_t i = 0; i < synsets.size(); ++i) {
        const S& s = synsets[i];
        values.push_back(w.scalar(s.id, i % 2 ? miUINT8 : miINT16));
        values.push_back(w.utf8_chars(s.wnid));
        values.push_back(w.utf16_chars(s.words));
        values.push_back(w.utf8_chars("gloss"));
        values.push_back(w.scalar(s.children, miDOUBLE));
        if (s.children) {
            Bytes d;
            for (int c = 0; c < s.children; ++c) w.put(d, uint8_t(c + 1), 1);
            values.push_back(w.matrix(mxDOUBLE, {1, uint32_t(s.children)}, "", w.element(miUINT8, d)));
        } else {
            values.push_back(w.element(miMATRIX, {}));  // []: an miMATRIX of 0 bytes
        }
    }
    Bytes synsets_var = w.strukt("synsets", {uint32_t(synsets.size()), 1}, fields, values);
    Bytes cell_body = w.utf8_chars("a");
    append(cell_body, w.scalar(7, miDOUBLE));
    Bytes cell = w.matrix(mxCELL, {1, 2}, "notes", cell_body);
    Bytes logical = w.matrix(mxUINT8, {1, 3}, "flags", w.element(miUINT8, {1, 0, 1}), 0x02);
    return w.file({cell, logical, synsets_var});  // synsets last: every cut breaks or drops it
}

}  // namespace

// --- the MAT v5 reader -------------------------------------------------------------------------

TEST_CASE("mat5: a synthetic meta.mat reads the same in both byte orders") {
    for (bool big : {false, true}) {
        CAPTURE(big);
        Bytes f = mini_meta(big);
        imgpack::mat5::File file = imgpack::mat5::parse(f, "mini.mat");
        CHECK(file.big_endian == big);
        CHECK(file.header_text == "MATLAB 5.0 MAT-file, written by imgpack's tests");
        REQUIRE(file.variables.size() == 3);
        const auto* cell = file.find("notes");
        REQUIRE(cell);
        CHECK(cell->cls == imgpack::mat5::ClassId::Cell);
        REQUIRE(cell->elements.size() == 2);
        CHECK(cell->elements[0].text == "a");
        CHECK(cell->elements[1].real == std::vector<double>{7});
        const auto* flags = file.find("flags");
        REQUIRE(flags);
        CHECK(flags->logical);
        CHECK(flags->real == std::vector<double>{1, 0, 1});
        const auto* s = file.find("synsets");
        REQUIRE(s);
        CHECK(s->numel() == 6);
        CHECK(s->fields.size() == 6);
        REQUIRE(s->field(2, "children"));
        CHECK(s->field(2, "children")->real == std::vector<double>{1, 2});
        CHECK(s->field(5, "children")->real == std::vector<double>{1});
        CHECK(s->field(0, "children")->numel() == 0);
        CHECK(s->field(0, "nope") == nullptr);

        imgpack::DevkitMeta meta = imgpack::parse_devkit_meta(f, "mini.mat");
        REQUIRE(meta.leaves.size() == 4);
        for (int id = 1; id <= 4; ++id) {
            CHECK(meta.by_id(id).id == id);
            CHECK(meta.by_id(id).wnid == "n0000000" + std::to_string(id));
        }
        CHECK(meta.by_id(1).words == "one, first");
        CHECK(meta.by_id(2).words == "two \xC3\xA9\xF0\x9F\x98\x80");  // UTF-16 (with a surrogate pair) -> UTF-8
        CHECK_THROWS_AS(meta.by_id(5), std::runtime_error);
    }
}

TEST_CASE("mat5: every truncation and every corrupted word of a MAT-file fails cleanly") {
    for (bool big : {false, true}) {
        CAPTURE(big);
        const Bytes good = mini_meta(big);
        // A file cut anywhere is an error naming the file, never an out-of-bounds read.
        for (size_t cut = 0; cut < good.size(); ++cut) {
            CAPTURE(cut);
            Bytes f(good.begin(), good.begin() + long(cut));
            std::string e = error_of([&] { imgpack::parse_devkit_meta(f, "cut.mat"); });
            CHECK(e.find("cut.mat") != std::string::npos);
        }
        // Each 4-byte word (tags, byte counts, dimensions, data) set to hostile values.
        for (size_t at = 128; at + 4 <= good.size(); at += 4) {
            for (uint32_t v : {0u, 7u, 0xFFFFFFFFu, 0x00080001u, 0x0000000Eu}) {
                Bytes f = good;
                std::memcpy(f.data() + at, &v, 4);
                CAPTURE(at);
                CAPTURE(v);
                survives([&] { imgpack::parse_devkit_meta(f, "bad.mat"); });
            }
        }
        // Single bytes flipped.
        for (size_t at = 0; at < good.size(); ++at) {
            Bytes f = good;
            f[at] ^= 0xA5;
            survives([&] { imgpack::parse_devkit_meta(f, "bad.mat"); });
        }
    }
}

TEST_CASE("mat5: header problems, nesting depth and a declared size past the end are named") {
    Bytes f = mini_meta(false);
    CHECK(error_of([&] { imgpack::mat5::parse(Bytes(f.begin(), f.begin() + 100), "x.mat"); }).find("128-byte header") !=
          std::string::npos);
    Bytes v4 = f;
    v4[126] = v4[127] = 0;
    CHECK(error_of([&] { imgpack::mat5::parse(v4, "x.mat"); }).find("endian indicator") != std::string::npos);
    Bytes v73 = f;
    v73[124] = 0x00;
    v73[125] = 0x02;
    CHECK(error_of([&] { imgpack::mat5::parse(v73, "x.mat"); }).find("v7.3") != std::string::npos);

    // The synsets struct's byte count (after the 'notes' cell) made larger than the file.
    MatWriter w;
    size_t cell_bytes = w.matrix(mxCELL, {1, 2}, "notes", [&] {
        Bytes b = w.utf8_chars("a");
        append(b, w.scalar(7, miDOUBLE));
        return b;
    }()).size();
    Bytes big = f;
    uint32_t huge = uint32_t(f.size());
    std::memcpy(big.data() + 128 + cell_bytes + 4, &huge, 4);
    std::string e = error_of([&] { imgpack::mat5::parse(big, "x.mat"); });
    CHECK(e.find("miMATRIX element claims") != std::string::npos);
    CHECK(e.find("at byte " + std::to_string(128 + cell_bytes)) != std::string::npos);

    // Cells nested 100 deep stop at the depth limit instead of exhausting the stack.
    Bytes nested = w.matrix(mxDOUBLE, {0, 0}, "", {});
    for (int i = 0; i < 100; ++i) nested = w.matrix(mxCELL, {1, 1}, i == 99 ? "deep" : "", nested);
    CHECK(error_of([&] { imgpack::mat5::parse(w.file({nested}), "deep.mat"); }).find("nested more than") !=
          std::string::npos);

    // A file with no synsets variable is not the devkit's meta.mat.
    CHECK(error_of([&] { imgpack::parse_devkit_meta(w.file({nested}), "deep.mat"); }).find("deep.mat") !=
          std::string::npos);
    CHECK(error_of([&] { imgpack::parse_devkit_meta(w.file({}), "empty.mat"); }).find("no 'synsets'") !=
          std::string::npos);
}

TEST_CASE("devkit meta.mat: compressed, 1860 synsets, 1000 leaves equal to the tsv") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lives there)");
    const Bytes f = test::read_file(kDevkitData / "meta.mat");
    // The whole variable is one zlib-compressed element (miCOMPRESSED) right after the header.
    REQUIRE(f.size() > 136);
    CHECK(f[128] == miCOMPRESSED);
    imgpack::mat5::File file = imgpack::mat5::parse(f, "meta.mat");
    CHECK(file.header_text.starts_with("MATLAB 5.0 MAT-file, Platform: GLNXA64"));
    REQUIRE(file.find("synsets"));
    CHECK(file.find("synsets")->numel() == 1860);
    CHECK(file.find("synsets")->fields ==
          std::vector<std::string>{"ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
                                   "wordnet_height", "num_train_images"});

    imgpack::DevkitMeta meta = imgpack::read_devkit_meta(kDevkitData / "meta.mat");
    std::vector<TsvRow> tsv = read_tsv();
    REQUIRE(tsv.size() == 1000);
    REQUIRE(meta.leaves.size() == 1000);
    for (size_t i = 0; i < 1000; ++i) {
        CAPTURE(i);
        CHECK(meta.leaves[i].id == tsv[i].id);
        CHECK(meta.leaves[i].wnid == tsv[i].wnid);
        CHECK(meta.leaves[i].words == tsv[i].words);
    }
    // The leaves' train image counts sum to the train split's 1,281,167.
    const auto* s = file.find("synsets");
    double train = 0;
    for (size_t e = 0; e < 1000; ++e) train += s->field(e, "num_train_images")->real.at(0);
    CHECK(train == 1281167);
}

TEST_CASE("devkit meta.mat: uncompressed, truncated, corrupted and bomb-like copies") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lives there)");
    const Bytes f = test::read_file(kDevkitData / "meta.mat");
    // The same file with its variable stored uncompressed parses to the same leaves.
    uint32_t clen;
    std::memcpy(&clen, f.data() + 132, 4);
    REQUIRE(clen == f.size() - 136);
    Bytes raw = imgpack::mat5::inflate_zlib(std::span(f).subspan(136), "meta.mat", 1 << 24);
    Bytes plain(f.begin(), f.begin() + 128);
    plain.insert(plain.end(), raw.begin(), raw.end());
    imgpack::DevkitMeta a = imgpack::parse_devkit_meta(f, "meta.mat");
    imgpack::DevkitMeta b = imgpack::parse_devkit_meta(plain, "plain.mat");
    REQUIRE(b.leaves.size() == 1000);
    for (size_t i = 0; i < 1000; ++i) CHECK((a.leaves[i].wnid == b.leaves[i].wnid && a.leaves[i].words == b.leaves[i].words));

    // Truncated anywhere, compressed or not: an error naming the file.
    for (size_t k = 0; k < 40; ++k) {
        size_t cut = 1 + k * (f.size() - 2) / 39;
        CAPTURE(cut);
        CHECK(error_of([&] { imgpack::parse_devkit_meta(std::span(f).first(cut), "meta.mat"); }).find("meta.mat") !=
              std::string::npos);
    }
    for (size_t k = 0; k < 12; ++k) {
        size_t cut = 130 + k * (plain.size() - 131) / 11;
        CAPTURE(cut);
        CHECK(error_of([&] { imgpack::parse_devkit_meta(std::span(plain).first(cut), "plain.mat"); })
                  .find("plain.mat") != std::string::npos);
    }
    CHECK(error_of([&] { imgpack::parse_devkit_meta(std::span(f).first(5000), "meta.mat"); }) ==
          "imgpack: meta.mat: malformed MAT-file: miCOMPRESSED element claims " + std::to_string(clen) +
              " bytes but only 4864 remain in the file (is it truncated?) at byte 128");
    // The compressed element's byte count: too large, too small.
    Bytes big = f;
    uint32_t v = clen + 8;
    std::memcpy(big.data() + 132, &v, 4);
    CHECK(error_of([&] { imgpack::parse_devkit_meta(big, "meta.mat"); }).find("claims " + std::to_string(v) + " bytes") !=
          std::string::npos);
    Bytes small = f;
    v = clen / 2;
    std::memcpy(small.data() + 132, &v, 4);
    CHECK(error_of([&] { imgpack::parse_devkit_meta(small, "meta.mat"); }).find("truncated") != std::string::npos);
    // Corrupted compressed bytes: a zlib error or a parse error, never a crash.
    for (size_t at : {140, 1000, 50000, 120000, 176000}) {
        Bytes c = f;
        c[at] ^= 0x5A;
        survives([&] { imgpack::parse_devkit_meta(c, "meta.mat"); });
    }
    // Inflating past the limit stops.
    imgpack::mat5::Limits limits;
    limits.max_inflated_bytes = 4096;
    CHECK(error_of([&] { imgpack::mat5::parse(f, "meta.mat", limits); }).find("more than 4096 bytes") !=
          std::string::npos);
    limits = {};
    limits.max_arrays = 1000;
    CHECK(error_of([&] { imgpack::mat5::parse(f, "meta.mat", limits); }).find("more than 1000 arrays") !=
          std::string::npos);
    // The uncompressed copy's first tags (variable, flags, dims, name, field names, first
    // fields) corrupted. (The synthetic file above gets the exhaustive treatment.)
    for (size_t at = 128; at < 128 + 320; at += 4) {
        Bytes c = plain;
        uint32_t bad = 0xFFFFFFFF;
        std::memcpy(c.data() + at, &bad, 4);
        CAPTURE(at);
        survives([&] { imgpack::parse_devkit_meta(c, "plain.mat"); });
    }
}

// --- validation labels ----------------------------------------------------------------------

TEST_CASE("devkit ground truth through meta.mat equals TFDS's validation labels, all 50,000") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lives there)");
    const auto tfds = imgpack::read_lines(kShared / "imagenet2012_validation_labels.txt");
    REQUIRE(tfds.size() == 50000);
    const auto names = val_names(50000);

    imgpack::Devkit kit = imgpack::read_devkit(kShared / "ILSVRC2012_devkit_t12");
    CHECK(kit.has_val_ground_truth);
    REQUIRE(kit.val_ids.size() == 50000);
    CHECK(std::vector<int>(kit.val_ids.begin(), kit.val_ids.begin() + 10) ==
          std::vector<int>{490, 361, 171, 822, 297, 482, 13, 704, 599, 164});
    CHECK(kit.val_wnids() == tfds);

    // The devkit directory, its data/ folder and the ground truth file with meta.mat beside it.
    for (fs::path p : {kShared / "ILSVRC2012_devkit_t12", kDevkitData}) {
        imgpack::ValLabels src = imgpack::read_val_labels(p);
        CHECK(src.kind == imgpack::ValLabelKind::DevkitDirectory);
        CHECK(src.description == "ILSVRC2012 devkit directory (ground truth + meta.mat)");
        CHECK(src.for_files(names) == tfds);
    }
    imgpack::ValLabels gt = imgpack::read_val_labels(kDevkitData / "ILSVRC2012_validation_ground_truth.txt");
    CHECK(gt.kind == imgpack::ValLabelKind::DevkitGroundTruth);
    CHECK(gt.meta_mat == kDevkitData / "meta.mat");
    CHECK(gt.for_files(names) == tfds);

    // TFDS's own file.
    imgpack::ValLabels t = imgpack::read_val_labels(kShared / "imagenet2012_validation_labels.txt");
    CHECK(t.kind == imgpack::ValLabelKind::TfdsList);
    CHECK(t.description.starts_with("TFDS validation labels file"));
    CHECK(t.for_files(names) == tfds);
    // A split of another size is an error naming both counts.
    std::string e = error_of([&] { t.for_files(val_names(49999)); });
    CHECK(e.find("50000 validation labels") != std::string::npos);
    CHECK(e.find("49999 files") != std::string::npos);
}

TEST_CASE("devkit tar.gz, read in-stream: detected, same 50,000 WNIDs, class names") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lives there)");
    test::TempDir tmp;
    fs::create_directories(tmp / "src/ILSVRC2012_devkit_t12/data");
    for (const char* f : {"meta.mat", "ILSVRC2012_validation_ground_truth.txt"})
        fs::copy_file(kDevkitData / f, tmp.path() / "src/ILSVRC2012_devkit_t12/data" / f);
    fs::path tgz = tmp / "ILSVRC2012_devkit_t12.tar.gz";
    auto r = test::run("tar -czf " + test::quote(tgz.string()) + " -C " + test::quote((tmp / "src").string()) +
                       " ILSVRC2012_devkit_t12");
    REQUIRE(r.status == 0);

    imgpack::ValLabels src = imgpack::read_val_labels(tgz);
    CHECK(src.kind == imgpack::ValLabelKind::DevkitArchive);
    CHECK(src.description == "ILSVRC2012 devkit archive (ground truth + meta.mat)");
    const auto tfds = imgpack::read_lines(kShared / "imagenet2012_validation_labels.txt");
    CHECK(src.for_files(val_names(50000)) == tfds);

    // Class names from the archive, the directory, meta.mat and synset_words.txt all agree with the tsv.
    std::map<std::string, std::string> want;
    for (const TsvRow& row : read_tsv()) want[row.wnid] = row.words;
    CHECK(imgpack::read_class_names(tgz) == want);
    CHECK(imgpack::read_class_names(tmp / "src/ILSVRC2012_devkit_t12") == want);
    CHECK(imgpack::read_class_names(kDevkitData / "meta.mat") == want);
    CHECK(imgpack::read_class_names(kShared / "synset_words.txt") == want);

    // The ground truth alone needs meta.mat beside it: without one, an error asking for the devkit.
    fs::create_directories(tmp / "alone");
    fs::copy_file(kDevkitData / "ILSVRC2012_validation_ground_truth.txt", tmp / "alone/gt.txt");
    std::string e = error_of([&] { imgpack::read_val_labels(tmp / "alone/gt.txt"); });
    CHECK(e.find("meta.mat") != std::string::npos);
    CHECK(e.find("ILSVRC2012_devkit_t12.tar.gz") != std::string::npos);
    fs::copy_file(kDevkitData / "meta.mat", tmp / "alone/meta.mat");
    CHECK(imgpack::read_val_labels(tmp / "alone/gt.txt").for_files(val_names(50000)) == tfds);

    // An archive without the devkit, a tar.gz cut short, a devkit without its ground truth.
    test::write_text(tmp / "src/other.txt", "hello\n");
    REQUIRE(test::run("tar -czf " + test::quote((tmp / "other.tar.gz").string()) + " -C " +
                      test::quote((tmp / "src").string()) + " other.txt").status == 0);
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "other.tar.gz"); }).find("not the ILSVRC2012 devkit") !=
          std::string::npos);
    Bytes whole = test::read_file(tgz);
    test::write_file(tmp / "cut.tar.gz", Bytes(whole.begin(), whole.begin() + long(whole.size() / 2)));
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "cut.tar.gz"); }).find("cut.tar.gz") !=
          std::string::npos);
    fs::remove(tmp / "src/ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "src/ILSVRC2012_devkit_t12"); }).find("not an extracted") !=
          std::string::npos);
    CHECK(imgpack::read_class_names(tmp / "src/ILSVRC2012_devkit_t12").size() == 1000);  // names need meta.mat only
}

TEST_CASE("Kaggle LOC_val_solution.csv, rows shuffled: matched by name to the same labels") {
    if (!have_shared()) IMGPACK_SKIP(kShared.string(), " is absent (the real ImageNet metadata lives there)");
    const auto tfds = imgpack::read_lines(kShared / "imagenet2012_validation_labels.txt");
    const auto names = val_names(tfds.size());
    std::vector<std::string> rows;
    for (size_t i = 0; i < tfds.size(); ++i) {
        std::string stem = names[i].substr(0, names[i].size() - 5);
        rows.push_back(stem + "," + tfds[i] + " 10 20 300 400 " + tfds[i] + " 1 2 3 4 ");
    }
    std::mt19937 rng(12345);
    std::shuffle(rows.begin(), rows.end(), rng);
    auto csv = [&](const std::vector<std::string>& r, const std::string& eol = "\n") {
        std::string s = "ImageId,PredictionString" + eol;
        for (const auto& row : r) s += row + eol;
        return s;
    };
    test::TempDir tmp;
    test::write_text(tmp / "LOC_val_solution.csv", csv(rows));
    imgpack::ValLabels src = imgpack::read_val_labels(tmp / "LOC_val_solution.csv");
    CHECK(src.kind == imgpack::ValLabelKind::KaggleCsv);
    CHECK(src.description.starts_with("Kaggle LOC_val_solution.csv"));
    CHECK(src.for_files(names) == tfds);

    // The error cases, on the first 600 files (fast under the sanitizers).
    const std::vector<std::string> few_names = val_names(600);
    const std::vector<std::string> few_tfds(tfds.begin(), tfds.begin() + 600);
    std::vector<std::string> few;
    for (const std::string& row : rows)
        if (row.compare(0, 23, "ILSVRC2012_val_00000600") <= 0) few.push_back(row);
    REQUIRE(few.size() == 600);
    test::write_text(tmp / "crlf.csv", csv(few, "\r\n"));
    CHECK(imgpack::read_val_labels(tmp / "crlf.csv").for_files(few_names) == few_tfds);

    // A missing row, a row for a file not in the split, a repeated row, a bad label.
    std::vector<std::string> missing(few.begin() + 1, few.end());
    test::write_text(tmp / "missing.csv", csv(missing));
    std::string e = error_of([&] { imgpack::read_val_labels(tmp / "missing.csv").for_files(few_names); });
    CHECK(e.find("missing.csv has no row for 1 of the 600 validation files") != std::string::npos);
    CHECK(e.find(few[0].substr(0, 23) + ".JPEG") != std::string::npos);
    e = error_of([&] { imgpack::read_val_labels(tmp / "crlf.csv").for_files(val_names(599)); });
    CHECK(e.find("rows for 1 files that are not in the validation split (ILSVRC2012_val_00000600)") != std::string::npos);
    auto twice = few;
    twice.push_back(few[5]);
    test::write_text(tmp / "twice.csv", csv(twice));
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "twice.csv").for_files(few_names); }).find("line 602: a second row for") !=
          std::string::npos);
    auto bad = few;
    bad[2] = "ILSVRC2012_val_99999999,cat 1 2 3 4";
    test::write_text(tmp / "bad.csv", csv(bad));
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "bad.csv").for_files(few_names); }).find("line 4: 'cat'") != std::string::npos);
    bad[2] = "ILSVRC2012_val_99999999,";
    test::write_text(tmp / "bad.csv", csv(bad));
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "bad.csv").for_files(few_names); }).find("line 4: no label") !=
          std::string::npos);
    test::write_text(tmp / "header.csv", "ImageId,PredictionString\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "header.csv").for_files(few_names); }).find("no rows") != std::string::npos);

    // The helper on its own, with names in directories and two files of one stem.
    std::map<std::string, std::string> by_stem = {{"a", "n00000001"}, {"b", "n00000002"}};
    CHECK(imgpack::wnids_in_name_order(by_stem, {"val/a.JPEG", "b.png"}, "x.csv") ==
          std::vector<std::string>{"n00000001", "n00000002"});
    CHECK(error_of([&] { imgpack::wnids_in_name_order(by_stem, {"a.JPEG", "a.png", "b.JPEG"}, "x.csv"); })
              .find("two validation files have the stem a") != std::string::npos);
}

TEST_CASE("TFDS labels and synset words: malformed files give line-numbered errors") {
    test::TempDir tmp;
    const auto names = val_names(3);
    test::write_text(tmp / "v.txt", "n00000001\nn00000002\r\nn00000001\n");
    CHECK(imgpack::read_val_labels(tmp / "v.txt").for_files(names) ==
          std::vector<std::string>{"n00000001", "n00000002", "n00000001"});
    test::write_text(tmp / "v.txt", "n00000001\nn00000002\nn0000000x\n");
    std::string e = error_of([&] { imgpack::read_val_labels(tmp / "v.txt").for_files(names); });
    CHECK(e.find("v.txt line 3: 'n0000000x' is not a WNID") != std::string::npos);
    test::write_text(tmp / "v.txt", "n00000001\n\nn00000002\nn00000003\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "v.txt").for_files(names); }).find("line 2 is blank") != std::string::npos);
    test::write_text(tmp / "v.txt", "n00000001\nn00000002\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "v.txt").for_files(names); }).find("has 2 validation labels") !=
          std::string::npos);

    // Ground truth IDs out of range, or not numbers, against a 4-leaf meta.mat.
    test::write_file(tmp / "meta.mat", mini_meta(false));
    test::write_text(tmp / "ILSVRC2012_validation_ground_truth.txt", "1\n4\n2\n");
    CHECK(imgpack::read_val_labels(tmp / "ILSVRC2012_validation_ground_truth.txt").for_files(names) ==
          std::vector<std::string>{"n00000001", "n00000004", "n00000002"});
    CHECK(imgpack::read_devkit(tmp.path()).val_wnids() == std::vector<std::string>{"n00000001", "n00000004", "n00000002"});
    test::write_text(tmp / "ILSVRC2012_validation_ground_truth.txt", "1\n5\n2\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "ILSVRC2012_validation_ground_truth.txt").for_files(names); })
              .find("line 2: ILSVRC2012_ID 5 is outside 1..4") != std::string::npos);
    test::write_text(tmp / "ILSVRC2012_validation_ground_truth.txt", "1\n2\n3x\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "ILSVRC2012_validation_ground_truth.txt").for_files(names); })
              .find("line 3: '3x' is not an ILSVRC2012_ID") != std::string::npos);

    // Unknown kinds.
    test::write_text(tmp / "hello.txt", "hello world\n");
    e = error_of([&] { imgpack::read_val_labels(tmp / "hello.txt"); });
    CHECK(e.find("cannot tell what kind of validation labels") != std::string::npos);
    CHECK(e.find("'hello world'") != std::string::npos);
    test::write_text(tmp / "names.txt", "n01440764 tench, Tinca tinca\n");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "names.txt"); }).find("looks like a class-name list") !=
          std::string::npos);
    test::write_text(tmp / "empty.txt", "");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "empty.txt"); }).find("is empty") != std::string::npos);
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "absent.txt"); }).find("absent.txt: cannot open: No such file") !=
          std::string::npos);
    fs::create_directories(tmp / "not_a_devkit");
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "not_a_devkit"); }).find("not an extracted ILSVRC2012 devkit") !=
          std::string::npos);
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "meta.mat"); }).find("is a MAT-file") != std::string::npos);
    test::write_file(tmp / "noise.bin", Bytes{0x1F, 0x8B, 8, 0, 1, 2, 3, 4, 5, 6, 7});
    CHECK(error_of([&] { imgpack::read_val_labels(tmp / "noise.bin"); }).find("noise.bin") != std::string::npos);

    // synset_words.txt / LOC_synset_mapping.txt.
    test::write_text(tmp / "w.txt", "n00000001 tench, Tinca tinca\r\nn00000002\tgoldfish\n");
    CHECK(imgpack::read_class_names(tmp / "w.txt") ==
          std::map<std::string, std::string>{{"n00000001", "tench, Tinca tinca"}, {"n00000002", "goldfish"}});
    test::write_text(tmp / "w.txt", "n00000001 tench\nn00000001 again\n");
    CHECK(error_of([&] { imgpack::read_class_names(tmp / "w.txt"); }).find("line 2: n00000001 is named twice") !=
          std::string::npos);
    test::write_text(tmp / "w.txt", "n00000001 tench\nn00000002\n");
    CHECK(error_of([&] { imgpack::read_class_names(tmp / "w.txt"); }).find("line 2: no name after n00000002") !=
          std::string::npos);
    test::write_text(tmp / "w.txt", "tench n00000001\n");
    CHECK(error_of([&] { imgpack::read_class_names(tmp / "w.txt"); }).find("line 1: 'tench n00000001' does not start") !=
          std::string::npos);
    CHECK(imgpack::read_class_names(tmp / "meta.mat").at("n00000002") == "two \xC3\xA9\xF0\x9F\x98\x80");
}
