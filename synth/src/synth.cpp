// Synthetic ImageNet writer (see synth.hpp). Every byte written is a pure function of the
// Options: randomness comes only from seeded generators whose output the C++ standard fixes
// (std::mt19937_64, plus our own SplitMix64), never from std::*_distribution, time or
// std::random_device, so the same options give byte-identical files.
#include <imgpack/synth.hpp>

#include <imgpack/splitmix64.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace imgpack::synth {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

// 2012-05-01 00:00 UTC, around the ILSVRC2012 release. Fixed so archives are reproducible.
constexpr time_t kMtime = 1335830400;
// Real train names look like n01440764_10026.JPEG: numbers up to five digits.
constexpr uint64_t kMaxImageNumber = 99999;
// JPEG stores dimensions in 16 bits; TurboJPEG takes int.
constexpr uint32_t kMaxSide = 65500;

// One random stream per purpose, so that e.g. changing opts.val leaves the train files alone.
enum class Stream : uint64_t {
    wnids = 1,
    train_names,
    train_order,
    quirks,
    subsets,
    val_labels,
    val_order,
    test_order,
    train_pixels,
    val_pixels,
    test_pixels,
};

[[noreturn]] void fail(const std::string& file, std::string_view what) {
    throw std::runtime_error("imgpack synth: " + file + ": " + std::string(what));
}

// ---------------------------------------------------------------- randomness

// Seed for (purpose, item): mixing keeps neighbouring seeds/indices uncorrelated.
uint64_t derive_seed(uint64_t seed, Stream stream, uint64_t index = 0) {
    uint64_t s = SplitMix64{seed}.next() ^ (static_cast<uint64_t>(stream) * 0xD1B54A32D192ED03ull);
    s = SplitMix64{s}.next() ^ index;
    return SplitMix64{s}.next();
}

// Bulk choices (names, orders, labels). `rng() % n` instead of a std distribution because
// distributions are implementation-defined; the slight modulo bias does not matter here.
class Rng {
public:
    Rng(uint64_t seed, Stream stream) : eng_(derive_seed(seed, stream)) {}
    uint64_t below(uint64_t n) { return eng_() % n; }

    template <class T>
    void shuffle(std::vector<T>& v) {  // Fisher-Yates
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
    }

private:
    std::mt19937_64 eng_;
};

// Per-image pixels: cheaper to seed than mt19937_64, which matters for 100k tiny images.
// (`% n`, not SplitMix64::below: the bias does not matter here and the images stay as they were.)
struct PixelRng {
    SplitMix64 gen;
    uint64_t next() { return gen.next(); }
    uint64_t below(uint64_t n) { return next() % n; }
};

// ---------------------------------------------------------------- pixels

// ycck: TurboJPEG's CMYK JPEG, Adobe APP14 transform 2 (YCCK). cmyk: the same relabelled as a
// plain Adobe CMYK JPEG (transform 0, component IDs 'C','M','Y','K'). ImageNet has both kinds:
// of its 318 four-channel JPEGs with an Adobe marker, 247 are YCCK and 71 plain CMYK (counted in
// nothings/stb PR #427).
enum class Kind { baseline420, color444, progressive, gray, ycck, cmyk, png };

// Cycling by index (rather than drawing) guarantees every kind shows up in any set of >= 4.
Kind cycled_kind(uint64_t ordinal) {
    constexpr std::array kinds{Kind::baseline420, Kind::color444, Kind::progressive, Kind::gray};
    return kinds[ordinal % kinds.size()];
}

int channels_of(Kind kind) {
    switch (kind) {
        case Kind::gray: return 1;
        case Kind::ycck:
        case Kind::cmyk: return 4;
        default: return 3;
    }
}

uint8_t clamp_byte(int v) { return static_cast<uint8_t>(std::clamp(v, 0, 255)); }

