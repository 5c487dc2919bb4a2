// imgpack_bench_loader: the loader's decode side on photographs (docs/performance.md, "Loader").
//
//   imgpack_bench_loader cut DIR COUNT SEED PHOTO...
//       Cuts COUNT ImageNet-like JPEGs from the photographs into DIR/train/<WNID>/ (for
//       `imgpack convert --train DIR/train`): mostly 500x375 (and 500x333, 375x500), a tail of
//       larger ones up to 1600x1200, each a region of a photograph scaled down 3-8x (as camera
//       photos were for ImageNet), encoded at quality 90 with 4:2:0 chroma. Deterministic.
//   imgpack_bench_loader run PACK [--split S] [--images N] [--rounds R] [--densest] [--no-python]
//                             [--no-fidelity]
//       Times, on one thread and alternating, round after round, over the same records:
//         (a) train: imgpack's RandomResizedCrop(224) + flip (crop-then-decode, IDCT scaling)
//         (b) FFCV-style: TurboJPEG full decode, then the same crop and resize
//         (c) TurboJPEG full decode alone (what tjbench measures)
//         eval: imgpack's Resize(256) + CenterCrop(224)
//         (d) PIL + torchvision RandomResizedCrop + flip (/usr/bin/python3), if installed
//         resize: (a)'s resize alone, on the same crops of already-decoded pixels
//       then prints images/s (median, min-max) and the ratios per round. Before that, unless
//       --no-fidelity, the distance of train and eval to torchvision's on the same photographs.
#include "bench_args.hpp"
#include "measure.hpp"

#include <imgpack/decode.hpp>
#include <imgpack/reader.hpp>

#include "plan.hpp"

#include <turbojpeg.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <tuple>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#ifndef IMGPACK_SOURCE_DIR
#error "IMGPACK_SOURCE_DIR must be defined by the build"
#endif

namespace {

namespace fs = std::filesystem;
using imgpack::bench::parse_unsigned;
using imgpack::bench::seconds_of;
using imgpack::bench::spread;

struct Rng {
    uint64_t state;
    uint64_t next() { return imgpack::splitmix64(state++); }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

struct Rgb {
    int width = 0, height = 0;
    std::vector<unsigned char> px;
};

Rgb tj_decode(tjhandle tj, const unsigned char* data, size_t size) {
    int w = 0, h = 0, ss = 0, cs = 0;
    if (tjDecompressHeader3(tj, data, size, &w, &h, &ss, &cs) != 0)
        throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj));
    Rgb r{w, h, std::vector<unsigned char>(static_cast<size_t>(w) * h * 3 + imgpack::detail::kResampleSlack)};
    if (tjDecompress2(tj, data, size, r.px.data(), w, 0, h, TJPF_RGB, 0) != 0)
        throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj));
    return r;
}

// Pillow's bilinear resize (the loader's resampler) of a region of `src` to out_w x out_h.
std::vector<unsigned char> resize_region(const Rgb& src, int x, int y, int w, int h, int out_w, int out_h) {
    imgpack::detail::Axis ha, va;
    ha.build(w, 0, w, out_w, 0, out_w);
    va.build(h, 0, h, out_h, 0, out_h);
    const size_t row = static_cast<size_t>(out_w) * 3;
    std::vector<unsigned char> between(row * h + imgpack::detail::kResampleSlack), out(row * out_h);
    for (int r = 0; r < h; ++r)
        imgpack::detail::resample_row(&src.px[(static_cast<size_t>(y + r) * src.width + x) * 3], ha, &between[r * row]);
    for (int r = 0; r < out_h; ++r)
        imgpack::detail::resample_column(&between[va.first[r] * row], static_cast<ptrdiff_t>(row), out_w,
                                         &va.weights[static_cast<size_t>(r) * va.ksize], va.taps[r], &out[r * row]);
    return out;
}

