// The loader's pixels: the cropped decode equals a full decode then the crop; train and eval equal
// torchvision's on PIL; the IDCT-scaled decode stays within the tolerance docs/loader.md states.
#include "loader/reference.hpp"

#include "plan.hpp"

#include <doctest/doctest.h>

#include <imgpack/decode.hpp>

#include <fstream>
#include <map>

using imgpack::Decoder;
using imgpack::ImageView;
using imgpack::TrainDraw;
using imgpack::TransformKind;
using imgpack::TransformOptions;

namespace {

struct Source {
    std::string name;
    int width, height;
    test::JpegOptions jpeg;
    uint64_t seed = 1;
};

std::vector<Source> sources() {
    using test::JpegColor;
    return {
        {"420", 500, 375, {}},
        {"420-portrait", 375, 500, {}, 2},
        {"422", 333, 500, {90, 2, 1}},
        {"444", 257, 191, {95, 1, 1}},
        {"440", 300, 97, {90, 1, 2}},
        {"411", 211, 177, {90, 4, 1}},
        {"420-progressive", 500, 333, {90, 2, 2, true}},
        {"444-progressive", 240, 200, {85, 1, 1, true}},
        {"420-restart", 301, 203, {90, 2, 2, false, 1}},
        {"gray", 375, 500, {90, 1, 1, false, 0, JpegColor::gray}},
        {"cmyk", 250, 200, {90, 1, 1, false, 0, JpegColor::cmyk}},
        {"ycck", 251, 199, {90, 2, 2, false, 0, JpegColor::ycck}},
        {"tiny", 7, 5, {}},
        {"thin", 1, 90, {}},
        {"wide", 1200, 40, {}},
    };
}

std::vector<unsigned char> encode(const Source& s) {
    return test::encode_jpeg(test::make_picture(s.width, s.height, s.seed), s.jpeg);
}

// Our full decode (tested identical to TurboJPEG's and PIL's in test_loader_decode.cpp).
test::Picture decode_picture(Decoder& d, const std::vector<unsigned char>& jpeg) {
    const Decoder::Header h = d.header(jpeg);
    test::Picture p{h.width, h.height, std::vector<unsigned char>(static_cast<size_t>(h.width) * h.height * 3)};
    TransformOptions none;
    none.kind = TransformKind::none;
    d.decode(jpeg, none, 0, ImageView::hwc(p.rgb.data(), h.width, h.height));
    return p;
}

std::vector<unsigned char> transform(Decoder& d, const std::vector<unsigned char>& jpeg, const TransformOptions& t,
                                     uint64_t seed) {
    std::vector<unsigned char> out(static_cast<size_t>(t.size) * t.size * 3);
    d.decode(jpeg, t, seed, ImageView::hwc(out.data(), t.size, t.size));
    return out;
}

}  // namespace

TEST_CASE("train without IDCT scaling: the cropped decode equals full decode, crop and resize") {
    Decoder d;
    TransformOptions t;
    t.dct_scaling = false;
    for (const Source& s : sources()) {
        CAPTURE(s.name);
        const auto jpeg = encode(s);
        const test::Picture full = decode_picture(d, jpeg);
        for (int size : {224, 96, 5}) {
            t.size = size;
            for (uint64_t i = 0; i < 40; ++i) {
                const uint64_t seed = imgpack::sample_seed(3, size, i);
                const TrainDraw draw = imgpack::draw_train(s.width, s.height, t, seed);
                CAPTURE(size);
                CAPTURE(i);
                REQUIRE(transform(d, jpeg, t, seed) ==
                        test::resize_reference(full, draw.top, draw.left, draw.height, draw.width, size, draw.flip));
            }
        }
    }
}

TEST_CASE("eval without IDCT scaling: the cropped decode equals the whole image resized, then cropped") {
    Decoder d;
    for (const Source& s : sources()) {
        CAPTURE(s.name);
        const auto jpeg = encode(s);
        const test::Picture full = decode_picture(d, jpeg);
        for (auto [resize, size] : std::vector<std::array<int, 2>>{{256, 224}, {232, 224}, {200, 224}, {64, 32}}) {
            TransformOptions t;
            t.kind = TransformKind::eval;
            t.dct_scaling = false;
            t.resize = resize;
            t.size = size;
            CAPTURE(resize);
            CHECK(transform(d, jpeg, t, 0) == test::eval_reference(full, t));
        }
    }
}