// Gradients (smooth, compress like photos) + a few flat rectangles (edges) + light noise
// (so no two files are alike). Interleaved samples, `ch` per pixel.
void paint(PixelRng& rng, uint32_t w, uint32_t h, int ch, Bytes& px) {
    px.resize(size_t{w} * h * ch);
    int base[4], gx[4], gy[4];
    for (int c = 0; c < ch; ++c) {
        base[c] = static_cast<int>(rng.below(256));
        gx[c] = static_cast<int>(rng.below(511)) - 255;
        gy[c] = static_cast<int>(rng.below(511)) - 255;
    }
    // Separable, so the divisions are per row and per column rather than per sample.
    const int iw = static_cast<int>(w), ih = static_cast<int>(h);
    std::vector<int> col(size_t{w} * ch);
    for (int x = 0; x < iw; ++x)
        for (int c = 0; c < ch; ++c) col[size_t(x) * ch + c] = gx[c] * x / iw;
    for (int y = 0; y < ih; ++y) {
        int row_base[4];
        for (int c = 0; c < ch; ++c) row_base[c] = base[c] + gy[c] * y / ih;
        uint8_t* row = px.data() + size_t(y) * iw * ch;
        for (size_t x = 0, i = 0; x < w; ++x)
            for (int c = 0; c < ch; ++c, ++i) row[i] = clamp_byte(row_base[c] + col[i]);
    }

    const uint64_t rects = 1 + rng.below(4);
    for (uint64_t r = 0; r < rects; ++r) {
        const uint32_t x0 = static_cast<uint32_t>(rng.below(w));
        const uint32_t y0 = static_cast<uint32_t>(rng.below(h));
        const uint32_t x1 = x0 + 1 + static_cast<uint32_t>(rng.below(w - x0));
        const uint32_t y1 = y0 + 1 + static_cast<uint32_t>(rng.below(h - y0));
        uint8_t colour[4];
        for (int c = 0; c < ch; ++c) colour[c] = static_cast<uint8_t>(rng.below(256));
        for (uint32_t y = y0; y < y1; ++y)
            for (uint32_t x = x0; x < x1; ++x)
                std::copy(colour, colour + ch, px.data() + (size_t{y} * w + x) * ch);
    }

    uint64_t bits = 0;  // 16 four-bit noise values per draw
    for (size_t i = 0; i < px.size(); ++i) {
        if (i % 16 == 0) bits = rng.next();
        px[i] = clamp_byte(px[i] + static_cast<int>(bits & 15) - 8);
        bits >>= 4;
    }
}

// ---------------------------------------------------------------- PNG (libpng)

struct PngSink {
    Bytes* out;
    char error[256];
};

void png_write_cb(png_structp png, png_bytep data, size_t n) {
    auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
    bool ok = true;
    try {
        sink->out->insert(sink->out->end(), data, data + n);
    } catch (...) {
        ok = false;
    }
    if (!ok) png_error(png, "out of memory");  // outside the catch: longjmp must not leave it
}

void png_flush_cb(png_structp) {}

[[noreturn]] void png_error_cb(png_structp png, png_const_charp msg) {
    auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
    std::snprintf(sink->error, sizeof sink->error, "%s", msg);
    std::longjmp(png_jmpbuf(png), 1);
}

void png_warning_cb(png_structp, png_const_charp) {}  // warnings are not failures

// The setjmp lives here, in a frame without objects that have destructors, so a longjmp
// from libpng's error handler skips no C++ cleanup.
bool png_write_all(png_structp png, png_infop info, PngSink* sink, uint32_t w, uint32_t h,
                   png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_write_fn(png, sink, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, nullptr);
    return true;
}

Bytes encode_png(const Bytes& rgb, uint32_t w, uint32_t h, const std::string& name) {
    Bytes out;
    PngSink sink{&out, "unknown libpng error"};
    struct Structs {  // png_destroy_write_struct accepts null members
        png_structp png = nullptr;
        png_infop info = nullptr;
        ~Structs() { png_destroy_write_struct(&png, &info); }
    } s;
    s.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_error_cb, png_warning_cb);
    if (!s.png) fail(name, "png_create_write_struct failed");
    s.info = png_create_info_struct(s.png);
    if (!s.info) fail(name, "png_create_info_struct failed");

    std::vector<png_bytep> rows(h);
    for (uint32_t y = 0; y < h; ++y)
        rows[y] = const_cast<png_bytep>(rgb.data() + size_t{y} * w * 3);  // libpng only reads
    if (!png_write_all(s.png, s.info, &sink, w, h, rows.data()))
        fail(name, std::string("libpng: ") + sink.error);
    return out;
}

