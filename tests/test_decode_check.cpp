// convert --decode (issue 13 item 15): images damaged mid-scan pass the header check and are
// caught only by decoding them. DecodeCheck decodes at 1/8 scale; it must find exactly what a
// full decode finds, on every kind of JPEG and damage.
#include <doctest/doctest.h>

#include "archives.hpp"
#include "jpeg_encode.hpp"
#include "synth_fixture.hpp"

#include "image_decode.hpp"
#include "image_info.hpp"

#include <imgpack/reader.hpp>
#include <imgpack/splitmix64.hpp>

#include <cmath>

namespace {

using Bytes = std::vector<unsigned char>;

// A JPEG of a smooth scene with some texture (so that every block has AC coefficients).
Bytes encode(int w, int h, int pixel_format, int subsampling, int flags) {
    const int channels = tjPixelSize[pixel_format];
    Bytes px(size_t(w) * size_t(h) * size_t(channels));
    imgpack::SplitMix64 rng{uint64_t(w * 31 + h + pixel_format)};
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c)
                px[(size_t(y) * size_t(w) + size_t(x)) * size_t(channels) + size_t(c)] = static_cast<unsigned char>(
                    128 + 90 * std::sin(x * 0.05 + c) * std::cos(y * 0.07) + double(rng.below(40)) - 20);
    return test::encode_jpeg(px.data(), w, h, pixel_format, subsampling, 85, flags);
}

size_t start_of_scan(const Bytes& jpeg) {
    for (size_t i = 2; i + 1 < jpeg.size(); ++i)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) return i;
    FAIL("no SOS marker");
    return 0;
}

