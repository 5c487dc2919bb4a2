#include "label_sources.hpp"
#include "matlab_v5.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

namespace imgpack {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxListBytes = uint64_t{1} << 30;     // a labels/CSV/names text file
constexpr uint64_t kMaxDevkitEntry = uint64_t{64} << 20;  // meta.mat or the ground truth in the archive
constexpr std::string_view kMetaMat = "meta.mat";
constexpr std::string_view kGroundTruth = "ILSVRC2012_validation_ground_truth.txt";
constexpr std::string_view kKaggleHeader = "ImageId,PredictionString";

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error("imgpack: " + msg); }

std::string read_text_file(const fs::path& p, uint64_t max_bytes = kMaxListBytes) {
    std::ifstream in(p, std::ios::binary);
    if (!in) fail("cannot read " + p.string() + ": " + std::strerror(errno));
    std::string s;
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        s.append(buf, size_t(in.gcount()));
        if (s.size() > max_bytes) fail(p.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (in.bad()) fail("error reading " + p.string());
    return s;
}

std::string read_head(const fs::path& p, size_t n) {
    std::ifstream in(p, std::ios::binary);
    if (!in) fail("cannot read " + p.string() + ": " + std::strerror(errno));
    std::string s(n, '\0');
    in.read(s.data(), std::streamsize(n));
    s.resize(size_t(in.gcount()));
    return s;
}

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::string_view strip_bom(std::string_view s) { return s.starts_with("\xEF\xBB\xBF") ? s.substr(3) : s; }

// A line quoted for an error message: at most 60 characters, non-printables as '?'.
std::string show(std::string_view s) {
    std::string q;
    for (char c : s.substr(0, 60)) q += (c >= 0x20 && c < 0x7F) ? c : '?';
    if (s.size() > 60) q += "...";
    return "'" + q + "'";
}

// Calls f(line_number, trimmed_line) for each line of `text` (LF or CRLF; a BOM is dropped).
template <class F>
void for_each_line(std::string_view text, F&& f) {
    text = strip_bom(text);
    size_t line_no = 0;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        f(++line_no, trim(line));
    }
}

// The lines of a positional list (line i belongs to the i-th file): no empty line may come
// before a non-empty one, or every later label would shift.
std::vector<std::string_view> positional_lines(std::string_view text, const std::string& source) {
    std::vector<std::string_view> lines;
    size_t first_empty = 0;
    for_each_line(text, [&](size_t n, std::string_view line) {
        if (line.empty()) {
            if (!first_empty) first_empty = n;
            return;
        }
        if (first_empty)
            fail(source + " line " + std::to_string(first_empty) +
                 " is empty: each line must hold the label of one validation file, in order");
        lines.push_back(line);
    });
    if (lines.empty()) fail(source + " holds no labels");
    return lines;
}

// A MAT v5 (or v7.3) header: version 0x0100 or 0x0200 at byte 124 and 'IM'/'MI' at 126, in
// either byte order; text files never hold those control bytes.
bool is_mat_file(std::string_view head) {
    if (head.size() < 128) return false;
    bool endian = (head[126] == 'I' && head[127] == 'M') || (head[126] == 'M' && head[127] == 'I');
    char v0 = head[124], v1 = head[125];
    bool version = (v0 == 0 && (v1 == 1 || v1 == 2)) || (v1 == 0 && (v0 == 1 || v0 == 2));
    return endian && version;
}

bool is_archive(std::string_view head) {
    auto at = [&](size_t off, std::string_view magic) { return head.size() >= off + magic.size() && head.substr(off, magic.size()) == magic; };
    return at(0, "\x1F\x8B") ||                 // gzip
           at(257, "ustar") ||                  // tar
           at(0, "BZh") ||                      // bzip2
           at(0, "\xFD" "7zXZ") ||              // xz
           at(0, "\x28\xB5\x2F\xFD") ||         // zstd
           at(0, "PK\x03\x04");                 // zip
}

std::string base_name(std::string_view entry) {
    while (!entry.empty() && entry.back() == '/') entry.remove_suffix(1);
    size_t slash = entry.rfind('/');
    return std::string(slash == std::string_view::npos ? entry : entry.substr(slash + 1));
}