// ---------------------------------------------------------------- JPEG (TurboJPEG)

struct TjHandleDeleter {
    void operator()(void* h) const { tjDestroy(h); }
};
using TjHandle = std::unique_ptr<void, TjHandleDeleter>;

struct TjBufferDeleter {
    void operator()(unsigned char* p) const { tjFree(p); }
};

// Makes one image file of a given kind from a per-image seed; owns the (reused) TurboJPEG
// compressors and pixel buffer.
//
// Progressive images get their own compressor: with libjpeg-turbo 2.1.5, a handle that has
// made a progressive JPEG (which optimizes the Huffman tables in place) then writes corrupt
// baseline JPEGs ("bad Huffman code" on decode), because the standard tables are not put
// back. Seen here on Debian 12; cf. libjpeg-turbo PR #589 / issue #851.
class ImageMaker {
public:
    explicit ImageMaker(const Options& opts)
        : tj_(tjInitCompress()), tj_progressive_(tjInitCompress()), min_(opts.min_side),
          max_(opts.max_side), quality_(opts.quality) {
        if (!tj_ || !tj_progressive_) fail("tjInitCompress", tjGetErrorStr2(nullptr));
    }

    Bytes make(Kind kind, uint64_t seed, const std::string& name) {
        PixelRng rng{SplitMix64{seed}};
        const uint32_t w = min_ + static_cast<uint32_t>(rng.below(uint64_t{max_} - min_ + 1));
        const uint32_t h = min_ + static_cast<uint32_t>(rng.below(uint64_t{max_} - min_ + 1));
        paint(rng, w, h, channels_of(kind), px_);
        switch (kind) {
            case Kind::baseline420: return jpeg(w, h, TJPF_RGB, TJSAMP_420, 0, name);
            case Kind::color444: return jpeg(w, h, TJPF_RGB, TJSAMP_444, 0, name);
            case Kind::progressive:
                return jpeg(w, h, TJPF_RGB, TJSAMP_420, TJFLAG_PROGRESSIVE, name);
            case Kind::gray: return jpeg(w, h, TJPF_GRAY, TJSAMP_GRAY, 0, name);
            case Kind::ycck: {
                Bytes out = jpeg(w, h, TJPF_CMYK, TJSAMP_444, 0, name);
                check_colorspace(out, TJCS_YCCK, name);
                return out;
            }
            case Kind::cmyk: {
                Bytes out = jpeg(w, h, TJPF_CMYK, TJSAMP_444, 0, name);
                relabel_ycck_as_cmyk(out, name);
                check_colorspace(out, TJCS_CMYK, name);
                return out;
            }
            case Kind::png: return encode_png(px_, w, h, name);
        }
        fail(name, "unknown image kind");
    }

private:
    Bytes jpeg(uint32_t w, uint32_t h, int pixel_format, int subsamp, int flags,
               const std::string& name) {
        unsigned char* raw = nullptr;  // let TurboJPEG size the output buffer
        unsigned long size = 0;
        void* tj = (flags & TJFLAG_PROGRESSIVE) ? tj_progressive_.get() : tj_.get();
        const int rc = tjCompress2(tj, px_.data(), static_cast<int>(w), 0,
                                   static_cast<int>(h), pixel_format, &raw, &size, subsamp,
                                   quality_, flags);
        std::unique_ptr<unsigned char, TjBufferDeleter> owned(raw);
        if (rc != 0) fail(name, std::string("tjCompress2: ") + tjGetErrorStr2(tj));
        return Bytes(raw, raw + size);
    }