TEST_CASE("train and eval are pixel-identical to torchvision on PIL (no IDCT scaling)") {
    if (!test::torchvision_available()) {
        MESSAGE("skipped: /usr/bin/python3 lacks PIL or torchvision (Debian: python3-pil, python3-torchvision)");
        return;
    }
    test::TempDir dir;
    std::ofstream jobs(dir / "jobs.jsonl");
    std::map<std::string, std::vector<unsigned char>> ours;
    Decoder d;
    for (const Source& s : sources()) {
        const auto jpeg = encode(s);
        const std::string path = (dir / (s.name + ".jpg")).string();
        test::write_file(path, jpeg);
        TransformOptions eval;
        eval.kind = TransformKind::eval;
        eval.dct_scaling = false;
        for (int resize : {256, 200}) {  // 200 < 224: torchvision pads the centre crop
            eval.resize = resize;
            const std::string out = (dir / (s.name + ".eval" + std::to_string(resize))).string();
            jobs << "{\"jpeg\": \"" << path << "\", \"out\": \"" << out << "\", \"kind\": \"eval\", \"size\": 224, "
                 << "\"resize\": " << resize << "}\n";
            ours[out] = transform(d, jpeg, eval, 0);
        }
        TransformOptions train;
        train.dct_scaling = false;
        for (uint64_t i = 0; i < 6; ++i) {
            const uint64_t seed = imgpack::sample_seed(8, 0, i);
            const TrainDraw draw = imgpack::draw_train(s.width, s.height, train, seed);
            const std::string out = (dir / (s.name + ".train" + std::to_string(i))).string();
            jobs << "{\"jpeg\": \"" << path << "\", \"out\": \"" << out << "\", \"kind\": \"crop\", \"size\": 224, "
                 << "\"top\": " << draw.top << ", \"left\": " << draw.left << ", \"height\": " << draw.height
                 << ", \"width\": " << draw.width << ", \"flip\": " << (draw.flip ? "true" : "false") << "}\n";
            ours[out] = transform(d, jpeg, train, seed);
        }
    }
    jobs.close();
    test::torchvision_ref("transform " + test::quote((dir / "jobs.jsonl").string()));
    for (const auto& [path, pixels] : ours) {
        CAPTURE(path);
        const auto theirs = test::read_file(path);
        REQUIRE(theirs.size() == pixels.size());
        CHECK(test::max_abs_diff(theirs, pixels) == 0);
    }
}

TEST_CASE("IDCT-scaled decodes stay within the stated tolerance of full decode, crop and resize") {
    // docs/loader.md states the bounds checked here: every output at least 33 dB from the exact
    // result, 40 dB on average (measured: worst ~36 dB, mean ~44 dB), on these pictures (edges, a
    // fine grating, noise: harder than photographs, where the benchmark measures ~50 dB).
    Decoder d;
    const std::vector<Source> large = {
        {"420", 1024, 768, {}, 5},
        {"420-big", 2000, 1500, {}, 6},
        {"444", 1280, 960, {92, 1, 1}, 7},
        {"422-portrait", 900, 1200, {90, 2, 1}, 8},
        {"420-progressive", 1600, 1200, {90, 2, 2, true}, 9},
        {"gray", 1100, 800, {90, 1, 1, false, 0, test::JpegColor::gray}, 10},
    };
    double worst_psnr = INFINITY, sum_psnr = 0;
    int worst_diff = 0, scaled = 0, count = 0;
    for (const Source& s : large) {
        CAPTURE(s.name);
        const auto jpeg = encode(s);
        const test::Picture full = decode_picture(d, jpeg);
        TransformOptions t;  // IDCT scaling on (the default)
        for (uint64_t i = 0; i < 30; ++i) {
            const uint64_t seed = imgpack::sample_seed(17, 0, i);
            const TrainDraw draw = imgpack::draw_train(s.width, s.height, t, seed);
            imgpack::detail::Plan plan;
            plan.train(s.width, s.height, t, draw);
            if (plan.scale == 8) continue;  // identical by the tests above
            ++scaled;
            const auto ours = transform(d, jpeg, t, seed);
            const auto exact = test::resize_reference(full, draw.top, draw.left, draw.height, draw.width, t.size, draw.flip);
            const double p = test::psnr(ours, exact);
            CAPTURE(i);
            CHECK(p >= 33.0);
            worst_psnr = std::min(worst_psnr, p);
            sum_psnr += p;
            ++count;
            worst_diff = std::max(worst_diff, test::max_abs_diff(ours, exact));
        }
        TransformOptions eval;
        eval.kind = TransformKind::eval;
        imgpack::detail::Plan plan;
        plan.eval(s.width, s.height, eval);
        if (plan.scale < 8) {
            const double p = test::psnr(transform(d, jpeg, eval, 0), test::eval_reference(full, eval));
            CHECK(p >= 33.0);
            worst_psnr = std::min(worst_psnr, p);
            sum_psnr += p;
            ++count;
        }
    }
    MESSAGE("IDCT-scaled: ", count, " outputs (", scaled, " train crops); PSNR to the full decode's: mean ",
            sum_psnr / count, " dB, worst ", worst_psnr, " dB; largest |difference| ", worst_diff);
    CHECK(count >= 60);
    CHECK(sum_psnr / count >= 40.0);
}