int cut(int argc, char** argv) {
    if (argc < 6) throw std::invalid_argument("usage: imgpack_bench_loader cut DIR COUNT SEED PHOTO...");
    const fs::path dir = argv[2];
    const unsigned count = parse_unsigned("COUNT", argv[3]);
    Rng rng{parse_unsigned("SEED", argv[4])};
    std::vector<std::string> photos(argv + 5, argv + argc);
    tjhandle dec = tjInitDecompress(), enc = tjInitCompress();
    // ImageNet's shapes: mostly 500 on the long side; a tail of larger images.
    struct Shape { int w, h; double weight; };
    const std::vector<Shape> shapes = {{500, 375, 0.62}, {500, 333, 0.12}, {375, 500, 0.10}, {500, 500, 0.04},
                                       {640, 480, 0.05}, {800, 600, 0.03}, {1024, 768, 0.02}, {1600, 1200, 0.02}};
    unsigned made = 0;
    for (size_t p = 0; p < photos.size(); ++p) {
        const unsigned share = count / photos.size() + (p < count % photos.size() ? 1 : 0);
        if (share == 0) continue;
        std::ifstream in(photos[p], std::ios::binary);
        if (!in) throw std::runtime_error("cannot read " + photos[p]);
        std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const Rgb photo = tj_decode(dec, bytes.data(), bytes.size());
        char wnid[16];
        std::snprintf(wnid, sizeof wnid, "n%08zu", 1000 + p);  // one class per photograph
        fs::create_directories(dir / wnid);
        for (unsigned k = 0; k < share; ++k, ++made) {
            double pick = rng.unit();
            Shape s = shapes.back();
            for (const Shape& c : shapes)
                if ((pick -= c.weight) < 0) {
                    s = c;
                    break;
                }
            // Scale down 3-8x (log-uniform; less where the photograph is too small): a whole
            // scene from a camera's frame, as most ImageNet photographs are.
            const double most = std::min(double(photo.width) / s.w, double(photo.height) / s.h);
            const double lo = std::min(3.0, most), hi = std::min(8.0, most);
            const double factor = lo * std::pow(hi / lo, rng.unit());
            const int rw = std::min(photo.width, static_cast<int>(s.w * factor));
            const int rh = std::min(photo.height, static_cast<int>(s.h * factor));
            const int rx = static_cast<int>(rng.unit() * (photo.width - rw + 1));
            const int ry = static_cast<int>(rng.unit() * (photo.height - rh + 1));
            const auto tile = resize_region(photo, rx, ry, rw, rh, s.w, s.h);
            unsigned char* jpeg = nullptr;
            unsigned long size = 0;
            if (tjCompress2(enc, tile.data(), s.w, 0, s.h, TJPF_RGB, &jpeg, &size, TJSAMP_420, 90, 0) != 0)
                throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(enc));
            char name[64];
            std::snprintf(name, sizeof name, "%s_%06u.JPEG", wnid, made);
            std::ofstream out(dir / wnid / name, std::ios::binary);
            out.write(reinterpret_cast<const char*>(jpeg), static_cast<std::streamsize>(size));
            tjFree(jpeg);
            if (!out) throw std::runtime_error("cannot write " + (dir / wnid / name).string());
        }
    }
    tjDestroy(dec);
    tjDestroy(enc);
    std::printf("cut %u JPEGs from %zu photographs into %s\n", made, photos.size(), dir.c_str());
    return 0;
}

// ---- run -----------------------------------------------------------------------------------------

struct RunOptions {
    std::string pack, split = "train";
    unsigned images = 1500, rounds = 7;
    bool python = true, fidelity = true;
    bool densest = false;  // the records with the most bytes per pixel instead of an even spread
};

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

bool torchvision_available() {
    return std::system("/usr/bin/python3 -c 'import PIL, torch, torchvision' >/dev/null 2>&1") == 0;
}

