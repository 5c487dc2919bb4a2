// The loader's decode (imgpack/decode.hpp): full decodes identical to libjpeg-turbo's and PIL's,
// output views, and bad data (never a crash, always a DecodeError, the Decoder usable after).
#include "loader/reference.hpp"

#include <doctest/doctest.h>

#include <imgpack/decode.hpp>

#include <sys/stat.h>

#include <cmath>
#include <fstream>
#include <map>

using imgpack::Decoder;
using imgpack::DecodeError;
using imgpack::ImageView;
using imgpack::TransformKind;
using imgpack::TransformOptions;

namespace {

struct Case {
    std::string name;
    int width, height;
    test::JpegOptions jpeg;
};

// Every layout the decoder must handle: the chroma subsamplings ImageNet holds, progressive,
// restart markers, grayscale, RGB, CMYK and YCCK, sizes that are not multiples of the MCU.
std::vector<Case> decode_cases() {
    using test::JpegColor;
    std::vector<Case> cases = {
        {"420", 500, 375, {}},
        {"422", 333, 500, {90, 2, 1}},
        {"444", 257, 191, {95, 1, 1}},
        {"440", 120, 97, {90, 1, 2}},
        {"411", 211, 77, {90, 4, 1}},
        {"420-progressive", 500, 333, {90, 2, 2, true}},
        {"444-progressive", 64, 200, {85, 1, 1, true}},
        {"420-restart", 301, 203, {90, 2, 2, false, 1}},
        {"gray", 375, 500, {90, 1, 1, false, 0, JpegColor::gray}},
        {"gray-progressive", 129, 65, {90, 1, 1, true, 0, JpegColor::gray}},
        {"rgb", 99, 101, {90, 1, 1, false, 0, JpegColor::rgb}},
        {"cmyk", 150, 100, {90, 1, 1, false, 0, JpegColor::cmyk}},
        {"ycck", 151, 99, {90, 2, 2, false, 0, JpegColor::ycck}},
        {"1x1", 1, 1, {}},
        {"17x3", 17, 3, {}},
        {"2x40", 2, 40, {}},
    };
    return cases;
}

std::vector<unsigned char> make_case(const Case& c, uint64_t seed = 7) {
    return test::encode_jpeg(test::make_picture(c.width, c.height, seed), c.jpeg);
}

std::vector<unsigned char> decode_full(Decoder& d, const std::vector<unsigned char>& jpeg) {
    const Decoder::Header h = d.header(jpeg);
    std::vector<unsigned char> out(static_cast<size_t>(h.width) * h.height * 3);
    TransformOptions none;
    none.kind = TransformKind::none;
    d.decode(jpeg, none, 0, ImageView::hwc(out.data(), h.width, h.height));
    return out;
}

bool is_four_channel(const Case& c) {
    return c.jpeg.color == test::JpegColor::cmyk || c.jpeg.color == test::JpegColor::ycck;
}

}  // namespace

TEST_CASE("decode: a full decode is pixel-identical to TurboJPEG's and to a plain libjpeg API decode") {
    Decoder d;
    for (const Case& c : decode_cases()) {
        if (is_four_channel(c)) continue;  // TurboJPEG makes RGB of CMYK its own way; PIL's is the reference
        CAPTURE(c.name);
        const auto jpeg = make_case(c);
        const Decoder::Header h = d.header(jpeg);
        CHECK(h.width == c.width);
        CHECK(h.height == c.height);
        const auto ours = decode_full(d, jpeg);
        CHECK(ours == test::turbojpeg_decode(jpeg).rgb);
        CHECK(ours == test::libjpeg_decode(jpeg).rgb);
    }
}