// --- the devkit archive, read in-stream with libarchive -------------------------------------

struct ArchiveCloser {
    void operator()(archive* a) const { archive_read_free(a); }
};

struct DevkitArchiveFiles {
    std::optional<std::vector<unsigned char>> meta_mat, ground_truth;
    std::string meta_entry, ground_truth_entry;
};

// Reads (or, with `names_only`, just finds) meta.mat and the ground truth in an archive.
DevkitArchiveFiles scan_devkit_archive(const fs::path& path, bool names_only) {
    std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
    if (!a) fail("out of memory opening " + path.string());
    archive_read_support_filter_all(a.get());
    archive_read_support_format_all(a.get());
    auto archive_error = [&](const std::string& what) -> std::string {
        const char* e = archive_error_string(a.get());
        return path.string() + ": " + what + (e ? std::string(" (") + e + ")" : std::string());
    };
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
        fail(archive_error("cannot open it as an archive"));
    DevkitArchiveFiles files;
    archive_entry* entry = nullptr;
    for (;;) {
        int rc = archive_read_next_header(a.get(), &entry);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN) fail(archive_error("not a readable archive"));
        const char* name_c = archive_entry_pathname(entry);
        std::string name = name_c ? name_c : "";
        std::string base = base_name(name);
        bool is_meta = base == kMetaMat, is_gt = base == kGroundTruth;
        if ((!is_meta && !is_gt) || archive_entry_filetype(entry) != AE_IFREG) {
            archive_read_data_skip(a.get());
            continue;
        }
        std::string& seen = is_meta ? files.meta_entry : files.ground_truth_entry;
        if (!seen.empty()) fail(path.string() + " holds two " + base + " files: " + seen + " and " + name);
        seen = name;
        if (names_only) {
            archive_read_data_skip(a.get());
            continue;
        }
        if (archive_entry_size_is_set(entry) && uint64_t(archive_entry_size(entry)) > kMaxDevkitEntry)
            fail(path.string() + ": entry " + name + " is larger than " + std::to_string(kMaxDevkitEntry) + " bytes");
        std::vector<unsigned char> data;
        unsigned char buf[1 << 16];
        for (;;) {
            la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
            if (n == 0) break;
            if (n < 0) fail(archive_error("cannot read entry " + name));
            data.insert(data.end(), buf, buf + n);
            if (data.size() > kMaxDevkitEntry)
                fail(path.string() + ": entry " + name + " is larger than " + std::to_string(kMaxDevkitEntry) + " bytes");
        }
        (is_meta ? files.meta_mat : files.ground_truth) = std::move(data);
    }
    return files;
}

// The folder of an extracted devkit that holds meta.mat, or nullopt.
std::optional<fs::path> find_devkit_data_dir(const fs::path& dir) {
    for (const fs::path& d : {dir / "data", dir, dir / "ILSVRC2012_devkit_t12" / "data"}) {
        std::error_code ec;
        if (fs::is_regular_file(d / kMetaMat, ec)) return d;
    }
    return std::nullopt;
}

std::vector<unsigned char> read_binary(const fs::path& p) {
    std::string s = read_text_file(p, kMaxDevkitEntry);
    return {s.begin(), s.end()};
}

// A scalar numeric field of a struct element, as an integer.
long long scalar_int(const mat5::Array& s, size_t e, std::string_view field, const std::string& source) {
    const mat5::Array* f = s.field(e, field);
    std::string where = source + ": synsets(" + std::to_string(e + 1) + ")." + std::string(field);
    if (!f) fail(where + " is missing");
    if (!f->is_numeric() || f->real.size() != 1) fail(where + " is not a scalar number");
    double v = f->real[0];
    if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 1e15) fail(where + " is not an integer");
    return (long long)v;
}

const std::string& char_field(const mat5::Array& s, size_t e, std::string_view field, const std::string& source) {
    const mat5::Array* f = s.field(e, field);
    std::string where = source + ": synsets(" + std::to_string(e + 1) + ")." + std::string(field);
    if (!f) fail(where + " is missing");
    if (f->cls != mat5::ClassId::Char) fail(where + " is not a char array");
    return f->text;
}