    // TurboJPEG writes TJPF_CMYK input as an Adobe (APP14, transform 2) YCCK JPEG; libjpeg's
    // own API could write plain CMYK (JCS_CMYK), but that would be another dependency. Since a
    // YCCK file differs from a plain CMYK one only in the APP14 transform byte (and, by
    // convention, the component IDs), relabel it: the result is a valid plain Adobe CMYK JPEG
    // whose C, M, Y planes hold what were the Y, Cb, Cr planes, i.e. a linear mix of the painted
    // (inverted) channels: still gradients, edges and noise. Single-scan (baseline) files only.
    static void relabel_ycck_as_cmyk(Bytes& j, const std::string& name) {
        static constexpr unsigned char kIds[] = {'C', 'M', 'Y', 'K'};
        auto new_id = [&](unsigned char id) {
            if (id < 1 || id > 4) fail(name, "unexpected component ID in TurboJPEG's YCCK output");
            return kIds[id - 1];  // TurboJPEG numbers the components 1..4
        };
        bool adobe = false, sof = false;
        size_t i = 2;
        while (i + 4 <= j.size()) {
            if (j[i] != 0xFF) break;
            const unsigned char m = j[i + 1];
            const size_t len = size_t{j[i + 2]} << 8 | j[i + 3];
            unsigned char* d = j.data() + i + 4;  // segment data, len - 2 bytes
            if (len < 2 || i + 2 + len > j.size()) break;
            if (m == 0xEE && len >= 14 && std::memcmp(d, "Adobe", 5) == 0) {
                d[11] = 0;  // transform: 0 = none (CMYK), was 2 (YCCK)
                adobe = true;
            } else if (m == 0xC0 && len >= 8 + 3u * d[5]) {  // SOF0: P, Y, X, Nf, Nf x (id, hv, tq)
                for (unsigned c = 0; c < d[5]; ++c) d[6 + 3 * c] = new_id(d[6 + 3 * c]);
                sof = true;
            } else if (m == 0xDA && len >= 3 + 2u * d[0]) {  // SOS: Ns, Ns x (id, tables), ...
                for (unsigned c = 0; c < d[0]; ++c) d[1 + 2 * c] = new_id(d[1 + 2 * c]);
                if (!adobe || !sof) break;
                return;  // entropy-coded data follows
            }
            i += 2 + len;
        }
        fail(name, "could not relabel TurboJPEG's YCCK output as plain CMYK");
    }

    // Runs once per quirk image.
    static void check_colorspace(const Bytes& jpeg, int want, const std::string& name) {
        TjHandle d(tjInitDecompress());
        if (!d) fail(name, std::string("tjInitDecompress: ") + tjGetErrorStr2(nullptr));
        int w = 0, h = 0, subsamp = 0, colorspace = -1;
        if (tjDecompressHeader3(d.get(), jpeg.data(), jpeg.size(), &w, &h, &subsamp,
                                &colorspace) != 0)
            fail(name, std::string("tjDecompressHeader3: ") + tjGetErrorStr2(d.get()));
        if (colorspace != want)
            fail(name, want == TJCS_YCCK ? "CMYK quirk image did not come out as a YCCK JPEG"
                                         : "CMYK quirk image did not come out as a plain CMYK JPEG");
    }

    TjHandle tj_, tj_progressive_;
    uint32_t min_, max_;
    int quality_;
    Bytes px_;
};

// ---------------------------------------------------------------- tar (libarchive)

struct ArchiveDeleter {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

la_ssize_t append_cb(archive*, void* client, const void* buffer, size_t length) {
    auto* out = static_cast<Bytes*>(client);
    const auto* p = static_cast<const unsigned char*>(buffer);
    try {
        out->insert(out->end(), p, p + length);
    } catch (...) {
        return ARCHIVE_FATAL;
    }
    return static_cast<la_ssize_t>(length);
}

// A tar of regular files with fixed metadata (mtime, owner, mode) for reproducibility.
// pax_restricted writes plain ustar headers unless an entry needs more (e.g. > 8 GiB).
class TarWriter {
public:
    static TarWriter to_file(const fs::path& path) {
        TarWriter t(path.string());
        if (archive_write_open_filename(t.a_.get(), path.c_str()) != ARCHIVE_OK)
            t.fail_archive("cannot open for writing");
        return t;
    }

    // Appends the archive bytes to `out`; `label` names it in error messages.
    static TarWriter to_memory(Bytes& out, std::string label) {
        TarWriter t(std::move(label));
        if (archive_write_open(t.a_.get(), &out, nullptr, append_cb, nullptr) != ARCHIVE_OK)
            t.fail_archive("cannot open in-memory archive");
        return t;
    }

