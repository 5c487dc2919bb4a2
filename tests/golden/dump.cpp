// imgpack_golden_dump: every byte of a small pack, annotated field by field, as docs/FORMAT.md §10
// prints the golden pack.
//
//   imgpack_golden_dump PACK                  print the dump
//   imgpack_golden_dump PACK --check SPEC.md  exit 1 unless SPEC.md's golden dump block equals it
//   imgpack_golden_dump PACK --update SPEC.md rewrite that block
//
// Written from FORMAT.md alone, on purpose without format.hpp or the reader: a second,
// independent reading of the spec. Were format.hpp to move a field (in the writer and the reader
// alike), the golden file's bytes and this dump's fields would stop agreeing with the spec text.
//
// The dump walks the file from byte 0 to file_size and accounts for every byte: each structure's
// fields, each string, each image, and each run of zero padding (shown as one line, with its
// length, instead of its bytes). Bytes that belong to no structure and are not zero are printed.
// Checksums are recomputed; a mismatch, a reference outside the file or a byte accounted for
// twice is an error (exit 1).
#include "../quoted.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;

struct DumpError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Little-endian integers at absolute offsets, bounds-checked.
struct File {
    Bytes b;
    void need(uint64_t at, uint64_t n) const {
        if (at > b.size() || n > b.size() - at)
            throw DumpError("[" + std::to_string(at) + ", +" + std::to_string(n) + ") lies outside the file");
    }
    uint64_t le(uint64_t at, unsigned n) const {
        need(at, n);
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= uint64_t{b[at + i]} << (8 * i);
        return v;
    }
    uint32_t u16(uint64_t at) const { return static_cast<uint32_t>(le(at, 2)); }
    uint32_t u32(uint64_t at) const { return static_cast<uint32_t>(le(at, 4)); }
    uint64_t u64(uint64_t at) const { return le(at, 8); }
    int32_t i32(uint64_t at) const { return static_cast<int32_t>(u32(at)); }
    uint64_t xxh3(uint64_t at, uint64_t n) const {
        need(at, n);
        return XXH3_64bits(b.data() + at, n);
    }
};

std::string hex64(uint64_t v) {
    char s[24];
    std::snprintf(s, sizeof s, "0x%016llX", static_cast<unsigned long long>(v));
    return s;
}

std::string quoted(const unsigned char* p, size_t n) { return test::quoted({reinterpret_cast<const char*>(p), n}); }
std::string quoted(const std::string& s) { return test::quoted(s); }

// One annotated range of the file. `ascii`: show the bytes' printable characters too (images).
struct Item {
    uint64_t offset, length;
    std::string what;
    bool ascii = false;
};

class Dump {
public:
    explicit Dump(const File& f) : f_(f) {}

    std::string run() {
        header();
        directory();
        // Sections and their contents, in file order (the directory may list them in any order).
        std::vector<size_t> order(sections_.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return sections_[a].offset < sections_[b].offset; });
        strings_ = find(1);
        for (size_t i : order) section(i);
        return render();
    }