// "" when it decodes cleanly, else the reason.
std::string verdict(imgpack::DecodeCheck& check, imgpack::ImageInspector& inspector, const Bytes& bytes, bool full) {
    try {
        imgpack::ImageInfo info = inspector.inspect(bytes);
        check.check(bytes, info, full);
    } catch (const imgpack::BadImage& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("decode check: 1/8 scale finds exactly what a full decode finds, on every kind of JPEG and damage") {
    struct Kind {
        const char* what;
        Bytes jpeg;
    };
    const std::vector<Kind> kinds = {
        {"baseline 4:2:0", encode(203, 150, TJPF_RGB, TJSAMP_420, 0)},
        {"baseline 4:4:4", encode(120, 97, TJPF_RGB, TJSAMP_444, 0)},
        {"progressive 4:2:0", encode(203, 150, TJPF_RGB, TJSAMP_420, TJFLAG_PROGRESSIVE)},
        {"gray", encode(150, 111, TJPF_GRAY, TJSAMP_GRAY, 0)},
        {"CMYK", encode(96, 80, TJPF_CMYK, TJSAMP_444, 0)},
    };
    imgpack::DecodeCheck check;
    imgpack::ImageInspector inspector;
    imgpack::SplitMix64 rng{2024};
    int bad = 0, compared = 0;
    for (const Kind& k : kinds) {
        CAPTURE(k.what);
        REQUIRE(verdict(check, inspector, k.jpeg, false) == "");
        REQUIRE(verdict(check, inspector, k.jpeg, true) == "");
        const size_t sos = start_of_scan(k.jpeg);
        for (int i = 0; i < 60; ++i) {
            Bytes damaged = k.jpeg;
            const size_t at = sos + 12 + size_t(rng.below(damaged.size() - sos - 12));
            std::string how;
            switch (i % 4) {
                case 0:  // cut short
                    damaged.resize(at);
                    how = "truncated at " + std::to_string(at);
                    break;
                case 1:  // a byte changed
                    damaged[at] ^= static_cast<unsigned char>(1 + rng.below(255));
                    how = "byte " + std::to_string(at) + " changed";
                    break;
                case 2:  // a run of bytes zeroed
                    for (size_t j = at; j < damaged.size() && j < at + 64; ++j) damaged[j] = 0;
                    how = "64 bytes zeroed at " + std::to_string(at);
                    break;
                default:  // bytes lost from the middle
                    damaged.erase(damaged.begin() + long(at), damaged.begin() + long(std::min(damaged.size() - 2, at + 37)));
                    how = "37 bytes cut out at " + std::to_string(at);
                    break;
            }
            CAPTURE(how);
            const std::string scaled = verdict(check, inspector, damaged, false), full = verdict(check, inspector, damaged, true);
            CHECK_MESSAGE(scaled.empty() == full.empty(), "1/8: '", scaled, "', full: '", full, "'");
            if (i % 4 == 0) CHECK_MESSAGE(!scaled.empty(), "a cut-short JPEG passed");
            bad += !scaled.empty();
            ++compared;
        }
    }
    CHECK(bad > compared / 2);  // the damage is found, not just agreed on
}

TEST_CASE("decode check: convert --decode refuses images damaged mid-scan, which the header check lets through") {
    test::TempDir dir;
    const Bytes good = encode(203, 150, TJPF_RGB, TJSAMP_420, 0);
    Bytes cut = good;
    cut.resize(start_of_scan(good) + (good.size() - start_of_scan(good)) / 2);  // the case
    Bytes damaged = good;  // the same class: damage inside the scan, the length intact
    for (size_t i = start_of_scan(good) + 200; i < start_of_scan(good) + 260; ++i) damaged[i] = 0xFF;
    test::write_file(dir / "val.tar", test::tar_bytes({{"ILSVRC2012_val_00000001.JPEG", good},
                                                        {"ILSVRC2012_val_00000002.JPEG", cut},
                                                        {"ILSVRC2012_val_00000003.JPEG", damaged}}));
    imgpack::ConvertOptions o;
    o.val = dir / "val.tar";
    o.output = dir / "headers.imgpack";
    CHECK(imgpack::convert(o).splits.at(0).records == 3);  // the headers are fine

    o.decode = true;
    o.output = dir / "decoded.imgpack";
    std::string err = test::convert_error(o);
    CHECK_MESSAGE(err.find("ILSVRC2012_val_00000002.JPEG: JPEG does not decode cleanly (--decode)") != std::string::npos, err);
    CHECK(err.find("Premature end of JPEG file") != std::string::npos);
    o.on_bad_image = imgpack::ConvertOptions::OnBadImage::skip;
    imgpack::ConvertSummary s = imgpack::convert(o);
    REQUIRE(s.skipped.size() == 2);
    CHECK(s.skipped[1].find("ILSVRC2012_val_00000003.JPEG: JPEG does not decode cleanly") != std::string::npos);
    CHECK(s.times.decoding > 0);
    imgpack::Pack pack = imgpack::Pack::open(o.output.string());
    REQUIRE(pack.split("validation").size() == 1);
    CHECK(pack.split("validation")[0].name == "ILSVRC2012_val_00000001.JPEG");

    // The same class in a PNG: its header intact, its image data cut short. Without repair it is
    // kept as it is, so only --decode decodes it, and refuses it.
    std::vector<unsigned char> rgb(size_t(160) * 120 * 3);
    imgpack::SplitMix64 rng{7};
    for (unsigned char& v : rgb) v = static_cast<unsigned char>(rng.below(256));
    const Bytes png = imgpack::synth::encode_png(rgb, 160, 120);
    const Bytes png_cut(png.begin(), png.begin() + long(png.size() / 2));
    test::write_file(dir / "png.tar", test::tar_bytes({{"ILSVRC2012_val_00000001.JPEG", png},
                                                        {"ILSVRC2012_val_00000002.JPEG", png_cut}}));
    imgpack::ConvertOptions p;
    p.val = dir / "png.tar";
    p.repair = false;
    p.output = dir / "png-headers.imgpack";
    CHECK(imgpack::convert(p).splits.at(0).records == 2);
    p.decode = true;
    p.output = dir / "png-decoded.imgpack";
    err = test::convert_error(p);
    CHECK_MESSAGE(err.find("ILSVRC2012_val_00000002.JPEG") != std::string::npos, err);
    CHECK_FALSE(test::fs::exists(p.output));

    // The synthetic ImageNet (with its CMYK JPEG and PNG) converts the same with --decode.
    const auto& d = test::synth_imagenet();
    auto all = d.options(dir / "all.imgpack");
    all.decode = true;
    imgpack::convert(all);
    CHECK(test::read_file(dir / "all.imgpack") == test::read_file(d.pack));
    auto as_is = d.options(dir / "as-is.imgpack");
    as_is.decode = true;
    as_is.repair = false;
    imgpack::convert(as_is);
    CHECK(test::read_file(dir / "as-is.imgpack") == test::read_file(d.pack_as_is));
}