    void add(const std::string& name, const Bytes& data) {
        archive_entry* e = entry_.get();
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name.c_str());
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
        archive_entry_set_mtime(e, kMtime, 0);
        archive_entry_set_uid(e, 0);
        archive_entry_set_gid(e, 0);
        if (archive_write_header(a_.get(), e) != ARCHIVE_OK)
            fail_archive("writing header of " + name);
        size_t done = 0;
        while (done < data.size()) {
            const la_ssize_t n =
                archive_write_data(a_.get(), data.data() + done, data.size() - done);
            if (n <= 0) fail_archive("writing data of " + name);
            done += static_cast<size_t>(n);
        }
    }

    void close() {
        if (archive_write_close(a_.get()) != ARCHIVE_OK) fail_archive("closing");
        a_.reset();
    }

private:
    explicit TarWriter(std::string label)
        : a_(archive_write_new()), entry_(archive_entry_new()), label_(std::move(label)) {
        if (!a_ || !entry_) fail(label_, "libarchive: out of memory");
        if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
            archive_write_add_filter_none(a_.get()) != ARCHIVE_OK)
            fail_archive("setting up tar format");
    }

    [[noreturn]] void fail_archive(const std::string& what) const {
        const char* msg = archive_error_string(a_.get());
        std::string text = what + ": " + (msg ? msg : "unknown libarchive error");
        if (const int err = archive_errno(a_.get()); err > 0)
            text += std::string(" (") + std::strerror(err) + ")";
        fail(label_, text);
    }

    std::unique_ptr<archive, ArchiveDeleter> a_;
    std::unique_ptr<archive_entry, EntryDeleter> entry_;  // reused for every member
    std::string label_;
};

// ---------------------------------------------------------------- plan

struct TrainClass {
    std::string wnid;
    std::vector<uint32_t> numbers;  // the k in <WNID>_<k>.JPEG, in generation order
    std::string file_name(size_t j) const {
        return wnid + "_" + std::to_string(numbers[j]) + ".JPEG";
    }
};

void validate(const Options& o) {
    const std::string where = o.out_dir.string();
    if (o.out_dir.empty()) fail("(out_dir)", "output directory not set");
    if (o.min_side < 1 || o.min_side > o.max_side || o.max_side > kMaxSide)
        fail(where, "need 1 <= min_side <= max_side <= " + std::to_string(kMaxSide));
    if (o.quality < 1 || o.quality > 100) fail(where, "quality must be in 1..100");
    if (o.classes > 10'000'000) fail(where, "too many classes for 8-digit WNIDs");
    if (o.val > 0 && o.classes == 0) fail(where, "validation labels need at least one class");
    if (o.val > 99'999'999 || o.test > 99'999'999) fail(where, "val/test counts exceed 8 digits");
}

// Sorted distinct 'n' + 8 digits.
std::vector<std::string> make_wnids(const Options& o) {
    Rng rng(o.seed, Stream::wnids);
    std::set<std::string> ids;
    char buf[16];
    while (ids.size() < o.classes) {
        std::snprintf(buf, sizeof buf, "n%08llu",
                      static_cast<unsigned long long>(rng.below(100'000'000)));
        ids.insert(buf);
    }
    return {ids.begin(), ids.end()};
}

std::vector<TrainClass> make_train_classes(const Options& o,
                                           const std::vector<std::string>& wnids) {
    Rng rng(o.seed, Stream::train_names);
    // Keep the range at least twice per_class so rejection sampling stays fast.
    const uint64_t range = std::max<uint64_t>(kMaxImageNumber, uint64_t{o.per_class} * 2);
    std::vector<TrainClass> classes;
    classes.reserve(wnids.size());
    std::unordered_set<uint32_t> seen;
    for (const auto& wnid : wnids) {
        TrainClass c{wnid, {}};
        c.numbers.reserve(o.per_class);
        seen.clear();
        while (c.numbers.size() < o.per_class) {
            const auto k = static_cast<uint32_t>(1 + rng.below(range));
            if (seen.insert(k).second) c.numbers.push_back(k);
        }
        classes.push_back(std::move(c));
    }
    return classes;
}