std::vector<std::string> check_count(std::vector<std::string> wnids, const std::vector<std::string>& names,
                                     const std::string& source) {
    if (wnids.size() != names.size())
        fail(source + " has " + std::to_string(wnids.size()) + " validation labels but the validation split has " +
             std::to_string(names.size()) + " files");
    return wnids;
}

std::string file_stem(std::string_view name) {
    std::string base = base_name(name);
    size_t dot = base.rfind('.');
    return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::string list_some(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 3; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 3) s += ", ...";
    return s;
}

DevkitMeta meta_from(const fs::path& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) return read_devkit(p, false).meta;
    std::string head = read_head(p, 512);
    if (is_mat_file(head)) return read_devkit_meta(p);
    if (is_archive(head)) return read_devkit(p, false).meta;
    fail(p.string() + " is neither the ILSVRC2012 devkit (archive or directory) nor its meta.mat");
}

}  // namespace

bool looks_like_wnid(std::string_view s) {
    if (s.size() != 9 || s[0] != 'n') return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// --- devkit ---------------------------------------------------------------------------------

const Synset& DevkitMeta::by_id(int id) const {
    if (id < 1 || size_t(id) > leaves.size())
        fail("ILSVRC2012_ID " + std::to_string(id) + " is outside 1.." + std::to_string(leaves.size()));
    return leaves[size_t(id) - 1];
}

DevkitMeta parse_devkit_meta(std::span<const unsigned char> bytes, const std::string& source) {
    mat5::File file = mat5::parse(bytes, source);
    const mat5::Array* s = file.find("synsets");
    if (!s) fail(source + " has no 'synsets' variable: not the ILSVRC2012 devkit's meta.mat");
    if (s->cls != mat5::ClassId::Struct) fail(source + ": 'synsets' is not a struct array");
    for (std::string_view f : {"ILSVRC2012_ID", "WNID", "words", "num_children"})
        if (std::find(s->fields.begin(), s->fields.end(), f) == s->fields.end())
            fail(source + ": 'synsets' has no field '" + std::string(f) + "'");
    const size_t n = size_t(s->numel());
    std::vector<Synset> leaves;
    for (size_t e = 0; e < n; ++e) {
        if (scalar_int(*s, e, "num_children", source) != 0) continue;
        long long id = scalar_int(*s, e, "ILSVRC2012_ID", source);
        const std::string& wnid = char_field(*s, e, "WNID", source);
        if (!looks_like_wnid(wnid)) fail(source + ": synsets(" + std::to_string(e + 1) + ").WNID " + show(wnid) + " is not a WNID");
        if (id < 1 || id > (long long)n)
            fail(source + ": synsets(" + std::to_string(e + 1) + ").ILSVRC2012_ID " + std::to_string(id) + " is out of range");
        leaves.push_back({int(id), wnid, char_field(*s, e, "words", source)});
    }
    if (leaves.empty()) fail(source + ": 'synsets' has no leaf (num_children == 0)");
    std::sort(leaves.begin(), leaves.end(), [](const Synset& a, const Synset& b) { return a.id < b.id; });
    std::set<std::string> wnids;
    for (size_t i = 0; i < leaves.size(); ++i) {
        if (leaves[i].id != int(i + 1))
            fail(source + ": the leaf synsets' ILSVRC2012_IDs are not 1.." + std::to_string(leaves.size()) + " (ID " +
                 std::to_string(i + 1) + (leaves[i].id == int(i) ? " repeats)" : " is missing)"));
        if (!wnids.insert(leaves[i].wnid).second) fail(source + ": WNID " + leaves[i].wnid + " names two leaf synsets");
    }
    return DevkitMeta{std::move(leaves)};
}

DevkitMeta read_devkit_meta(const fs::path& meta_mat) {
    std::vector<unsigned char> bytes = read_binary(meta_mat);
    return parse_devkit_meta(bytes, meta_mat.string());
}

std::vector<int> parse_devkit_ground_truth(std::string_view text, const std::string& source, int max_id) {
    std::vector<int> ids;
    size_t n = 0;
    for (std::string_view line : positional_lines(text, source)) {
        ++n;
        int v = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
        if (ec != std::errc() || p != line.data() + line.size())
            fail(source + " line " + std::to_string(n) + ": " + show(line) + " is not an ILSVRC2012_ID (an integer)");
        if (v < 1 || v > max_id)
            fail(source + " line " + std::to_string(n) + ": ILSVRC2012_ID " + std::to_string(v) + " is outside 1.." +
                 std::to_string(max_id));
        ids.push_back(v);
    }
    return ids;
}

std::vector<std::string> Devkit::val_wnids() const {
    if (!has_val_ground_truth) fail(source + " has no " + std::string(kGroundTruth));
    std::vector<std::string> out;
    out.reserve(val_ids.size());
    for (int id : val_ids) out.push_back(meta.by_id(id).wnid);
    return out;
}

Devkit read_devkit(const fs::path& path, bool need_ground_truth) {
    Devkit kit;
    kit.source = path.string();
    std::error_code ec;
    std::vector<unsigned char> meta;
    std::string meta_name, gt_text, gt_name;
    bool have_gt = false;
    if (fs::is_directory(path, ec)) {
        std::optional<fs::path> dir = find_devkit_data_dir(path);
        if (!dir)
            fail(path.string() + " is not an ILSVRC2012 devkit directory: no data/meta.mat in it (nor in "
                 "ILSVRC2012_devkit_t12/data/)");
        meta_name = (*dir / kMetaMat).string();
        meta = read_binary(*dir / kMetaMat);
        gt_name = (*dir / kGroundTruth).string();
        if (fs::is_regular_file(*dir / kGroundTruth, ec)) {
            gt_text = read_text_file(*dir / kGroundTruth);
            have_gt = true;
        }
    } else {
        DevkitArchiveFiles files = scan_devkit_archive(path, false);
        if (!files.meta_mat)
            fail(path.string() + " holds no data/meta.mat: it is not the ILSVRC2012 devkit (ILSVRC2012_devkit_t12.tar.gz)");
        meta_name = path.string() + ":" + files.meta_entry;
        meta = std::move(*files.meta_mat);
        if (files.ground_truth) {
            gt_name = path.string() + ":" + files.ground_truth_entry;
            gt_text.assign(files.ground_truth->begin(), files.ground_truth->end());
            have_gt = true;
        }
    }
    kit.meta = parse_devkit_meta(meta, meta_name);
    if (have_gt) {
        kit.val_ids = parse_devkit_ground_truth(gt_text, gt_name, int(kit.meta.leaves.size()));
        kit.has_val_ground_truth = true;
    } else if (need_ground_truth) {
        fail(path.string() + " has meta.mat but no data/" + std::string(kGroundTruth));
    }
    return kit;
}

// --- Kaggle ---------------------------------------------------------------------------------

std::map<std::string, std::string> parse_kaggle_val_solution(std::string_view text, const std::string& source) {
    std::map<std::string, std::string> out;
    bool header = false;
    auto unquote = [](std::string_view s) {
        s = trim(s);
        if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim(s.substr(1, s.size() - 2));
        return s;
    };
    for_each_line(text, [&](size_t n, std::string_view line) {
        if (line.empty()) return;
        std::string where = source + " line " + std::to_string(n);
        if (!header) {
            if (line != kKaggleHeader)
                fail(where + ": expected the header " + std::string(kKaggleHeader) + ", found " + show(line));
            header = true;
            return;
        }
        size_t comma = line.find(',');
        if (comma == std::string_view::npos) fail(where + ": " + show(line) + " is not ImageId,PredictionString");
        std::string_view id = unquote(line.substr(0, comma));
        std::string_view pred = unquote(line.substr(comma + 1));
        if (id.empty()) fail(where + ": empty ImageId");
        std::string_view wnid = pred.substr(0, pred.find_first_of(" \t"));
        if (wnid.empty()) fail(where + ": no label in the PredictionString of " + std::string(id));
        if (!looks_like_wnid(wnid)) fail(where + ": " + show(wnid) + " (the label of " + std::string(id) + ") is not a WNID");
        if (!out.emplace(id, wnid).second) fail(where + ": a second row for " + std::string(id));
    });
    if (!header) fail(source + " is empty: expected Kaggle's LOC_val_solution.csv");
    if (out.empty()) fail(source + " has a header but no rows");
    return out;
}

std::map<std::string, std::string> read_kaggle_val_solution(const fs::path& csv) {
    return parse_kaggle_val_solution(read_text_file(csv), csv.string());
}

std::vector<std::string> wnids_in_name_order(const std::map<std::string, std::string>& wnid_by_stem,
                                             const std::vector<std::string>& sorted_val_names, const std::string& source) {
    std::vector<std::string> out, missing, extra;
    out.reserve(sorted_val_names.size());
    std::set<std::string> used;
    for (const std::string& name : sorted_val_names) {
        std::string stem = file_stem(name);
        if (!used.insert(stem).second)
            fail("two validation files have the stem " + stem + " (" + name + "): " + source + " cannot tell them apart");
        auto it = wnid_by_stem.find(stem);
        if (it == wnid_by_stem.end()) {
            missing.push_back(name);
            continue;
        }
        out.push_back(it->second);
    }
    if (!missing.empty())
        fail(source + " has no row for " + std::to_string(missing.size()) + " of the " +
             std::to_string(sorted_val_names.size()) + " validation files (" + list_some(missing) + ")");
    if (used.size() != wnid_by_stem.size()) {
        for (const auto& [stem, w] : wnid_by_stem)
            if (!used.count(stem)) extra.push_back(stem);
        fail(source + " has rows for " + std::to_string(extra.size()) + " files that are not in the validation split (" +
             list_some(extra) + ")");
    }
    return out;
}

// --- class names ----------------------------------------------------------------------------

std::map<std::string, std::string> parse_synset_words(std::string_view text, const std::string& source) {
    std::map<std::string, std::string> out;
    for_each_line(text, [&](size_t n, std::string_view line) {
        if (line.empty()) return;
        std::string where = source + " line " + std::to_string(n);
        size_t sp = line.find_first_of(" \t");
        std::string_view wnid = line.substr(0, sp);
        std::string_view words = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp));
        if (!looks_like_wnid(wnid)) fail(where + ": " + show(line) + " does not start with a WNID");
        if (words.empty()) fail(where + ": no name after " + std::string(wnid));
        if (!out.emplace(wnid, words).second) fail(where + ": " + std::string(wnid) + " is named twice");
    });
    if (out.empty()) fail(source + " holds no class names");
    return out;
}

