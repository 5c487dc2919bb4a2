// Fuzz target: decode any bytes as a JPEG record the way the loader does (imgpack::Decoder):
// header, full decode, train (with and without IDCT scaling, two output sizes) and eval (with a
// centre crop larger than the resized image too). Bad data must end in imgpack::DecodeError;
// nothing may read or write out of bounds (ASan), hit undefined behaviour (UBSan), leak, or
// throw anything else. One Decoder serves every input, as one serves a loader thread: a bad
// input must not spoil the next.
//
// Built two ways (tests/CMakeLists.txt):
//  - imgpack_fuzz_decode (IMGPACK_FUZZ=ON, clang): libFuzzer + ASan + UBSan; `./dev fuzz decode`;
//  - imgpack_fuzz_decode_replay (every build): this file plus decode_replay_main.cpp, which runs
//    tests/fuzz/decode_corpus/ and deterministic mutations of it (ctest, also under ASan).
#include <imgpack/decode.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// Larger images are skipped for the transforms and the full decode: a hostile header can claim
// 65535 x 65535 pixels, and libjpeg would then fill a stray marker's missing data with zeros,
// row after row, slowly (a denial of service, not a fault; PIL behaves the same).
constexpr long long kMaxPixels = 1LL << 24;

void expect_decode_error_only(imgpack::Decoder& d, const uint8_t* data, size_t size,
                              const imgpack::TransformOptions& t, uint64_t seed, std::vector<unsigned char>& out,
                              int width, int height) {
    out.resize(static_cast<size_t>(width) * height * 3);
    try {
        d.decode({data, size}, t, seed, imgpack::ImageView::hwc(out.data(), width, height));
    } catch (const imgpack::DecodeError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static imgpack::Decoder decoder;
    static std::vector<unsigned char> out;
    imgpack::Decoder::Header h;
    try {
        h = decoder.header({data, size});
    } catch (const imgpack::DecodeError&) {
        return 0;
    }
    if (h.width <= 0 || h.height <= 0) {
        std::fprintf(stderr, "fuzz_decode: the header passed with a %dx%d image\n", h.width, h.height);
        std::abort();
    }
    if (static_cast<long long>(h.width) * h.height > kMaxPixels) return 0;
    uint64_t seed = size;
    for (size_t i = 0; i < size && i < 64; ++i) seed = imgpack::splitmix64(seed ^ data[i]);
    imgpack::TransformOptions none, train, eval, padded;
    none.kind = imgpack::TransformKind::none;
    eval.kind = padded.kind = imgpack::TransformKind::eval;
    padded.resize = 100;
    padded.size = 128;
    expect_decode_error_only(decoder, data, size, none, 0, out, h.width, h.height);
    expect_decode_error_only(decoder, data, size, train, seed, out, 224, 224);
    train.dct_scaling = false;
    train.size = 17;
    expect_decode_error_only(decoder, data, size, train, seed + 1, out, 17, 17);
    expect_decode_error_only(decoder, data, size, eval, 0, out, 224, 224);
    expect_decode_error_only(decoder, data, size, padded, 0, out, 128, 128);
    return 0;
}