std::vector<size_t> shuffled_indices(size_t n, Rng& rng) {
    std::vector<size_t> v(n);
    std::iota(v.begin(), v.end(), size_t{0});
    rng.shuffle(v);
    return v;
}

void write_text(const fs::path& path, const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& l : lines) (text += l) += '\n';
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) fail(path.string(), "cannot open for writing");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.close();
    if (!f) fail(path.string(), "write failed");
}

// ---------------------------------------------------------------- writers

// Quirk images: (class index in sorted order, image index in generation order).
struct Quirks {
    bool on = false;
    size_t cmyk_class = 0, cmyk_image = 0, png_class = 0, png_image = 0;
    Kind cmyk_kind = Kind::ycck;  // the four-channel JPEG: YCCK or plain CMYK
};

Quirks choose_quirks(const Options& o) {
    Quirks q;
    if (!o.quirks || o.per_class < 2 || o.classes < 1) return q;
    Rng rng(o.seed, Stream::quirks);
    q.on = true;
    q.cmyk_class = 0;  // first and last class in sorted WNID order
    q.png_class = o.classes - 1;
    q.cmyk_image = rng.below(o.per_class);
    q.png_image = rng.below(o.per_class);
    if (q.png_class == q.cmyk_class && q.png_image == q.cmyk_image)
        q.png_image = (q.png_image + 1) % o.per_class;  // one class: keep the two apart
    // Drawn last, so the draws above (and the files of older versions) stay as they were.
    // About 1 in 4, as in ImageNet (see Kind).
    q.cmyk_kind = rng.below(4) == 0 ? Kind::cmyk : Kind::ycck;
    return q;
}

// Outer tar of <WNID>.tar members in shuffled order; each inner tar built in memory.
uint64_t write_train(const Options& o, const fs::path& path, const std::vector<TrainClass>& classes,
                     const Quirks& q, ImageMaker& maker, Summary& s) {
    Rng rng(o.seed, Stream::train_order);
    TarWriter outer = TarWriter::to_file(path);
    uint64_t bytes = 0;
    Bytes inner;  // reused across classes
    for (size_t ci : shuffled_indices(classes.size(), rng)) {
        const TrainClass& c = classes[ci];
        const std::string inner_name = c.wnid + ".tar";
        inner.clear();
        TarWriter tar = TarWriter::to_memory(inner, inner_name);
        for (size_t j : shuffled_indices(c.numbers.size(), rng)) {
            const std::string name = c.file_name(j);
            Kind kind = cycled_kind(uint64_t{ci} * o.per_class + j);
            if (q.on && ci == q.cmyk_class && j == q.cmyk_image) {
                kind = q.cmyk_kind;
                s.cmyk_name = name;  // CMYK or YCCK
            } else if (q.on && ci == q.png_class && j == q.png_image) {
                kind = Kind::png;
                s.png_name = name;
            }
            // Pixels depend on (class, image) only, not on the shuffled write order.
            const Bytes img = maker.make(
                kind, derive_seed(o.seed, Stream::train_pixels, (uint64_t{ci} << 32) | j),
                inner_name + "/" + name);
            bytes += img.size();
            tar.add(name, img);
        }
        tar.close();
        outer.add(inner_name, inner);
    }
    outer.close();
    return bytes;
}

// Flat tar of <prefix>%08u.JPEG for 1..count in shuffled member order.
uint64_t write_flat(const Options& o, const fs::path& path, const char* prefix, uint32_t count,
                    Stream order, Stream pixels, ImageMaker& maker) {
    Rng rng(o.seed, order);
    TarWriter tar = TarWriter::to_file(path);
    uint64_t bytes = 0;
    char name[64];
    for (size_t i : shuffled_indices(count, rng)) {
        const uint64_t number = i + 1;
        std::snprintf(name, sizeof name, "%s%08llu.JPEG", prefix,
                      static_cast<unsigned long long>(number));
        const Bytes img = maker.make(cycled_kind(i), derive_seed(o.seed, pixels, number),
                                     path.filename().string() + "/" + name);
        bytes += img.size();
        tar.add(name, img);
    }
    tar.close();
    return bytes;
}

