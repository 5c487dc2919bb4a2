// The loader's transforms: torchvision 0.14's RandomResizedCrop parameters (per draw from the
// same random numbers, and in distribution from our own generator), Resize + CenterCrop's
// geometry, pixels identical to torchvision on PIL, and the crop-then-decode tolerance.
#include "loader/reference.hpp"

#include <doctest/doctest.h>

#include <imgpack/decode.hpp>

#include "sampling.hpp"

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

using imgpack::Decoder;
using imgpack::ImageView;
using imgpack::TrainDraw;
using imgpack::TransformKind;
using imgpack::TransformOptions;

namespace {

// Replays the random numbers torchvision drew (tests/loader/torchvision_ref.py tape).
struct Tape {
    std::vector<std::string> values;
    size_t next = 0;
    bool ok = true;

    std::string take(char kind) {
        if (next >= values.size() || values[next][0] != kind) {
            ok = false;
            return kind == 'i' ? "0/1" : "0";
        }
        return values[next++].substr(1);
    }
    float uniform(float, float) { return static_cast<float>(std::stod(take('u'))); }
    float rand() { return static_cast<float>(std::stod(take('r'))); }
    int randint(int n) {
        const std::string v = take('i');
        const size_t slash = v.find('/');
        if (std::stoi(v.substr(slash + 1)) != n) ok = false;  // torchvision's range must be ours
        return std::stoi(v.substr(0, slash));
    }
};

std::string size_args(const std::vector<std::array<int, 2>>& sizes) {
    std::string s;
    for (auto [w, h] : sizes) s += " " + std::to_string(w) + " " + std::to_string(h);
    return s;
}

// Two-sample chi-square statistic of two histograms with equal totals, and its degrees of freedom.
std::pair<double, int> chi_square(const std::vector<double>& a, const std::vector<double>& b) {
    double x2 = 0;
    int bins = 0;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i] + b[i] > 0) x2 += (a[i] - b[i]) * (a[i] - b[i]) / (a[i] + b[i]), ++bins;
    return {x2, bins - 1};
}

// Upper 1e-4 quantiles of chi-square for 1..19 degrees of freedom.
double chi_square_limit(int df) {
    static const double q[] = {0,     15.14, 18.42, 21.11, 23.51, 25.74, 27.86, 29.88, 31.83, 33.72, 35.56,
                               37.37, 39.13, 40.87, 42.58, 44.26, 45.92, 47.57, 49.19, 50.80};
    return q[std::min(df, 19)];
}

// Histograms (10 bins each) of a crop's area fraction, log aspect ratio and relative offsets.
struct Histograms {
    std::array<std::vector<double>, 4> bins{std::vector<double>(10), std::vector<double>(10), std::vector<double>(10),
                                            std::vector<double>(10)};
    double area_sum = 0;
    int n = 0;
    void add(int W, int H, int top, int left, int h, int w) {
        auto bin = [](double x) { return std::clamp(static_cast<int>(x * 10), 0, 9); };
        const double area = double(h) * w / (double(W) * H);
        const double lo = std::log(3.0 / 4) - 0.3, hi = std::log(4.0 / 3) + 0.3;
        bins[0][bin(area)]++;
        bins[1][bin((std::log(double(w) / h) - lo) / (hi - lo))]++;
        bins[2][bin((top + 0.5) / (H - h + 1))]++;
        bins[3][bin((left + 0.5) / (W - w + 1))]++;
        area_sum += area;
        ++n;
    }
};

// A wrong sampler for the test's power: aspect ratio uniform instead of log-uniform.
struct LinearRatio {
    imgpack::detail::SampleRandom r;
    float uniform(float lo, float hi) {
        // The log-ratio draw comes second in each try: map a linear ratio back to its log.
        if (++calls % 2 == 0) return std::log(r.uniform(std::exp(lo), std::exp(hi)));
        return r.uniform(lo, hi);
    }
    int randint(int n) { return r.randint(n); }
    float rand() { return r.rand(); }
    int calls = 0;
};

}  // namespace

TEST_CASE("train: the same random numbers give torchvision's crop and flip, draw by draw") {
    if (!test::torchvision_available()) {
        MESSAGE("skipped: /usr/bin/python3 lacks torchvision (Debian: python3-torchvision)");
        return;
    }
    // ImageNet's shapes, squares, tiny images, and shapes outside the ratio range (fallbacks).
    const std::vector<std::array<int, 2>> sizes = {{500, 375}, {375, 500}, {224, 224}, {4000, 3000}, {1, 1},
                                                   {2, 3},     {10, 1000}, {1000, 10},  {300, 17},   {640, 427}};
    std::istringstream in(test::torchvision_ref("tape 5 400" + size_args(sizes)));
    TransformOptions t;
    int draws = 0, fallbacks = 0;
    for (std::string line; std::getline(in, line);) {
        std::istringstream ls(line);
        int W = 0, H = 0;
        ls >> W >> H;
        Tape tape;
        for (std::string v; ls >> v && v != "->";) tape.values.push_back(v);
        TrainDraw want;
        int flip = 0;
        ls >> want.top >> want.left >> want.height >> want.width >> flip;
        const TrainDraw got = imgpack::detail::draw_train_with(W, H, t, tape);
        CAPTURE(line);
        REQUIRE(tape.ok);
        REQUIRE(tape.next == tape.values.size());
        REQUIRE(got.top == want.top);
        REQUIRE(got.left == want.left);
        REQUIRE(got.height == want.height);
        REQUIRE(got.width == want.width);
        REQUIRE(got.flip == (flip != 0));
        ++draws;
        fallbacks += tape.values.size() == 21;  // ten failed tries and the flip
    }
    CHECK(draws == 400 * static_cast<int>(sizes.size()));
    CHECK(fallbacks > 400);  // the fallback paths were exercised
}