TEST_CASE("decode: a full decode is pixel-identical to PIL's (Image.open().convert('RGB'))") {
    if (!test::torchvision_available()) {
        MESSAGE("skipped: /usr/bin/python3 lacks PIL or torchvision (Debian: python3-pil, python3-torchvision)");
        return;
    }
    test::TempDir dir;
    std::ofstream jobs(dir / "jobs.jsonl");
    std::map<std::string, std::vector<unsigned char>> ours;
    Decoder d;
    for (const Case& c : decode_cases()) {
        const auto jpeg = make_case(c);
        test::write_file(dir / (c.name + ".jpg"), jpeg);
        jobs << "{\"jpeg\": \"" << (dir / (c.name + ".jpg")).string() << "\", \"out\": \""
             << (dir / (c.name + ".rgb")).string() << "\"}\n";
        ours[c.name] = decode_full(d, jpeg);
    }
    jobs.close();
    test::torchvision_ref("decode " + test::quote((dir / "jobs.jsonl").string()));
    for (const Case& c : decode_cases()) {
        CAPTURE(c.name);
        CHECK(test::read_file(dir / (c.name + ".rgb")) == ours[c.name]);
    }
}

TEST_CASE("decode: NCHW and NHWC views hold the same pixels, and a view of the wrong size is refused") {
    Decoder d;
    const auto jpeg = make_case({"420", 123, 77, {}});
    const auto hwc = decode_full(d, jpeg);
    std::vector<unsigned char> chw(hwc.size());
    TransformOptions none;
    none.kind = TransformKind::none;
    d.decode(jpeg, none, 0, ImageView::chw(chw.data(), 123, 77));
    for (int y = 0; y < 77; ++y)
        for (int x = 0; x < 123; ++x)
            for (int c = 0; c < 3; ++c)
                REQUIRE(chw[(c * 77 + y) * 123 + x] == hwc[(y * 123 + x) * 3 + c]);
    CHECK_THROWS_AS(d.decode(jpeg, none, 0, ImageView::hwc(chw.data(), 122, 77)), std::invalid_argument);
    TransformOptions train;
    std::vector<unsigned char> small(100 * 100 * 3);
    CHECK_THROWS_AS(d.decode(jpeg, train, 0, ImageView::hwc(small.data(), 100, 100)), std::invalid_argument);
    // The Decoder works after a refusal.
    CHECK(decode_full(d, jpeg) == hwc);
}

TEST_CASE("decode: corrupt and truncated JPEGs throw DecodeError, never crash, and leave the Decoder usable") {
    Decoder d;
    const std::vector<Case> cases = {{"420", 200, 150, {}}, {"420-progressive", 160, 120, {90, 2, 2, true}},
                                     {"444-restart", 90, 70, {90, 1, 1, false, 1}}};
    TransformOptions train, eval, none;
    eval.kind = TransformKind::eval;
    none.kind = TransformKind::none;
    std::vector<unsigned char> out(224 * 224 * 3), full;
    for (const Case& c : cases) {
        CAPTURE(c.name);
        const auto jpeg = make_case(c);
        const auto good = decode_full(d, jpeg);
        full.resize(good.size());
        // Every truncation: a premature end of data is an error whenever the decode reaches it.
        int errors = 0;
        for (size_t n = 0; n + 2 < jpeg.size(); n += 1 + n / 50) {  // up to the EOI marker
            std::vector<unsigned char> cut(jpeg.begin(), jpeg.begin() + static_cast<ptrdiff_t>(n));
            CHECK_THROWS_AS(d.decode(cut, none, 0, ImageView::hwc(full.data(), c.width, c.height)), DecodeError);
            try {
                d.decode(cut, train, n, ImageView::hwc(out.data(), 224, 224));
            } catch (const DecodeError&) {
                ++errors;
            }
        }
        CHECK(errors > 0);
        // Flipped bytes: an error or an image, never a crash (ASan checks every access).
        uint64_t state = 99;
        for (int i = 0; i < 300; ++i) {
            std::vector<unsigned char> bad = jpeg;
            for (int k = 0; k < 1 + i % 4; ++k) {
                const uint64_t r = imgpack::splitmix64(state++);
                bad[r % bad.size()] ^= static_cast<unsigned char>(1 + (r >> 32) % 255);
            }
            for (const TransformOptions* t : {&train, &eval}) {
                try {
                    d.decode(bad, *t, static_cast<uint64_t>(i), ImageView::hwc(out.data(), 224, 224));
                } catch (const DecodeError&) {
                }
            }
        }
        CHECK(decode_full(d, jpeg) == good);
    }
    const std::vector<unsigned char> empty, junk = {0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3};
    CHECK_THROWS_AS(d.header(empty), DecodeError);
    CHECK_THROWS_AS(d.header(junk), DecodeError);
    CHECK_THROWS_AS(d.decode(junk, train, 0, ImageView::hwc(out.data(), 224, 224)), DecodeError);
    try {
        d.header(junk);
    } catch (const DecodeError& e) {
        CHECK(std::string(e.what()).find("JPEG") != std::string::npos);
    }
}

