#include "label_sources.hpp"

#include "archive_reader.hpp"
#include "files.hpp"
#include "matlab_v5.hpp"
#include "text_lists.hpp"

#include <archive_entry.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>

namespace imgpack {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxDevkitEntry = uint64_t{64} << 20;  // meta.mat or the ground truth
constexpr std::string_view kMetaMat = "meta.mat";
constexpr std::string_view kGroundTruth = "ILSVRC2012_validation_ground_truth.txt";
constexpr std::string_view kKaggleHeader = "ImageId,PredictionString";

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error("imgpack: " + msg); }

std::span<const unsigned char> bytes_of(std::string_view s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::string_view trim(std::string_view s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The first non-blank line, for telling a file's kind before its lines are checked in full.
std::string_view first_entry(std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = trim(text.substr(0, nl));
        if (line.ends_with('\r')) line = trim(line.substr(0, line.size() - 1));
        if (!line.empty()) return line;
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    }
    return {};
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

// --- the devkit: its two files, from an archive (in memory) or an extracted directory ---------

struct DevkitFiles {
    std::string source;                               // the archive or directory, for messages
    std::optional<std::string> meta_mat, ground_truth;
    std::string meta_name, ground_truth_name;         // where each was found, for messages
};

// Reads meta.mat and the ground truth out of an archive already in memory.
DevkitFiles devkit_archive_files(std::string_view archive_bytes, const std::string& source) {
    ArchiveReader a = new_archive_reader(/*any_format=*/true);
    auto archive_error = [&](const std::string& what) -> std::string {
        const char* e = archive_error_string(a.get());
        return source + ": " + what + (e ? std::string(" (") + e + ")" : std::string());
    };
    if (archive_read_open_memory(a.get(), archive_bytes.data(), archive_bytes.size()) != ARCHIVE_OK)
        fail(archive_error("cannot open it as an archive"));
    DevkitFiles files{source, {}, {}, {}, {}};
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
        std::string& seen = is_meta ? files.meta_name : files.ground_truth_name;
        if (!seen.empty()) fail(source + " holds two " + base + " files: " + seen + " and " + source + ":" + name);
        seen = source + ":" + name;
        if (archive_entry_size_is_set(entry) && uint64_t(archive_entry_size(entry)) > kMaxDevkitEntry)
            fail(source + ": entry " + name + " is larger than " + std::to_string(kMaxDevkitEntry) + " bytes");
        std::string data;
        char buf[1 << 16];
        for (;;) {
            la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
            if (n == 0) break;
            if (n < 0) fail(archive_error("cannot read entry " + name));
            data.append(buf, size_t(n));
            if (data.size() > kMaxDevkitEntry)
                fail(source + ": entry " + name + " is larger than " + std::to_string(kMaxDevkitEntry) + " bytes");
        }
        (is_meta ? files.meta_mat : files.ground_truth) = std::move(data);
    }
    if (!files.meta_mat)
        fail(source + " holds no data/meta.mat: it is not the ILSVRC2012 devkit (ILSVRC2012_devkit_t12.tar.gz)");
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

DevkitFiles devkit_directory_files(const fs::path& path) {
    std::optional<fs::path> dir = find_devkit_data_dir(path);
    if (!dir)
        fail(path.string() + " is not an ILSVRC2012 devkit directory: no data/meta.mat in it (nor in "
             "ILSVRC2012_devkit_t12/data/)");
    DevkitFiles files{path.string(), {}, {}, (*dir / kMetaMat).string(), (*dir / kGroundTruth).string()};
    files.meta_mat = read_text_file(*dir / kMetaMat, kMaxDevkitEntry);
    std::error_code ec;
    if (fs::is_regular_file(*dir / kGroundTruth, ec)) files.ground_truth = read_text_file(*dir / kGroundTruth, kMaxDevkitEntry);
    return files;
}

Devkit parse_devkit(const DevkitFiles& files, bool need_ground_truth) {
    Devkit kit;
    kit.source = files.source;
    kit.meta = parse_devkit_meta(bytes_of(*files.meta_mat), files.meta_name);
    if (files.ground_truth) {
        kit.val_ids = parse_devkit_ground_truth(*files.ground_truth, files.ground_truth_name, int(kit.meta.leaves.size()));
        kit.has_val_ground_truth = true;
    } else if (need_ground_truth) {
        fail(files.source + " has meta.mat but no data/" + std::string(kGroundTruth));
    }
    return kit;
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

std::map<std::string, std::string> names_of(const DevkitMeta& meta) {
    std::map<std::string, std::string> out;
    for (const Synset& s : meta.leaves) out.emplace(s.wnid, s.words);
    return out;
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
        if (!looks_like_wnid(wnid)) fail(source + ": synsets(" + std::to_string(e + 1) + ").WNID " + quote_line(wnid) + " is not a WNID");
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
    const std::string bytes = read_text_file(meta_mat, kMaxDevkitEntry);
    return parse_devkit_meta(bytes_of(bytes), meta_mat.string());
}

std::vector<int> parse_devkit_ground_truth(std::string_view text, const std::string& source, int max_id) {
    std::vector<int> ids;
    const std::vector<std::string_view> lines = list_lines(text, source);
    if (lines.empty()) fail(source + " holds no labels");
    for (size_t n = 1; n <= lines.size(); ++n) {
        std::string_view line = lines[n - 1];
        int v = 0;
        auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
        if (ec != std::errc() || p != line.data() + line.size())
            fail(source + " line " + std::to_string(n) + ": " + quote_line(line) + " is not an ILSVRC2012_ID (an integer)");
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
    std::error_code ec;
    if (fs::is_directory(path, ec)) return parse_devkit(devkit_directory_files(path), need_ground_truth);
    const std::string archive = read_text_file(path, kMaxListBytes);
    return parse_devkit(devkit_archive_files(archive, path.string()), need_ground_truth);
}

// --- Kaggle ---------------------------------------------------------------------------------

std::map<std::string, std::string> parse_kaggle_val_solution(std::string_view text, const std::string& source) {
    std::map<std::string, std::string> out;
    auto unquote = [](std::string_view s) {
        s = trim(s);
        if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = trim(s.substr(1, s.size() - 2));
        return s;
    };
    const std::vector<std::string_view> lines = list_lines(text, source);
    if (lines.empty()) fail(source + " is empty: expected Kaggle's LOC_val_solution.csv");
    if (lines[0] != kKaggleHeader)
        fail(source + " line 1: expected the header " + std::string(kKaggleHeader) + ", found " + quote_line(lines[0]));
    for (size_t n = 2; n <= lines.size(); ++n) {
        std::string_view line = lines[n - 1];
        std::string where = source + " line " + std::to_string(n);
        size_t comma = line.find(',');
        if (comma == std::string_view::npos) fail(where + ": " + quote_line(line) + " is not ImageId,PredictionString");
        std::string_view id = unquote(line.substr(0, comma));
        std::string_view pred = unquote(line.substr(comma + 1));
        if (id.empty()) fail(where + ": empty ImageId");
        std::string_view wnid = pred.substr(0, pred.find_first_of(" \t"));
        if (wnid.empty()) fail(where + ": no label in the PredictionString of " + std::string(id));
        if (!looks_like_wnid(wnid))
            fail(where + ": " + quote_line(wnid) + " (the label of " + std::string(id) + ") is not a WNID");
        if (!out.emplace(id, wnid).second) fail(where + ": a second row for " + std::string(id));
    }
    if (out.empty()) fail(source + " has a header but no rows");
    return out;
}

std::map<std::string, std::string> read_kaggle_val_solution(const fs::path& csv) {
    return parse_kaggle_val_solution(read_text_file(csv, kMaxListBytes), csv.string());
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
    const std::vector<std::string_view> lines = list_lines(text, source);
    for (size_t n = 1; n <= lines.size(); ++n) {
        std::string_view line = lines[n - 1];
        std::string where = source + " line " + std::to_string(n);
        size_t sp = line.find_first_of(" \t");
        std::string_view wnid = line.substr(0, sp);
        std::string_view words = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp));
        if (!looks_like_wnid(wnid)) fail(where + ": " + quote_line(line) + " does not start with a WNID");
        if (words.empty()) fail(where + ": no name after " + std::string(wnid));
        if (!out.emplace(wnid, words).second) fail(where + ": " + std::string(wnid) + " is named twice");
    }
    if (out.empty()) fail(source + " holds no class names");
    return out;
}

std::map<std::string, std::string> read_class_names(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return names_of(read_devkit(path, false).meta);
    const std::string bytes = read_text_file(path, kMaxListBytes);
    if (is_mat_file(bytes)) return names_of(parse_devkit_meta(bytes_of(bytes), path.string()));
    if (is_archive(bytes)) return names_of(parse_devkit(devkit_archive_files(bytes, path.string()), false).meta);
    return parse_synset_words(bytes, path.string());
}

// --- the class list ---------------------------------------------------------------------------

std::vector<std::string> read_class_list(const fs::path& file) {
    std::vector<std::string> wnids = read_lines(file);
    if (wnids.empty()) fail(file.string() + ": the class list is empty");
    std::set<std::string_view> seen;
    for (size_t i = 0; i < wnids.size(); ++i) {
        const std::string where = file.string() + " line " + std::to_string(i + 1) + ": " + quote_line(wnids[i]);
        if (!looks_like_wnid(wnids[i])) fail(where + " is not a WNID (n + 8 digits)");
        if (!seen.insert(wnids[i]).second) fail(where + " is listed twice");
    }
    return wnids;
}

// --- validation labels ----------------------------------------------------------------------

std::vector<std::string> ValLabels::for_files(const std::vector<std::string>& sorted_val_names) const {
    if (kind == ValLabelKind::KaggleCsv) return wnids_in_name_order(by_stem, sorted_val_names, path.string());
    if (by_position.size() != sorted_val_names.size())
        fail(path.string() + " has " + std::to_string(by_position.size()) +
             " validation labels but the validation split has " + std::to_string(sorted_val_names.size()) + " files");
    return by_position;
}

void ValLabels::unknown_class(const std::string& where, const std::string& wnid, const std::string& class_list) {
    fail(where + ": class " + wnid + " is not in the class list (" + class_list + ")");
}

ValLabels read_val_labels(const fs::path& path) {
    ValLabels v;
    v.path = path;
    v.lines_of = path.string();
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        std::optional<fs::path> dir = find_devkit_data_dir(path);
        if (!dir || !fs::is_regular_file(*dir / kGroundTruth, ec))
            fail(path.string() + " is a directory but not an extracted ILSVRC2012 devkit: expected data/meta.mat and data/" +
                 std::string(kGroundTruth) + " in it");
        v.kind = ValLabelKind::DevkitDirectory;
        v.description = "ILSVRC2012 devkit directory (ground truth + meta.mat)";
        DevkitFiles files = devkit_directory_files(path);
        v.lines_of = files.ground_truth_name;
        v.by_position = parse_devkit(files, true).val_wnids();
        return v;
    }
    const std::string bytes = read_text_file(path, kMaxListBytes);  // read once: a pipe works too
    if (bytes.empty()) fail(path.string() + " is empty");
    if (is_archive(bytes)) {
        DevkitFiles files = devkit_archive_files(bytes, path.string());
        if (!files.ground_truth)
            fail(path.string() + " is an archive but not the ILSVRC2012 devkit: it holds no data/" + std::string(kGroundTruth));
        v.kind = ValLabelKind::DevkitArchive;
        v.description = "ILSVRC2012 devkit archive (ground truth + meta.mat)";
        v.lines_of = files.ground_truth_name;
        v.by_position = parse_devkit(files, true).val_wnids();
        return v;
    }
    if (is_mat_file(bytes))
        fail(path.string() + " is a MAT-file (the devkit's meta.mat?): validation labels also need " +
             std::string(kGroundTruth) + ": give the devkit archive or directory");
    const std::string_view first = first_entry(bytes);
    if (first == kKaggleHeader) {
        v.kind = ValLabelKind::KaggleCsv;
        v.description = "Kaggle LOC_val_solution.csv (first WNID of each PredictionString, matched by file name)";
        v.by_stem = parse_kaggle_val_solution(bytes, path.string());
        return v;
    }
    if (looks_like_wnid(first)) {
        v.kind = ValLabelKind::TfdsList;
        v.description = "TFDS validation labels file (one WNID per line, in sorted file-name order)";
        const std::vector<std::string_view> lines = list_lines(bytes, path.string());
        for (size_t n = 1; n <= lines.size(); ++n) {
            if (!looks_like_wnid(lines[n - 1]))
                fail(path.string() + " line " + std::to_string(n) + ": " + quote_line(lines[n - 1]) +
                     " is not a WNID (n and 8 digits); a TFDS validation labels file has one per line");
            v.by_position.emplace_back(lines[n - 1]);
        }
        return v;
    }
    if (first.size() <= 9 && std::all_of(first.begin(), first.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        v.kind = ValLabelKind::DevkitGroundTruth;
        v.meta_mat = path.parent_path() / kMetaMat;
        if (!fs::is_regular_file(v.meta_mat, ec))
            fail(path.string() + " holds ILSVRC2012_IDs (the devkit's " + std::string(kGroundTruth) +
                 "), which need the devkit's meta.mat to become WNIDs, and there is none beside it: give the devkit "
                 "(ILSVRC2012_devkit_t12.tar.gz or its extracted directory) instead");
        v.description = "ILSVRC2012 devkit ground truth (ILSVRC2012_IDs) + the meta.mat beside it";
        const DevkitMeta meta = read_devkit_meta(v.meta_mat);
        for (int id : parse_devkit_ground_truth(bytes, path.string(), int(meta.leaves.size())))
            v.by_position.push_back(meta.by_id(id).wnid);
        return v;
    }
    std::string_view token = first.substr(0, first.find_first_of(" \t"));
    std::string hint = looks_like_wnid(token) && token.size() < first.size()
                           ? ": it looks like a class-name list (WNID and words per line), not validation labels"
                           : "";
    fail("cannot tell what kind of validation labels " + path.string() + " holds (its first line is " +
         quote_line(first) + ")" + hint +
         ". Expected one of: TFDS's imagenet2012_validation_labels.txt (one WNID per line), the ILSVRC2012 devkit "
         "(ILSVRC2012_devkit_t12.tar.gz or its extracted directory), Kaggle's LOC_val_solution.csv, or the devkit's " +
         std::string(kGroundTruth) + " together with the devkit");
}

}  // namespace imgpack