// The PIL + torchvision baseline in a child process that stays up between rounds.
class PythonBaseline {
public:
    PythonBaseline(const std::vector<std::span<const unsigned char>>& images, const fs::path& dir) {
        const fs::path blob = dir / "images.bin", index = dir / "images.idx";
        std::ofstream b(blob, std::ios::binary), i(index);
        size_t offset = 0;
        for (auto im : images) {
            b.write(reinterpret_cast<const char*>(im.data()), static_cast<std::streamsize>(im.size()));
            i << offset << " " << im.size() << "\n";
            offset += im.size();
        }
        b.close();
        i.close();
        int to_child[2], from_child[2];
        if (pipe(to_child) != 0 || pipe(from_child) != 0) throw std::runtime_error("pipe failed");
        const std::string script = std::string(IMGPACK_SOURCE_DIR) + "/bench/loader_torchvision.py";
        pid_ = fork();
        if (pid_ == 0) {
            dup2(to_child[0], 0);
            dup2(from_child[1], 1);
            close(to_child[1]);
            close(from_child[0]);
            execl("/usr/bin/python3", "python3", script.c_str(), blob.c_str(), index.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
        close(to_child[0]);
        close(from_child[1]);
        to_ = fdopen(to_child[1], "w");
        from_ = fdopen(from_child[0], "r");
        if (read_line() != "ready") throw std::runtime_error("the torchvision baseline did not start");
    }
    ~PythonBaseline() {
        if (to_) std::fclose(to_);
        if (from_) std::fclose(from_);
        if (pid_ > 0) waitpid(pid_, nullptr, 0);
    }
    // One pass: {wall-clock seconds, CPU seconds of its thread}.
    std::pair<double, double> run_round() {
        std::fputs("run\n", to_);
        std::fflush(to_);
        const std::string line = read_line();
        size_t used = 0;
        const double wall = std::stod(line, &used);
        return {wall, std::stod(line.substr(used))};
    }

private:
    std::string read_line() {
        char buf[256];
        if (!std::fgets(buf, sizeof buf, from_)) throw std::runtime_error("the torchvision baseline stopped");
        std::string s(buf);
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        return s;
    }
    pid_t pid_ = -1;
    FILE* to_ = nullptr;
    FILE* from_ = nullptr;
};

struct Distance {
    std::vector<double> psnr;
    int max_diff = 0;
    int identical = 0;
    void add(const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
        double se = 0;
        int m = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            const int d = std::abs(int(a[i]) - int(b[i]));
            se += double(d) * d;
            m = std::max(m, d);
        }
        max_diff = std::max(max_diff, m);
        identical += m == 0;
        psnr.push_back(se == 0 ? INFINITY : 10 * std::log10(255.0 * 255 * a.size() / se));
    }
    void print(const char* what) const {
        std::vector<double> finite;
        for (double p : psnr)
            if (std::isfinite(p)) finite.push_back(p);
        std::printf("  %-44s %4zu images: %4d identical; max |diff| %3d", what, psnr.size(), identical, max_diff);
        if (!finite.empty()) {
            const auto s = spread(finite);
            std::printf("; PSNR of the others: median %.1f dB, min %.1f dB", s.median, s.min);
        }
        std::printf("\n");
    }
};

// Train and eval against torchvision's on the same photographs, through tests/loader/torchvision_ref.py.
void fidelity(const std::vector<std::span<const unsigned char>>& images, const fs::path& dir) {
    const size_t n = std::min<size_t>(images.size(), 300);
    imgpack::Decoder dec;
    imgpack::TransformOptions train, train_exact, eval, eval_exact;
    train_exact.dct_scaling = false;
    eval.kind = eval_exact.kind = imgpack::TransformKind::eval;
    eval_exact.dct_scaling = false;
    std::ofstream jobs(dir / "jobs.jsonl");
    struct Pending { std::string theirs; int kind; std::vector<unsigned char> ours[2]; };
    std::vector<Pending> pending;
    size_t scaled_train = 0, scaled_eval = 0;
    for (size_t i = 0; i < n; ++i) {
        const std::string path = (dir / ("f" + std::to_string(i) + ".jpg")).string();
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(images[i].data()),
                                                     static_cast<std::streamsize>(images[i].size()));
        const auto h = dec.header(images[i]);
        const uint64_t seed = imgpack::sample_seed(42, 0, i);
        const imgpack::TrainDraw d = imgpack::draw_train(h.width, h.height, train, seed);
        imgpack::detail::Plan plan;
        plan.train(h.width, h.height, train, d);
        scaled_train += plan.scale < 8;
        plan.eval(h.width, h.height, eval);
        scaled_eval += plan.scale < 8;
        for (int kind = 0; kind < 2; ++kind) {
            Pending p;
            p.kind = kind;
            p.theirs = (dir / ("f" + std::to_string(i) + (kind ? ".eval" : ".train"))).string();
            const imgpack::TransformOptions* opts[2] = {kind ? &eval : &train, kind ? &eval_exact : &train_exact};
            for (int e = 0; e < 2; ++e) {
                p.ours[e].resize(224 * 224 * 3);
                dec.decode(images[i], *opts[e], seed, imgpack::ImageView::hwc(p.ours[e].data(), 224, 224));
            }
            if (kind == 0)
                jobs << "{\"jpeg\": \"" << path << "\", \"out\": \"" << p.theirs << "\", \"kind\": \"crop\", \"size\": 224, "
                     << "\"top\": " << d.top << ", \"left\": " << d.left << ", \"height\": " << d.height
                     << ", \"width\": " << d.width << ", \"flip\": " << (d.flip ? "true" : "false") << "}\n";
            else
                jobs << "{\"jpeg\": \"" << path << "\", \"out\": \"" << p.theirs
                     << "\", \"kind\": \"eval\", \"size\": 224, \"resize\": 256}\n";
            pending.push_back(std::move(p));
        }
    }
    jobs.close();
    const std::string cmd = "/usr/bin/python3 " + quote(std::string(IMGPACK_SOURCE_DIR) + "/tests/loader/torchvision_ref.py") +
                            " transform " + quote((dir / "jobs.jsonl").string());
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("torchvision_ref.py failed");
    Distance d[2][2];
    for (const Pending& p : pending) {
        std::ifstream in(p.theirs, std::ios::binary);
        std::vector<unsigned char> theirs((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        for (int e = 0; e < 2; ++e) d[p.kind][e].add(p.ours[e], theirs);
    }
    std::printf("distance to torchvision 0.14 on PIL (same decode library, same crops), %zu photographs:\n", n);
    d[0][1].print("train, no IDCT scaling:");
    d[0][0].print("train (IDCT-scaled where the crop allows):");
    std::printf("    (IDCT scaling chosen for %zu of the %zu train crops)\n", scaled_train, n);
    d[1][1].print("eval, no IDCT scaling:");
    d[1][0].print("eval (IDCT-scaled where the image allows):");
    std::printf("    (IDCT scaling chosen for %zu of the %zu eval images)\n", scaled_eval, n);
}

int run(int argc, char** argv) {
    RunOptions o;
    for (int i = 2; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--no-python") o.python = false;
        else if (flag == "--no-fidelity") o.fidelity = false;
        else if (flag == "--densest") o.densest = true;
        else if (flag[0] != '-' && o.pack.empty()) o.pack = flag;
        else if (i + 1 >= argc) throw std::invalid_argument("unknown flag or missing value: " + flag);
        else if (flag == "--split") o.split = argv[++i];
        else if (flag == "--images") o.images = parse_unsigned(flag, argv[++i]);
        else if (flag == "--rounds") o.rounds = parse_unsigned(flag, argv[++i], 1000);
        else throw std::invalid_argument("unknown flag: " + flag);
    }
    if (o.pack.empty()) throw std::invalid_argument("usage: imgpack_bench_loader run PACK [flags]");
    imgpack::Pack pack = imgpack::Pack::open(o.pack);
    const auto& split = pack.split(o.split);
    // An even spread over the split, so that every photograph contributes; or, with --densest,
    // the records with the most bytes per pixel (the busiest pictures: closer to ImageNet's).
    std::vector<std::span<const unsigned char>> images;
    const size_t n = std::min<size_t>(o.images, split.size());
    if (o.densest) {
        std::vector<std::pair<double, size_t>> density;
        for (size_t k = 0; k < split.size(); ++k) {
            const auto r = split[k];
            density.push_back({double(r.data.size()) / (double(r.width) * r.height), k});
        }
        std::sort(density.rbegin(), density.rend());
        for (size_t k = 0; k < n; ++k) images.push_back(split[density[k].second].data);
    } else {
        for (size_t k = 0; k < n; ++k) images.push_back(split[k * split.size() / n].data);
    }
    const fs::path dir = fs::temp_directory_path() / ("imgpack-bench-loader-" + std::to_string(getpid()));
    fs::create_directories(dir);
    struct Cleanup { fs::path d; ~Cleanup() { std::error_code ec; fs::remove_all(d, ec); } } cleanup{dir};

    tjhandle tj = tjInitDecompress();
    imgpack::Decoder dec;
    imgpack::TransformOptions train, eval;
    eval.kind = imgpack::TransformKind::eval;
    std::vector<int> widths(n), heights(n);
    size_t bytes = 0, pixels = 0, largest = 0;
    for (size_t i = 0; i < n; ++i) {
        const auto h = dec.header(images[i]);
        widths[i] = h.width;
        heights[i] = h.height;
        bytes += images[i].size();
        pixels += size_t(h.width) * h.height;
        largest = std::max(largest, size_t(h.width) * h.height * 3);
    }
    std::printf("%zu JPEGs from %s (split %s): %.0f KiB and %.0f kpixels on average\n", n, o.pack.c_str(),
                o.split.c_str(), bytes / 1024.0 / n, pixels / 1000.0 / n);
    if (o.fidelity && torchvision_available()) fidelity(images, dir);

    std::vector<unsigned char> full(largest + imgpack::detail::kResampleSlack), out(224 * 224 * 3);
    const imgpack::ImageView view = imgpack::ImageView::hwc(out.data(), 224, 224);
    // The resize alone: the plans of (a), carried out on pixels decoded beforehand at the
    // plan's scale (TurboJPEG's scaled decode is libjpeg's, as the loader's).
    std::vector<Rgb> scaled(n);
    std::vector<imgpack::detail::Plan> plans(n);
    size_t scaled_count = 0;
    for (size_t i = 0; i < n; ++i) {
        plans[i].train(widths[i], heights[i], train, imgpack::draw_train(widths[i], heights[i], train, imgpack::sample_seed(7, 0, i)));
        const int s = plans[i].scale;
        scaled_count += s < 8;
        Rgb& r = scaled[i];
        r.width = plans[i].scaled_width;
        r.height = plans[i].scaled_height;
        r.px.resize(size_t(r.width) * r.height * 3 + imgpack::detail::kResampleSlack);
        if (tjDecompress2(tj, images[i].data(), images[i].size(), r.px.data(), r.width, 0, r.height, TJPF_RGB, 0) != 0)
            throw std::runtime_error(std::string("TurboJPEG: ") + tjGetErrorStr2(tj));
    }
    imgpack::detail::Resizer resizer;
    imgpack::detail::Plan scratch;
    imgpack::TransformOptions exact = train;  // (b) decodes fully: no IDCT scaling
    exact.dct_scaling = false;
    uint64_t round = 0;
    struct Variant { std::string name; std::function<void()> pass; std::vector<double> rate, wall_rate; };
    std::vector<Variant> variants = {
        {"(a) train: crop-decode + resize", [&] {
             for (size_t i = 0; i < n; ++i) dec.decode(images[i], train, imgpack::sample_seed(round, 0, i), view);
         }, {}, {}},
        {"(b) FFCV-style: full decode, crop, resize", [&] {
             for (size_t i = 0; i < n; ++i) {
                 const int w = widths[i], h = heights[i];
                 if (tjDecompress2(tj, images[i].data(), images[i].size(), full.data(), w, 0, h, TJPF_RGB, 0) != 0)
                     throw std::runtime_error("TurboJPEG failed");
                 scratch.train(w, h, exact, imgpack::draw_train(w, h, exact, imgpack::sample_seed(round, 0, i)));
                 const imgpack::detail::Plan& p = scratch;
                 resizer.begin(p);
                 for (int y = p.y0; y < p.y1; ++y) resizer.add_row(y, &full[size_t(y) * w * 3]);
                 resizer.finish(view);
             }
         }, {}, {}},
        {"(c) full decode (TurboJPEG)", [&] {
             for (size_t i = 0; i < n; ++i)
                 if (tjDecompress2(tj, images[i].data(), images[i].size(), full.data(), widths[i], 0, heights[i],
                                   TJPF_RGB, 0) != 0)
                     throw std::runtime_error("TurboJPEG failed");
         }, {}, {}},
        {"eval: crop-decode + resize", [&] {
             for (size_t i = 0; i < n; ++i) dec.decode(images[i], eval, 0, view);
         }, {}, {}},
    };
    variants.push_back({"resize alone (a's plans, decoded pixels)", [&] {
                            for (size_t i = 0; i < n; ++i) {
                                const auto& p = plans[i];
                                resizer.begin(p);
                                for (int y = p.y0; y < p.y1; ++y)
                                    resizer.add_row(y, &scaled[i].px[size_t(y) * scaled[i].width * 3]);
                                resizer.finish(view);
                            }
                        }, {}, {}});
    std::unique_ptr<PythonBaseline> python;
    if (o.python && torchvision_available()) python = std::make_unique<PythonBaseline>(images, dir);
    if (python) variants.push_back({"(d) PIL + torchvision (python3)", nullptr, {}, {}});
    std::printf("%u rounds of %zu images, one thread, alternating (the order rotates each round); IDCT scaling "
                "in %zu of the train crops; resize kernel: %s\n", o.rounds, n, scaled_count,
                imgpack::detail::resample_kernel());
    for (round = 0; round < o.rounds; ++round) {
        for (size_t k = 0; k < variants.size(); ++k) {
            Variant& v = variants[(k + round) % variants.size()];
            double wall = 0, cpu = 0;
            if (v.pass) {
                const auto start = std::chrono::steady_clock::now();
                cpu = imgpack::bench::thread_cpu_seconds_of(v.pass);
                wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            } else {
                std::tie(wall, cpu) = python->run_round();
            }
            v.rate.push_back(n / cpu);
            v.wall_rate.push_back(n / wall);
        }
    }
    std::printf("\nimages/s per core: images over the thread's CPU time (wall-clock in the last column)\n");
    std::printf("%-46s %8s %17s %9s %10s\n", "", "median", "min-max", "ms/image", "wall med.");
    for (const Variant& v : variants) {
        const auto s = spread(v.rate), w = spread(v.wall_rate);
        std::printf("%-46s %8.0f %8.0f-%-8.0f %9.3f %10.0f\n", v.name.c_str(), s.median, s.min, s.max, 1000 / s.median,
                    w.median);
    }
    auto ratio = [&](const char* name, size_t a, size_t b, const char* target) {
        std::vector<double> r, rw;
        for (size_t i = 0; i < variants[a].rate.size(); ++i) {
            r.push_back(variants[a].rate[i] / variants[b].rate[i]);
            rw.push_back(variants[a].wall_rate[i] / variants[b].wall_rate[i]);
        }
        const auto s = spread(r), w = spread(rw);
        std::printf("  %-12s %6.2fx (%.2f-%.2f)   wall-clock %5.2fx (%.2f-%.2f)   target %s\n", name, s.median, s.min,
                    s.max, w.median, w.min, w.max, target);
    };
    std::printf("\nratios, per round (median, min-max):\n");
    ratio("(a) / (c)", 0, 2, ">= 1.0");
    ratio("(a) / (b)", 0, 1, ">= 1.3");
    if (python) ratio("(a) / (d)", 0, 5, ">= 2.5");
    ratio("eval / (c)", 3, 2, ">= 0.9");
    std::vector<double> share;
    for (size_t i = 0; i < variants[0].rate.size(); ++i) share.push_back(variants[0].rate[i] / variants[4].rate[i]);
    const auto s = spread(share);
    std::printf("  the resize alone is %.0f%% (%.0f-%.0f%%) of (a)'s time\n", 100 * s.median, 100 * s.min, 100 * s.max);
    tjDestroy(tj);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::string mode = argc > 1 ? argv[1] : "";
        if (mode == "cut") return cut(argc, argv);
        if (mode == "run") return run(argc, argv);
        std::fputs("usage: imgpack_bench_loader cut DIR COUNT SEED PHOTO... | run PACK [--split S] [--images N] "
                   "[--rounds R] [--densest] [--no-python] [--no-fidelity]\n", stderr);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "imgpack_bench_loader: %s\n", e.what());
        return 1;
    }
}