std::map<std::string, std::string> read_class_names(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path.string() + " does not exist");
    std::string head = fs::is_directory(path, ec) ? std::string() : read_head(path, 512);
    if (fs::is_directory(path, ec) || is_archive(head) || is_mat_file(head)) {
        std::map<std::string, std::string> out;
        for (const Synset& s : meta_from(path).leaves) out.emplace(s.wnid, s.words);
        return out;
    }
    return parse_synset_words(read_text_file(path), path.string());
}

// --- validation labels ----------------------------------------------------------------------

ValLabelSource detect_val_labels(const fs::path& path) {
    ValLabelSource src;
    src.path = path;
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path.string() + " does not exist");
    if (fs::is_directory(path, ec)) {
        std::optional<fs::path> dir = find_devkit_data_dir(path);
        if (!dir || !fs::is_regular_file(*dir / kGroundTruth, ec))
            fail(path.string() + " is a directory but not an extracted ILSVRC2012 devkit: expected data/meta.mat and data/" +
                 std::string(kGroundTruth) + " in it");
        src.kind = ValLabelKind::DevkitDirectory;
        src.description = "ILSVRC2012 devkit directory (ground truth + meta.mat)";
        return src;
    }
    std::string head = read_head(path, 4096);
    if (head.empty()) fail(path.string() + " is empty");
    if (is_archive(head)) {
        DevkitArchiveFiles files = scan_devkit_archive(path, true);
        if (files.meta_entry.empty() || files.ground_truth_entry.empty())
            fail(path.string() + " is an archive but not the ILSVRC2012 devkit: it holds no data/" +
                 std::string(files.meta_entry.empty() ? kMetaMat : kGroundTruth));
        src.kind = ValLabelKind::DevkitArchive;
        src.description = "ILSVRC2012 devkit archive (ground truth + meta.mat)";
        return src;
    }
    if (is_mat_file(head))
        fail(path.string() + " is a MAT-file (the devkit's meta.mat?): validation labels also need " +
             std::string(kGroundTruth) + ": give the devkit archive or directory");
    std::string_view first;
    for_each_line(head, [&](size_t, std::string_view line) {
        if (first.empty()) first = line;
    });
    if (first == kKaggleHeader) {
        src.kind = ValLabelKind::KaggleCsv;
        src.description = "Kaggle LOC_val_solution.csv (first WNID of each PredictionString, matched by file name)";
        return src;
    }
    if (looks_like_wnid(first)) {
        src.kind = ValLabelKind::TfdsList;
        src.description = "TFDS validation labels file (one WNID per line, in sorted file-name order)";
        return src;
    }
    if (!first.empty() && first.size() <= 9 && std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        src.kind = ValLabelKind::DevkitGroundTruth;
        fs::path beside = path.parent_path() / kMetaMat;
        if (fs::is_regular_file(beside, ec)) {
            src.meta_mat = beside;
            src.description = "ILSVRC2012 devkit ground truth (ILSVRC2012_IDs) + the meta.mat beside it";
        } else {
            src.description = "ILSVRC2012 devkit ground truth (ILSVRC2012_IDs; needs the devkit's meta.mat)";
        }
        return src;
    }
    std::string_view token = first.substr(0, first.find_first_of(" \t"));
    std::string hint = looks_like_wnid(token) && token.size() < first.size()
                           ? ": it looks like a class-name list (WNID and words per line), not validation labels"
                           : "";
    fail("cannot tell what kind of validation labels " + path.string() + " holds (its first line is " + show(first) +
         ")" + hint + ". Expected one of: TFDS's imagenet2012_validation_labels.txt (one WNID per line), the ILSVRC2012 devkit "
         "(ILSVRC2012_devkit_t12.tar.gz or its extracted directory), Kaggle's LOC_val_solution.csv, or the devkit's " +
         std::string(kGroundTruth) + " together with the devkit");
}