// TFDS format: line i = WNID of ILSVRC2012_val_<i>.JPEG (sorted name order = number order).
void write_val_labels(const Options& o, const fs::path& path,
                      const std::vector<std::string>& wnids) {
    Rng rng(o.seed, Stream::val_labels);
    std::vector<std::string> lines;
    lines.reserve(o.val);
    for (uint32_t i = 0; i < o.val; ++i) lines.push_back(wnids[rng.below(wnids.size())]);
    write_text(path, lines);
}

// SimCLR 1%/10% lists: per class a random 10% (at least 1), the 1% a subset of it; each
// list shuffled as a whole, as the real files are not sorted.
void write_subsets(const Options& o, const fs::path& path1, const fs::path& path10,
                   const std::vector<TrainClass>& classes) {
    Rng rng(o.seed, Stream::subsets);
    const uint64_t n = o.per_class;
    // Integer round-half-up of n*10% and n*1%, at least 1, at most n.
    const size_t k10 = std::min<uint64_t>(n, std::max<uint64_t>(1, (n * 10 + 50) / 100));
    const size_t k1 = std::min<uint64_t>(n, std::max<uint64_t>(1, (n + 50) / 100));
    std::vector<std::string> pct1, pct10;
    std::vector<size_t> pick(n);
    for (const auto& c : classes) {
        std::iota(pick.begin(), pick.end(), size_t{0});
        for (size_t i = 0; i < k10; ++i)  // partial Fisher-Yates: first k10 are a random sample
            std::swap(pick[i], pick[i + rng.below(n - i)]);
        for (size_t i = 0; i < k10; ++i) {
            pct10.push_back(c.file_name(pick[i]));
            if (i < k1) pct1.push_back(pct10.back());
        }
    }
    rng.shuffle(pct1);
    rng.shuffle(pct10);
    write_text(path1, pct1);
    write_text(path10, pct10);
}

}  // namespace

Summary generate(const Options& opts) {
    validate(opts);
    const fs::path& dir = opts.out_dir;
    fs::create_directories(dir);

    Summary s;
    s.wnids = make_wnids(opts);
    const std::vector<TrainClass> classes = make_train_classes(opts, s.wnids);
    ImageMaker maker(opts);

    s.train_tar = dir / "ILSVRC2012_img_train.tar";
    s.image_bytes += write_train(opts, s.train_tar, classes, choose_quirks(opts), maker, s);
    s.train_images = uint64_t{opts.classes} * opts.per_class;

    if (opts.val > 0) {
        s.val_tar = dir / "ILSVRC2012_img_val.tar";
        s.image_bytes += write_flat(opts, s.val_tar, "ILSVRC2012_val_", opts.val, Stream::val_order,
                                    Stream::val_pixels, maker);
        s.val_images = opts.val;
        s.val_labels = dir / "imagenet2012_validation_labels.txt";
        write_val_labels(opts, s.val_labels, s.wnids);
    }
    if (opts.test > 0) {
        s.test_tar = dir / "ILSVRC2012_img_test.tar";
        s.image_bytes += write_flat(opts, s.test_tar, "ILSVRC2012_test_", opts.test,
                                    Stream::test_order, Stream::test_pixels, maker);
        s.test_images = opts.test;
    }

    // A rerun into the same directory with val or test = 0 must not leave old files behind.
    if (opts.val == 0) {
        fs::remove(dir / "ILSVRC2012_img_val.tar");
        fs::remove(dir / "imagenet2012_validation_labels.txt");
    }
    if (opts.test == 0) fs::remove(dir / "ILSVRC2012_img_test.tar");

    s.subset_1pct = dir / "1percent.txt";
    s.subset_10pct = dir / "10percent.txt";
    write_subsets(opts, s.subset_1pct, s.subset_10pct, classes);
    return s;
}

std::vector<unsigned char> encode_png(const std::vector<unsigned char>& rgb, uint32_t width, uint32_t height) {
    if (rgb.size() != size_t{width} * height * 3) throw std::invalid_argument("encode_png: the pixels are not width x height x 3");
    return encode_png(rgb, width, height, "PNG");
}

}  // namespace imgpack::synth