private:
    struct Section {
        uint32_t kind, flags;
        uint64_t offset, length, xxh3;
    };
    struct StringRef {
        uint32_t offset, length;
    };

    const File& f_;
    std::vector<Item> items_;
    std::vector<std::pair<uint64_t, std::string>> titles_;  // a heading before the item at this offset
    std::vector<Section> sections_;
    const Section* strings_ = nullptr;
    std::map<uint32_t, std::vector<std::string>> string_users_;  // strings offset -> who refers to it
    std::vector<std::string> errors_;

    void add(uint64_t at, uint64_t n, std::string what, bool ascii = false) {
        f_.need(at, n);
        items_.push_back({at, n, std::move(what), ascii});
    }
    void title(uint64_t at, std::string t) { titles_.emplace_back(at, std::move(t)); }
    void check(bool ok, const std::string& what) {
        if (!ok) errors_.push_back(what);
    }
    std::string checksum(uint64_t stored, uint64_t at, uint64_t n) {
        uint64_t actual = f_.xxh3(at, n);
        std::string range = "[" + std::to_string(at) + ", +" + std::to_string(n) + ")";
        check(actual == stored, "XXH3-64 of " + range + " is " + hex64(actual) + ", not " + hex64(stored));
        return hex64(stored) + (actual == stored ? " = XXH3-64 of " : " != XXH3-64 of ") + range;
    }

    void header() {
        title(0, "header (64 bytes at 0)");
        add(0, 8, "magic: \\x89 \"IMGPACK\"");
        static const unsigned char magic[8] = {0x89, 'I', 'M', 'G', 'P', 'A', 'C', 'K'};
        check(std::equal(magic, magic + 8, f_.b.begin()), "bad magic");
        add(8, 2, "version_major: " + std::to_string(f_.u16(8)));
        add(10, 2, "version_minor: " + std::to_string(f_.u16(10)));
        add(12, 4, "flags: " + std::to_string(f_.u32(12)));
        add(16, 8, "file_size: " + std::to_string(f_.u64(16)));
        check(f_.u64(16) == f_.b.size(), "file_size differs from the file's length");
        add(24, 8, "directory_offset: " + std::to_string(f_.u64(24)));
        add(32, 4, "section_count: " + std::to_string(f_.u32(32)));
        add(36, 4, "section_entry_size: " + std::to_string(f_.u32(36)));
        add(40, 4, "blob_align: " + std::to_string(f_.u32(40)));
        add(44, 4, "reserved0: " + std::to_string(f_.u32(44)));
        const uint64_t dir = f_.u64(24), dir_bytes = uint64_t{f_.u32(32)} * f_.u32(36);
        add(48, 8, "directory_xxh3: " + checksum(f_.u64(48), dir, dir_bytes));
        add(56, 8, "header_xxh3: " + checksum(f_.u64(56), 0, 56));
    }

    static std::string kind_name(uint32_t kind) {
        static const char* names[] = {"reserved", "strings", "class_table", "split", "subset", "blobs", "skipped",
                                      "provenance"};
        return kind < 8 ? names[kind] : "unknown";
    }

    void directory() {
        const uint64_t dir = f_.u64(24), entry_size = f_.u32(36);
        const uint32_t count = f_.u32(32);
        title(dir, "section directory (" + std::to_string(count) + " entries of " + std::to_string(entry_size) +
                       " bytes at " + std::to_string(dir) + ")");
        for (uint32_t i = 0; i < count; ++i) {
            const uint64_t e = dir + i * entry_size;
            Section s{f_.u32(e), f_.u32(e + 4), f_.u64(e + 8), f_.u64(e + 16), f_.u64(e + 24)};
            const std::string n = "entry " + std::to_string(i) + " ";
            add(e, 4, n + "kind: " + std::to_string(s.kind) + " (" + kind_name(s.kind) + ")");
            add(e + 4, 4, n + "flags: " + std::to_string(s.flags) + ((s.flags & 1) ? " (required)" : " (optional)"));
            add(e + 8, 8, n + "offset: " + std::to_string(s.offset));
            add(e + 16, 8, n + "length: " + std::to_string(s.length));
            add(e + 24, 8, n + "xxh3: " + checksum(s.xxh3, s.offset, s.length));
            if (entry_size > 32) add(e + 32, entry_size - 32, n + "bytes after the 1.x fields");
            sections_.push_back(s);
        }
    }

    const Section* find(uint32_t kind) const {
        for (const Section& s : sections_)
            if (s.kind == kind) return &s;
        return nullptr;
    }

    StringRef string_ref(uint64_t at) const { return {f_.u32(at), f_.u32(at + 4)}; }
    bool valid(StringRef r) const {
        return strings_ && uint64_t{r.offset} + r.length < strings_->length &&
               f_.b[strings_->offset + r.offset + r.length] == 0;
    }
    std::string raw(StringRef r) const {
        return valid(r) ? std::string(reinterpret_cast<const char*>(f_.b.data() + strings_->offset + r.offset), r.length)
                        : "?";
    }
    // "(offset, length) "text"", noting who uses it for the strings section's own lines.
    std::string text(StringRef r, const std::string& user) {
        if (!valid(r)) {
            check(false, user + ": not a valid string reference");
            return "(" + std::to_string(r.offset) + ", " + std::to_string(r.length) + ") INVALID";
        }
        string_users_[r.offset].push_back(user);
        return "(" + std::to_string(r.offset) + ", " + std::to_string(r.length) + ") " +
               quoted(f_.b.data() + strings_->offset + r.offset, r.length);
    }

    void section(size_t i) {
        const Section& s = sections_[i];
        title(s.offset, "section " + std::to_string(i) + ": " + kind_name(s.kind) + " (kind " +
                            std::to_string(s.kind) + "), [" + std::to_string(s.offset) + ", +" +
                            std::to_string(s.length) + ")");
        switch (s.kind) {
            case 2: table(s, "class", [&](uint64_t e, const std::string& n) {
                        add(e, 8, n + " wnid: " + text(string_ref(e), n + " wnid"));
                        add(e + 8, 8, n + " name: " + text(string_ref(e + 8), n + " name"));
                    }, 16); break;
            case 3: split(s); break;
            case 4: subset(s); break;
            case 6: table(s, "skipped", [&](uint64_t e, const std::string& n) {
                        add(e, 8, n + " split: " + text(string_ref(e), n + " split"));
                        add(e + 8, 8, n + " entry: " + text(string_ref(e + 8), n + " entry"));
                        add(e + 16, 8, n + " reason: " + text(string_ref(e + 16), n + " reason"));
                    }, 24); break;
            case 7: provenance(s); break;
            default: break;  // strings and blobs: laid out once every reference is known (render)
        }
    }

    template <class Entry>
    void table(const Section& s, const std::string& noun, Entry&& entry, uint64_t known) {
        const uint32_t count = f_.u32(s.offset), entry_size = f_.u32(s.offset + 4);
        add(s.offset, 4, "count: " + std::to_string(count));
        add(s.offset + 4, 4, "entry_size: " + std::to_string(entry_size));
        for (uint32_t i = 0; i < count; ++i) {
            const uint64_t e = s.offset + 8 + uint64_t{i} * entry_size;
            entry(e, noun + " " + std::to_string(i));
            if (entry_size > known) add(e + known, entry_size - known, "bytes after the 1.x fields");
        }
    }

    struct Blob {
        uint64_t offset, size;
        std::string who;
    };
    std::vector<Blob> blobs_;

    void split(const Section& s) {
        const std::string sname = raw(string_ref(s.offset));
        add(s.offset, 8, "name: " + text(string_ref(s.offset), "split name"));
        const uint32_t count = f_.u32(s.offset + 8), size = f_.u32(s.offset + 12);
        add(s.offset + 8, 4, "record_count: " + std::to_string(count));
        add(s.offset + 12, 4, "record_size: " + std::to_string(size));
        static const char* codecs[] = {"unknown", "JPEG", "PNG"};
        static const char* spaces[] = {"unknown", "gray", "YCbCr", "RGB", "CMYK", "YCCK"};
        for (uint32_t i = 0; i < count; ++i) {
            const uint64_t r = s.offset + 16 + uint64_t{i} * size;
            const std::string n = sname + "[" + std::to_string(i) + "] ";
            const uint64_t blob_offset = f_.u64(r), blob_size = f_.u32(r + 16);
            add(r, 8, n + "blob_offset: " + std::to_string(blob_offset));
            add(r + 8, 8, n + "xxh3: " + checksum(f_.u64(r + 8), blob_offset, blob_size));
            add(r + 16, 4, n + "blob_size: " + std::to_string(blob_size));
            const StringRef name_ref{f_.u32(r + 20), f_.u16(r + 24)};
            (void)text(name_ref, n + "name");  // the strings section's lines name the records that use them
            const std::string file_name = quoted(raw(name_ref));
            add(r + 20, 4, n + "name_offset: " + std::to_string(name_ref.offset));
            add(r + 24, 2, n + "name_length: " + std::to_string(name_ref.length) + ", the name " + file_name);
            add(r + 26, 2, n + "width: " + std::to_string(f_.u16(r + 26)));
            add(r + 28, 2, n + "height: " + std::to_string(f_.u16(r + 28)));
            const unsigned codec = f_.b[r + 30], space = f_.b[r + 31];
            add(r + 30, 1, n + "codec: " + std::to_string(codec) + " (" + (codec < 3 ? codecs[codec] : "unknown") + ")");
            add(r + 31, 1, n + "color_space: " + std::to_string(space) + " (" + (space < 6 ? spaces[space] : "unknown") + ")");
            const int32_t label = f_.i32(r + 32);
            add(r + 32, 4, n + "label: " + std::to_string(label) + (label < 0 ? " (unlabeled)" : ""));
            const uint32_t flags = f_.u32(r + 36);
            add(r + 36, 4, n + "flags: " + std::to_string(flags) + ((flags & 1) ? " (repaired)" : ""));
            if (size > 40) add(r + 40, size - 40, n + "bytes after the 1.x fields");
            blobs_.push_back({blob_offset, blob_size, n + file_name});
        }
    }

    void subset(const Section& s) {
        add(s.offset, 8, "name: " + text(string_ref(s.offset), "subset name"));
        add(s.offset + 8, 8, "split_name: " + text(string_ref(s.offset + 8), "subset split_name"));
        add(s.offset + 16, 8, "origin: " + text(string_ref(s.offset + 16), "subset origin"));
        const uint32_t count = f_.u32(s.offset + 24);
        add(s.offset + 24, 4, "count: " + std::to_string(count));
        add(s.offset + 28, 4, "reserved0: " + std::to_string(f_.u32(s.offset + 28)));
        for (uint32_t i = 0; i < count; ++i)
            add(s.offset + 32 + 4 * uint64_t{i}, 4, "index " + std::to_string(i) + ": " +
                                                        std::to_string(f_.u32(s.offset + 32 + 4 * uint64_t{i})));
    }

    // §4.9: a 40-byte header, the split entries, then the subset entries.
    void provenance(const Section& s) {
        std::string id;
        for (int i = 0; i < 16; ++i) {
            char h[3];
            std::snprintf(h, sizeof h, "%02x", f_.b[s.offset + i]);
            id += h;
        }
        add(s.offset, 16, "source_id: " + id + " (the source pack's identity)");
        const uint32_t splits = f_.u32(s.offset + 24), split_size = f_.u32(s.offset + 28);
        const uint32_t subsets = f_.u32(s.offset + 32), subset_size = f_.u32(s.offset + 36);
        const uint32_t shard = f_.u32(s.offset + 16), shards = f_.u32(s.offset + 20);
        add(s.offset + 16, 4, "shard_index: " + std::to_string(shard));
        add(s.offset + 20, 4, "shard_count: " + std::to_string(shards) + (shards ? "" : " (not sharded)"));
        check(shards == 0 ? shard == 0 : shard < shards, "provenance: shard_index is not below shard_count");
        add(s.offset + 24, 4, "split_count: " + std::to_string(splits));
        add(s.offset + 28, 4, "split_entry_size: " + std::to_string(split_size));
        add(s.offset + 32, 4, "subset_count: " + std::to_string(subsets));
        add(s.offset + 36, 4, "subset_entry_size: " + std::to_string(subset_size));
        for (uint32_t i = 0; i < splits; ++i) {
            const uint64_t e = s.offset + 40 + uint64_t{i} * split_size;
            const std::string n = "split entry " + std::to_string(i);
            add(e, 8, n + " name: " + text(string_ref(e), n + " name"));
            add(e + 8, 8, n + " source_split: " + text(string_ref(e + 8), n + " source_split"));
            add(e + 16, 8, n + " source_subset: " + text(string_ref(e + 16), n + " source_subset"));
            if (split_size > 24) add(e + 24, split_size - 24, "bytes after the 1.x fields");
        }
        for (uint32_t i = 0; i < subsets; ++i) {
            const uint64_t e = s.offset + 40 + uint64_t{splits} * split_size + uint64_t{i} * subset_size;
            const std::string n = "subset entry " + std::to_string(i);
            add(e, 8, n + " name: " + text(string_ref(e), n + " name"));
            add(e + 8, 8, n + " source_subset: " + text(string_ref(e + 8), n + " source_subset"));
            if (subset_size > 16) add(e + 16, subset_size - 16, "bytes after the 1.x fields");
        }
    }

    // §5.1: XXH3-128 of header bytes [0, 56) then the directory, canonical (big-endian) hex.
    std::string identity() const {
        const uint64_t dir = f_.u64(24), dir_bytes = uint64_t{f_.u32(32)} * f_.u32(36);
        f_.need(dir, dir_bytes);
        Bytes input(f_.b.begin(), f_.b.begin() + 56);
        input.insert(input.end(), f_.b.begin() + long(dir), f_.b.begin() + long(dir + dir_bytes));
        const XXH128_hash_t h = XXH3_128bits(input.data(), input.size());
        char out[33];
        std::snprintf(out, sizeof out, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                      static_cast<unsigned long long>(h.low64));
        return std::string(out) + " = XXH3-128 of [0, +56) then [" + std::to_string(dir) + ", +" +
               std::to_string(dir_bytes) + ")";
    }

    // The strings section as NUL-terminated pieces, each with the references that use it.
    void strings_items() {
        if (!strings_) return;
        uint32_t start = 0;
        for (uint32_t i = 0; i < strings_->length; ++i) {
            if (f_.b[strings_->offset + i] != 0) continue;
            std::string who;
            if (auto it = string_users_.find(start); it != string_users_.end())
                for (const std::string& u : it->second) who += (who.empty() ? "" : ", ") + u;
            add(strings_->offset + start, i + 1 - start,
                "+" + std::to_string(start) + ": " + quoted(f_.b.data() + strings_->offset + start, i - start) +
                    " NUL, " + (who.empty() ? "no reference" : who));
            start = i + 1;
        }
        if (start != strings_->length)
            add(strings_->offset + start, strings_->length - start, "bytes after the last NUL");
    }

    void blob_items() {
        std::stable_sort(blobs_.begin(), blobs_.end(), [](const Blob& a, const Blob& b) { return a.offset < b.offset; });
        for (size_t i = 0; i < blobs_.size(); ++i) {
            std::string who = blobs_[i].who;
            while (i + 1 < blobs_.size() && blobs_[i + 1].offset == blobs_[i].offset && blobs_[i + 1].size == blobs_[i].size)
                who += ", " + blobs_[++i].who;
            add(blobs_[i].offset, blobs_[i].size, "image of " + who + ", " + std::to_string(blobs_[i].size) + " bytes",
                true);
        }
    }

    static void line(std::ostringstream& out, uint64_t at, const unsigned char* p, size_t n, const std::string& what) {
        char off[16];
        std::snprintf(off, sizeof off, "%06llx  ", static_cast<unsigned long long>(at));
        std::string hexes;
        for (size_t i = 0; i < n; ++i) {
            char h[4];
            std::snprintf(h, sizeof h, "%02x ", p[i]);
            hexes += h;
        }
        hexes.resize(49, ' ');
        std::string l = off + hexes + what;
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out << l << '\n';
    }

    static std::string printable(const unsigned char* p, size_t n) {
        std::string s = "|";
        for (size_t i = 0; i < n; ++i) s += (p[i] >= 0x20 && p[i] < 0x7F) ? char(p[i]) : '.';
        return s + "|";
    }

    void gap(std::ostringstream& out, uint64_t from, uint64_t to) {
        // Runs of zeros as one line; anything else byte by byte, 16 to a line.
        uint64_t at = from;
        while (at < to) {
            uint64_t end = at;
            while (end < to && f_.b[end] == 0) ++end;
            if (end > at) {
                char l[96];
                std::snprintf(l, sizeof l, "%06llx  %-47s  ", static_cast<unsigned long long>(at),
                              ("(" + std::to_string(end - at) + " zero bytes)").c_str());
                out << l << "padding to " << end << '\n';
                at = end;
                continue;
            }
            while (end < to && f_.b[end] != 0 && end - at < 16) ++end;
            line(out, at, f_.b.data() + at, end - at, "in no structure");
            at = end;
        }
    }

    std::string render() {
        strings_items();
        blob_items();
        std::stable_sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return a.offset < b.offset; });
        std::stable_sort(titles_.begin(), titles_.end());
        std::ostringstream out;
        uint64_t at = 0;
        size_t t = 0;
        auto titles_up_to = [&](uint64_t offset) {
            for (; t < titles_.size() && titles_[t].first <= offset; ++t) out << "-- " << titles_[t].second << '\n';
        };
        for (const Item& it : items_) {
            if (it.offset < at) {
                check(false, "bytes [" + std::to_string(it.offset) + ", " + std::to_string(at) +
                                 ") are described twice (" + it.what + ")");
                continue;
            }
            if (it.offset > at) {
                titles_up_to(at);
                gap(out, at, it.offset);
            }
            titles_up_to(it.offset);
            const unsigned char* p = f_.b.data() + it.offset;
            for (uint64_t k = 0; k < it.length || k == 0; k += 16) {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(16, it.length - k));
                std::string what = k == 0 ? it.what : "";
                if (it.ascii) what += (what.empty() ? "" : " ") + printable(p + k, n);
                line(out, it.offset + k, p + k, n, what);
                if (it.length == 0) break;
            }
            at = it.offset + it.length;
        }
        if (at < f_.b.size()) {
            titles_up_to(at);
            gap(out, at, f_.b.size());
        }
        char end[64];
        std::snprintf(end, sizeof end, "%06llx  end of file (%llu bytes)\n", static_cast<unsigned long long>(f_.b.size()),
                      static_cast<unsigned long long>(f_.b.size()));
        std::string s = out.str() + end + "identity (§5.1): " + identity() + "\n";
        if (!errors_.empty()) {
            std::string all;
            for (const std::string& e : errors_) all += "\n  " + e;
            throw DumpError("the file does not follow FORMAT.md:" + all);
        }
        return s;
    }
};