std::vector<std::string> load_val_labels(const ValLabelSource& src, const std::vector<std::string>& names,
                                         const fs::path& devkit) {
    const std::string name = src.path.string();
    switch (src.kind) {
        case ValLabelKind::TfdsList: {
            std::vector<std::string> wnids;
            size_t n = 0;
            const std::string text = read_text_file(src.path);
            for (std::string_view line : positional_lines(text, name)) {
                ++n;
                if (!looks_like_wnid(line))
                    fail(name + " line " + std::to_string(n) + ": " + show(line) +
                         " is not a WNID (n and 8 digits); a TFDS validation labels file has one per line");
                wnids.emplace_back(line);
            }
            return check_count(std::move(wnids), names, name);
        }
        case ValLabelKind::DevkitArchive:
        case ValLabelKind::DevkitDirectory:
            return check_count(read_devkit(src.path, true).val_wnids(), names, name);
        case ValLabelKind::KaggleCsv:
            return wnids_in_name_order(read_kaggle_val_solution(src.path), names, name);
        case ValLabelKind::DevkitGroundTruth: {
            DevkitMeta meta;
            if (!devkit.empty()) meta = meta_from(devkit);
            else if (!src.meta_mat.empty()) meta = read_devkit_meta(src.meta_mat);
            else
                fail(name + " holds ILSVRC2012_IDs (the devkit's " + std::string(kGroundTruth) +
                     "), which need the devkit's meta.mat to become WNIDs: give the devkit "
                     "(ILSVRC2012_devkit_t12.tar.gz or its extracted directory) instead");
            std::vector<std::string> wnids;
            const std::string text = read_text_file(src.path);
            for (int id : parse_devkit_ground_truth(text, name, int(meta.leaves.size())))
                wnids.push_back(meta.by_id(id).wnid);
            return check_count(std::move(wnids), names, name);
        }
    }
    fail("unknown validation label source kind");
}

std::vector<std::string> load_val_labels(const fs::path& path, const std::vector<std::string>& names,
                                         const fs::path& devkit) {
    return load_val_labels(detect_val_labels(path), names, devkit);
}

}  // namespace imgpack