TEST_CASE("train: our generator's crops follow torchvision's distribution") {
    if (!test::torchvision_available()) {
        MESSAGE("skipped: /usr/bin/python3 lacks torchvision (Debian: python3-torchvision)");
        return;
    }
    // 20,000 draws per shape from each side, binned 10 ways for area fraction, log aspect ratio
    // and both relative offsets; a two-sample chi-square per histogram against its 1e-4 quantile.
    // Both generators are seeded, so the outcome is fixed: with a right sampler the statistic sits
    // near its degrees of freedom; the wrong sampler below lands far above the limit.
    const int n = 20000;
    const std::vector<std::array<int, 2>> sizes = {{500, 375}, {333, 500}, {64, 48}, {1000, 120}};
    std::istringstream in(test::torchvision_ref("draws 3 " + std::to_string(n) + size_args(sizes)));
    TransformOptions t;
    for (auto [W, H] : sizes) {
        CAPTURE(W);
        CAPTURE(H);
        Histograms theirs, ours, wrong;
        for (int i = 0; i < n; ++i) {
            int w0, h0, top, left, h, w;
            REQUIRE(static_cast<bool>(in >> w0 >> h0 >> top >> left >> h >> w));
            REQUIRE(w0 == W);
            theirs.add(W, H, top, left, h, w);
            const TrainDraw d = imgpack::draw_train(W, H, t, imgpack::sample_seed(11, 0, i));
            ours.add(W, H, d.top, d.left, d.height, d.width);
            LinearRatio lr{imgpack::detail::SampleRandom(imgpack::sample_seed(12, 0, i))};
            const TrainDraw x = imgpack::detail::draw_train_with(W, H, t, lr);
            wrong.add(W, H, x.top, x.left, x.height, x.width);
        }
        for (int k = 0; k < 4; ++k) {
            CAPTURE(k);
            const auto [x2, df] = chi_square(theirs.bins[k], ours.bins[k]);
            MESSAGE(W, "x", H, " histogram ", k, ": chi-square ", x2, " with ", df, " degrees of freedom");
            CHECK(x2 < chi_square_limit(df));
        }
        // Mean area fraction within 4 standard errors (the fraction lies in [0, 1]: sd <= 0.5).
        CHECK(std::fabs(theirs.area_sum / n - ours.area_sum / n) < 4 * 0.5 * std::sqrt(2.0 / n));
        // The test can fail: a sampler with a uniform (not log-uniform) aspect ratio is told apart.
        const auto [wx2, wdf] = chi_square(theirs.bins[1], wrong.bins[1]);
        MESSAGE(W, "x", H, " uniform-ratio sampler: chi-square ", wx2);
        if (W == 500) CHECK(wx2 > chi_square_limit(wdf));
    }
}

TEST_CASE("eval: Resize and CenterCrop geometry is torchvision's, odd margins and padding included") {
    if (!test::torchvision_available()) {
        MESSAGE("skipped: /usr/bin/python3 lacks torchvision (Debian: python3-torchvision)");
        return;
    }
    const std::vector<std::array<int, 2>> sizes = {{500, 375}, {375, 500}, {500, 333}, {257, 256}, {1, 1},
                                                   {10, 1000}, {1000, 10}, {640, 427}, {2048, 1365}, {225, 300},
                                                   {500, 500}, {481, 361}, {300, 451}};
    std::istringstream in(test::torchvision_ref("geometry 256:224,232:224,200:224,160:128" + size_args(sizes)));
    for (auto [resize, size] : std::vector<std::array<int, 2>>{{256, 224}, {232, 224}, {200, 224}, {160, 128}}) {
        TransformOptions t;
        t.resize = resize;
        t.size = size;
        for (auto [W, H] : sizes) {
            int r, s, w, h, rw, rh, top, left;
            REQUIRE(static_cast<bool>(in >> r >> s >> w >> h >> rw >> rh >> top >> left));
            REQUIRE((r == resize && s == size && w == W && h == H));
            const imgpack::EvalGeometry g = imgpack::eval_geometry(W, H, t);
            CAPTURE(W);
            CAPTURE(H);
            CAPTURE(resize);
            CHECK(g.resized_width == rw);
            CHECK(g.resized_height == rh);
            CHECK(g.top == top);
            CHECK(g.left == left);
        }
    }
}

TEST_CASE("train: draws lie inside the image and depend only on (seed, epoch, sample)") {
    TransformOptions t;
    for (auto [W, H] : std::vector<std::array<int, 2>>{{500, 375}, {1, 1}, {3, 700}, {224, 224}}) {
        for (uint64_t i = 0; i < 2000; ++i) {
            const TrainDraw d = imgpack::draw_train(W, H, t, imgpack::sample_seed(1, 2, i));
            REQUIRE(d.width >= 1);
            REQUIRE(d.height >= 1);
            REQUIRE(d.left >= 0);
            REQUIRE(d.top >= 0);
            REQUIRE(d.left + d.width <= W);
            REQUIRE(d.top + d.height <= H);
            const TrainDraw again = imgpack::draw_train(W, H, t, imgpack::sample_seed(1, 2, i));
            REQUIRE((again.top == d.top && again.left == d.left && again.width == d.width && again.flip == d.flip));
        }
    }
    CHECK(imgpack::sample_seed(1, 0, 5) != imgpack::sample_seed(1, 1, 5));
    CHECK(imgpack::sample_seed(1, 0, 5) != imgpack::sample_seed(2, 0, 5));
    CHECK(imgpack::sample_seed(1, 0, 5) != imgpack::sample_seed(1, 0, 6));
    CHECK(imgpack::sample_seed(0, 1, 0) != imgpack::sample_seed(0, 0, 1));
}