TEST_CASE("decode: a moved-from Decoder refuses work, the moved-to one decodes") {
    Decoder a;
    const auto jpeg = make_case({"420", 40, 30, {}});
    Decoder b = std::move(a);
    CHECK_THROWS_AS(a.header(jpeg), std::logic_error);
    CHECK(b.header(jpeg).width == 40);
}

namespace {

std::vector<unsigned char> read_ppm(const std::filesystem::path& p, int& width, int& height) {
    const std::vector<unsigned char> f = test::read_file(p);
    std::string head(f.begin(), f.begin() + static_cast<ptrdiff_t>(std::min<size_t>(f.size(), 32)));
    int maxval = 0, consumed = 0;
    REQUIRE(std::sscanf(head.c_str(), "P6 %d %d %d%n", &width, &height, &maxval, &consumed) == 3);
    REQUIRE(maxval == 255);
    return {f.begin() + consumed + 1, f.end()};  // one whitespace byte after maxval
}

}  // namespace

TEST_CASE("imgpack decode: the CLI's pixels are the Decoder's, with the loader's sample seed, and a corrupt record fails cleanly") {
    test::TempDir dir;
    const auto good = make_case({"420", 160, 120, {}}, 21);
    auto bad = make_case({"420", 160, 120, {}}, 22);
    bad.resize(bad.size() / 2);  // the header parses; the scan ends early
    std::filesystem::create_directories(dir / "train" / "n00000001");
    test::write_file(dir / "train" / "n00000001" / "n00000001_1.JPEG", good);
    test::write_file(dir / "train" / "n00000001" / "n00000001_2.JPEG", bad);
    const std::string pack = (dir / "p.imgpack").string();
    test::RunResult r = test::cli("convert --train " + test::quote((dir / "train").string()) + " -o " + test::quote(pack) + " -q");
    REQUIRE_MESSAGE(r.status == 0, r.err);
    Decoder d;
    const std::string out = (dir / "out.ppm").string();
    SUBCASE("none") {
        r = test::cli("decode " + test::quote(pack) + " --split train --name n00000001_1.JPEG -o " + test::quote(out));
        REQUIRE_MESSAGE(r.status == 0, r.err);
        int w = 0, h = 0;
        CHECK(read_ppm(out, w, h) == decode_full(d, good));
        CHECK(w == 160);
        CHECK(h == 120);
    }
    SUBCASE("train, seed 9, epoch 4") {
        r = test::cli("decode " + test::quote(pack) + " --split train --index 0 --transform train --size 100 --seed 9 "
                      "--epoch 4 -o " + test::quote(out));
        REQUIRE_MESSAGE(r.status == 0, r.err);
        int w = 0, h = 0;
        const auto pixels = read_ppm(out, w, h);
        TransformOptions t;
        t.size = 100;
        std::vector<unsigned char> ours(100 * 100 * 3);
        d.decode(good, t, imgpack::sample_seed(9, 4, 0), ImageView::hwc(ours.data(), 100, 100));
        CHECK(pixels == ours);
    }
    SUBCASE("a corrupt record") {
        r = test::cli("decode " + test::quote(pack) + " --split train --index 1 -o " + test::quote(out));
        CHECK(r.status != 0);
        CHECK(r.err.find("split 'train', record 1 (n00000001_2.JPEG)") != std::string::npos);
        CHECK(r.err.find("Premature end of JPEG file") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(out));
        CHECK_FALSE(std::filesystem::exists(out + ".tmp"));
    }
    SUBCASE("an output that is not a regular file, or is the pack itself, is refused and left as it was") {
        const std::string fifo = (dir / "fifo.ppm").string();
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        r = test::cli("decode " + test::quote(pack) + " --split train --index 0 -o " + test::quote(fifo));
        CHECK(r.status == 1);
        CHECK_MESSAGE(r.err.find("is a FIFO (named pipe)") != std::string::npos, r.err);
        CHECK(std::filesystem::is_fifo(fifo));
        // The pack itself, under another name that ends in .ppm (a hard link).
        const std::string alias = (dir / "alias.ppm").string();
        const auto size = std::filesystem::file_size(pack);
        std::filesystem::create_hard_link(pack, alias);
        r = test::cli("decode " + test::quote(pack) + " --split train --index 0 -o " + test::quote(alias));
        CHECK(r.status == 1);
        CHECK_MESSAGE(r.err.find("is the input given as PACK") != std::string::npos, r.err);
        CHECK(std::filesystem::file_size(pack) == size);
        CHECK(std::filesystem::hard_link_count(pack) == 2);
        CHECK(test::temporaries(dir.path()).empty());
    }
}

