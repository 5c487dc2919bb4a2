// imgpack_compat_listing: what the reader reads from a pack, as text, one fact a line.
//
//   imgpack_compat_listing PACK          print the listing (how a corpus file's .txt is made)
//   imgpack_compat_listing --check DIR   every DIR/*.imgpack must open and list exactly as the
//                                        .txt beside it, and DIR must hold a pack of every minor
//                                        version from 1.0 to this reader's
//
// The compatibility corpus (tests/compat/README.md) holds a pack of every released format
// version; a reader that stops reading any of them the same way fails here. The listing is
// record-level: every field of every record, class, split, subset, skipped entry and provenance
// entry, the section directory, the pack's identity, and each checksum recomputed from the file's
// bytes.
#include "../quoted.hpp"

#include <imgpack/reader.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using test::quoted;

std::string hex(uint64_t v) {
    char s[24];
    std::snprintf(s, sizeof s, "0x%016llx", static_cast<unsigned long long>(v));
    return s;
}

std::vector<unsigned char> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string record_line(const imgpack::Record& r) {
    std::ostringstream o;
    o << r.index << ' ' << quoted(r.name) << " offset " << r.offset << " size " << r.data.size() << " xxh3 "
      << hex(r.xxh3) << (r.verify() ? " (ok)" : " (MISMATCH)") << ' ' << r.width << 'x' << r.height << " codec "
      << unsigned(r.codec) << " color_space " << unsigned(r.color_space) << " label " << r.label << " wnid "
      << quoted(r.wnid) << " flags " << r.flags;
    return o.str();
}

std::string listing(const fs::path& path) {
    auto pack = imgpack::Pack::open(path.string());
    const std::vector<unsigned char> bytes = read_bytes(path);  // the checksums, recomputed apart from the reader
    std::ostringstream o;
    o << "version " << pack.version_major() << '.' << pack.version_minor() << '\n';
    o << "file_size " << pack.file_size() << '\n';
    o << "blob_align " << pack.blob_align() << '\n';
    o << "id " << pack.id() << '\n';
    const auto sections = pack.sections();
    for (size_t i = 0; i < sections.size(); ++i) {
        const auto& s = sections[i];
        const bool ok = s.offset <= bytes.size() && s.length <= bytes.size() - s.offset &&
                        XXH3_64bits(bytes.data() + s.offset, s.length) == s.xxh3;
        o << "section " << i << " kind " << s.kind << " flags " << s.flags << " offset " << s.offset << " length "
          << s.length << " xxh3 " << hex(s.xxh3) << (ok ? " (ok)" : " (MISMATCH)") << (s.known ? "" : " unknown")
          << '\n';
    }
    o << "classes " << pack.class_count() << '\n';
    for (size_t c = 0; c < pack.class_count(); ++c)
        o << "class " << c << ' ' << quoted(pack.classes()[c].wnid) << ' ' << quoted(pack.classes()[c].name) << '\n';
    for (const auto& s : pack.splits()) {
        o << "split " << quoted(s.name()) << " records " << s.size() << " blob_bytes " << s.blob_bytes() << '\n';
        for (imgpack::Record r : s) o << "  " << record_line(r) << '\n';
    }
    for (const auto& sub : pack.subsets()) {
        o << "subset " << quoted(sub.name()) << " split " << quoted(sub.split().name()) << " origin "
          << quoted(sub.origin()) << " records " << sub.size() << '\n';
        o << "  indices";
        for (size_t i = 0; i < sub.size(); ++i) o << ' ' << sub.index(i);
        o << '\n';
    }
    o << "skipped " << pack.skipped().size() << '\n';
    for (const auto& k : pack.skipped())
        o << "  " << quoted(k.split) << ' ' << quoted(k.entry) << ' ' << quoted(k.reason) << '\n';
    if (const auto p = pack.provenance()) {
        o << "provenance source_id " << p->source_id << " shard " << p->shard_index << '/' << p->shard_count << '\n';
        for (const auto& e : p->splits)
            o << "  split " << quoted(e.name) << " source_split " << quoted(e.source_split) << " source_subset "
              << quoted(e.source_subset) << '\n';
        for (const auto& e : p->subsets)
            o << "  subset " << quoted(e.name) << " source_subset " << quoted(e.source_subset) << '\n';
    } else {
        o << "provenance none\n";
    }
    return o.str();
}

// The first line where two listings differ, or -1.
long first_difference(const std::string& a, const std::string& b, std::string& la, std::string& lb) {
    std::istringstream ia(a), ib(b);
    for (long n = 1;; ++n) {
        bool ga = static_cast<bool>(std::getline(ia, la)), gb = static_cast<bool>(std::getline(ib, lb));
        if (!ga) la = "(end)";
        if (!gb) lb = "(end)";
        if (!ga && !gb) return -1;
        if (la != lb) return n;
    }
}

int check(const fs::path& dir) {
    std::vector<fs::path> packs;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".imgpack") packs.push_back(e.path());
    std::sort(packs.begin(), packs.end());
    int failures = 0;
    std::set<unsigned> minors;
    for (const fs::path& p : packs) {
        fs::path expected_path = p;
        expected_path.replace_extension(".txt");
        std::string got;
        try {
            got = listing(p);
            minors.insert(imgpack::Pack::open(p.string()).version_minor());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "FAIL %s: this reader rejects it: %s\n", p.c_str(), e.what());
            ++failures;
            continue;
        }
        std::string expected;
        try {
            const std::vector<unsigned char> b = read_bytes(expected_path);
            expected.assign(b.begin(), b.end());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "FAIL %s: no expected listing %s\n", p.c_str(), expected_path.c_str());
            ++failures;
            continue;
        }
        std::string want, have;
        if (long line = first_difference(expected, got, want, have); line >= 0) {
            std::fprintf(stderr, "FAIL %s: read differently from %s, line %ld:\n  expected: %s\n  read:     %s\n",
                         p.c_str(), expected_path.c_str(), line, want.c_str(), have.c_str());
            ++failures;
            continue;
        }
        if (got.find("MISMATCH") != std::string::npos) {
            std::fprintf(stderr, "FAIL %s: a checksum does not match\n", p.c_str());
            ++failures;
            continue;
        }
        std::printf("ok   %s\n", p.c_str());
    }
    // Every released minor version of this major must stay readable: one pack of each.
    for (unsigned m = 0; m <= imgpack::format::kVersionMinor; ++m)
        if (!minors.count(m)) {
            std::fprintf(stderr, "FAIL %s: no pack of format %u.%u (tests/compat/README.md: add one per version)\n",
                         dir.c_str(), unsigned(imgpack::format::kVersionMajor), m);
            ++failures;
        }
    std::printf("%zu packs, %d failure(s)\n", packs.size(), failures);
    return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 3 && std::string(argv[1]) == "--check") return check(argv[2]);
        if (argc == 2 && argv[1][0] != '-') {
            std::fputs(listing(argv[1]).c_str(), stdout);
            return 0;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
        return 1;
    }
    std::fprintf(stderr, "usage: %s PACK | --check DIR\n", argv[0]);
    return 2;
}
