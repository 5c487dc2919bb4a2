// Extracted ImageNet trees (train/<WNID>/*.JPEG, val/<WNID>/*.JPEG, flat folders), read in
// sorted order so that the pack does not depend on the file system's directory order.
#include "archive_source.hpp"

#include "files.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <sys/stat.h>

namespace imgpack {

namespace fs = std::filesystem;

namespace {

// A record's blob size is a u32 in the format.
constexpr uint64_t kMaxImageBytes = UINT32_MAX;

std::vector<fs::path> sorted_entries(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
    if (ec) throw std::runtime_error("imgpack: " + dir.string() + ": cannot list the folder: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

// What an entry is, without following links.
const char* entry_problem(const fs::path& p, bool& is_dir) {
    struct stat st {};
    is_dir = false;
    if (::lstat(p.c_str(), &st) != 0) return "cannot stat";
    if (S_ISLNK(st.st_mode)) return "a symbolic link, not an image file";
    if (S_ISDIR(st.st_mode)) {
        is_dir = true;
        return nullptr;
    }
    if (!S_ISREG(st.st_mode)) return "a special file (device, FIFO or socket), not an image file";
    return nullptr;
}

}  // namespace

void read_directory_tree(const fs::path& root, const MemberSink& sink) {
    const std::string where = root.string();
    uint64_t position = 0;
    // Regular files pass through here, so the position counts the bytes read so far.
    auto file_member = [&](const std::string& at, const std::string& group, std::string name, const fs::path& file) {
        Member m{at, group, std::move(name), read_file(file, kMaxImageBytes), "", 0};
        position += m.bytes.size();
        m.position = position;
        return m;
    };
    for (const fs::path& entry : sorted_entries(root)) {
        bool is_dir = false;
        std::string name = entry.filename().string();
        if (const char* problem = entry_problem(entry, is_dir)) {
            sink(Member{where, "", name, {}, problem});
            continue;
        }
        if (!is_dir) {
            sink(file_member(where, "", name, entry));
            continue;
        }
        const std::string group_where = (root / name).string();
        for (const fs::path& file : sorted_entries(entry)) {
            std::string file_name = file.filename().string();
            if (const char* problem = entry_problem(file, is_dir)) sink(Member{group_where, name, file_name, {}, problem});
            else if (is_dir) sink(Member{group_where, name, file_name, {}, "a folder inside a class folder"});
            else sink(file_member(group_where, name, file_name, file));
        }
    }
}

void read_source(const fs::path& source, bool nested, const MemberSink& sink) {
    if (fs::is_directory(source)) read_directory_tree(source, sink);
    else if (nested) read_nested_archive(source, sink);
    else read_flat_archive(source, sink);
}

}  // namespace imgpack