TEST_CASE("decode: train options outside torchvision's domain are refused") {
    Decoder d;
    const auto jpeg = make_case({"420", 40, 30, {}});
    std::vector<unsigned char> out(224 * 224 * 3);
    TransformOptions t;
    t.ratio_min = 0;
    CHECK_THROWS_AS(d.decode(jpeg, t, 0, ImageView::hwc(out.data(), 224, 224)), std::invalid_argument);
    t = {};
    t.scale_max = std::nan("");
    CHECK_THROWS_AS(d.decode(jpeg, t, 0, ImageView::hwc(out.data(), 224, 224)), std::invalid_argument);
    t = {};
    t.size = 0;
    CHECK_THROWS_AS(d.decode(jpeg, t, 0, ImageView::hwc(out.data(), 0, 0)), std::invalid_argument);
    t = {};
    CHECK_NOTHROW(d.decode(jpeg, t, 0, ImageView::hwc(out.data(), 224, 224)));
}

namespace test {
long allocations();  // loader/allocation_counter.cpp: operator new calls so far
}

TEST_CASE("decode: once warm, a Decoder allocates nothing of its own per image") {
    // libjpeg's own per-image pools use malloc, not operator new: they are not counted here
    // (docs/loader.md says so).
    Decoder d;
    const std::vector<std::vector<unsigned char>> jpegs = {
        make_case({"420", 500, 375, {}}, 1), make_case({"422", 333, 500, {90, 2, 1}}, 2),
        make_case({"cmyk", 150, 100, {90, 1, 1, false, 0, test::JpegColor::cmyk}}, 3),
        make_case({"420-progressive", 640, 480, {90, 2, 2, true}}, 4)};
    TransformOptions train, eval, none;
    eval.kind = TransformKind::eval;
    none.kind = TransformKind::none;
    std::vector<unsigned char> out(224 * 224 * 3), full(640 * 480 * 3);
    auto pass = [&] {
        for (uint64_t i = 0; i < 50; ++i)
            for (const auto& j : jpegs) {
                d.decode(j, train, imgpack::sample_seed(1, 0, i), ImageView::hwc(out.data(), 224, 224));
                d.decode(j, eval, 0, ImageView::hwc(out.data(), 224, 224));
                const Decoder::Header h = d.header(j);
                d.decode(j, none, 0, ImageView::hwc(full.data(), h.width, h.height));
            }
    };
    const long cold = test::allocations();
    pass();  // warm: the buffers reach the sizes these images need
    CHECK(test::allocations() > cold);  // the counter sees the Decoder's buffers grow
    const long before = test::allocations();
    pass();  // the same images and draws again
    CHECK(test::allocations() - before == 0);
}