Bytes read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DumpError("cannot read " + path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The spec's golden dump: the lines of the ```text block after the begin marker, up to the end
// marker.
const std::string kBegin = "<!-- golden dump begin";
const std::string kEnd = "<!-- golden dump end";

struct SpecBlock {
    std::string before, block, after;
};

SpecBlock split_spec(const std::string& spec, const std::string& path) {
    size_t b = spec.find(kBegin);
    size_t e = spec.find(kEnd);
    if (b == std::string::npos || e == std::string::npos || e < b)
        throw DumpError(path + ": no '" + kBegin + "' ... '" + kEnd + "' markers");
    size_t open = spec.find("```text\n", b);
    size_t close = spec.rfind("```\n", e);
    if (open == std::string::npos || close == std::string::npos || open > e || close < open)
        throw DumpError(path + ": the golden dump markers hold no ```text block");
    open += 8;
    return {spec.substr(0, open), spec.substr(open, close - open), spec.substr(close)};
}

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && argc != 4) {
        std::fprintf(stderr, "usage: %s PACK [--check SPEC.md | --update SPEC.md]\n", argv[0]);
        return 2;
    }
    try {
        File f{read(argv[1])};
        const std::string dump = Dump(f).run();
        if (argc == 2) {
            std::fputs(dump.c_str(), stdout);
            return 0;
        }
        const std::string mode = argv[2], spec_path = argv[3];
        Bytes raw = read(spec_path);
        const std::string spec(raw.begin(), raw.end());
        SpecBlock parts = split_spec(spec, spec_path);
        if (mode == "--update") {
            std::ofstream out(spec_path, std::ios::binary | std::ios::trunc);
            out << parts.before << dump << parts.after;
            if (!out) throw DumpError("cannot write " + spec_path);
            return 0;
        }
        if (mode != "--check") throw DumpError("unknown option " + mode);
        const std::vector<std::string> want = lines(parts.block), got = lines(dump);
        for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
            const std::string w = i < want.size() ? want[i] : "(nothing)", g = i < got.size() ? got[i] : "(nothing)";
            if (w != g) {
                std::fprintf(stderr,
                             "%s: the golden dump differs from %s at dump line %zu:\n  spec: %s\n  file: %s\n"
                             "If the format changed on purpose, follow tests/golden/README.md (regenerate with\n"
                             "  %s %s --update %s).\n",
                             spec_path.c_str(), argv[1], i + 1, w.c_str(), g.c_str(), argv[0], argv[1],
                             spec_path.c_str());
                return 1;
            }
        }
        std::printf("%s: the golden dump matches %s (%zu lines)\n", spec_path.c_str(), argv[1], got.size());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
}
