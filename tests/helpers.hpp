// Test helpers: scratch directories, whole-file I/O, running commands, and re-sealing a pack's
// checksums after a deliberate edit so that structural validation (not just checksums) is tested.
#pragma once

#include <imgpack/format.hpp>

#include <xxhash.h>

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace test {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "imgpack-test-XXXXXX").string();
        if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& s) const { return path_ / s; }

private:
    fs::path path_;
};

// Whether a file name is one of the writer's temporary files (writer/src/temp_file.hpp):
// `imgpack-XXXXXX.tmp`, in the destination's folder.
inline bool is_temporary(const fs::path& p) {
    const std::string n = p.filename().string();
    return n.size() == 18 && n.starts_with("imgpack-") && n.ends_with(".tmp");
}

// The writer's temporary files in `dir`.
inline std::vector<fs::path> temporaries(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir))
        if (is_temporary(e.path())) out.push_back(e.path());
    return out;
}

inline std::vector<unsigned char> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& p, const std::vector<unsigned char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline void write_text(const fs::path& p, const std::string& text) {
    write_file(p, std::vector<unsigned char>(text.begin(), text.end()));
}

struct RunResult {
    int status = -1;
    std::string out, err;
};

inline std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs a shell command, capturing stdout and stderr.
inline RunResult run(const std::string& command) {
    static int counter = 0;
    fs::path err_file = fs::temp_directory_path() / ("imgpack-test-stderr-" + std::to_string(::getpid()) + "-" +
                                                     std::to_string(counter++));
    RunResult r;
    FILE* p = ::popen((command + " 2>" + quote(err_file.string())).c_str(), "r");
    if (!p) throw std::runtime_error("popen failed");
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::vector<unsigned char> err = read_file(err_file);
    r.err.assign(err.begin(), err.end());
    fs::remove(err_file);
    return r;
}

inline RunResult cli(const std::string& args) { return run(std::string(IMGPACK_CLI) + " " + args); }

// Recomputes every metadata section checksum, the directory checksum and the header checksum
// of a pack image, as a writer would, after a test edited some field.
inline void reseal(std::vector<unsigned char>& f) {
    namespace fmt = imgpack::format;
    if (f.size() < fmt::kHeaderSize) return;
    fmt::FileHeader h = fmt::decode_header(f.data());
    // A corrupted header may point anywhere: reseal only what lies inside the buffer.
    const uint64_t dir_bytes = uint64_t{h.section_count} * h.section_entry_size;  // both u32: no overflow
    if (h.section_entry_size >= fmt::kSectionEntrySize && h.directory_offset <= f.size() &&
        dir_bytes <= f.size() - h.directory_offset) {
        for (uint32_t i = 0; i < h.section_count; ++i) {
            unsigned char* e = f.data() + h.directory_offset + uint64_t{i} * h.section_entry_size;
            fmt::SectionEntry s = fmt::decode_section(e);
            if (s.offset <= f.size() && s.length <= f.size() - s.offset)
                s.xxh3 = XXH3_64bits(f.data() + s.offset, s.length);
            fmt::encode_section(s, e);
        }
        h.directory_xxh3 = XXH3_64bits(f.data() + h.directory_offset, dir_bytes);
    }
    fmt::encode_header(h, f.data());
    h.header_xxh3 = XXH3_64bits(f.data(), fmt::kHeaderChecksummedBytes);
    fmt::encode_header(h, f.data());
}

// The directory entry of the n-th section of `kind` (0-based).
inline imgpack::format::SectionEntry find_section(const std::vector<unsigned char>& f, imgpack::format::SectionKind kind,
                                                  int n = 0, size_t* entry_offset = nullptr) {
    namespace fmt = imgpack::format;
    fmt::FileHeader h = fmt::decode_header(f.data());
    for (uint32_t i = 0; i < h.section_count; ++i) {
        size_t at = h.directory_offset + size_t{i} * h.section_entry_size;
        fmt::SectionEntry s = fmt::decode_section(f.data() + at);
        if (s.kind == uint32_t(kind) && n-- == 0) {
            if (entry_offset) *entry_offset = at;
            return s;
        }
    }
    throw std::runtime_error("no such section");
}

}  // namespace test
