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

std::vector<fs::path> sorted_entries(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(it->path());
    if (ec) throw std::runtime_error("imgpack: " + dir.string() + ": cannot list the folder: " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
}

// What an entry is, without following links.
struct EntryKind {
    const char* problem = nullptr;  // not a regular file or folder
    bool is_dir = false;
    uint64_t size = 0;
};

EntryKind entry_kind(const fs::path& p) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return {"cannot stat"};
    if (S_ISLNK(st.st_mode)) return {"a symbolic link, not an image file"};
    if (S_ISDIR(st.st_mode)) return {nullptr, true};
    if (S_ISCHR(st.st_mode)) return {"a character device, not an image file"};
    if (S_ISBLK(st.st_mode)) return {"a block device, not an image file"};
    if (S_ISFIFO(st.st_mode)) return {"a FIFO, not an image file"};
    if (S_ISSOCK(st.st_mode)) return {"a socket, not an image file"};
    if (!S_ISREG(st.st_mode)) return {"an entry of unknown type, not an image file"};
    return {nullptr, false, uint64_t(st.st_size)};
}

}  // namespace

void read_directory_tree(const fs::path& root, const MemberSink& sink, const SourceOptions& options, bool class_tars) {
    const std::string where = root.string();
    uint64_t position = 0;  // the bytes of the files read so far
    auto send = [&](Member::Kind kind, const std::string& at, const std::string& group, std::string name,
                    std::string problem = {}) {
        Member m = Member::make(kind, at, group, std::move(name), std::move(problem));
        m.position = position;
        sink(std::move(m));
    };
    // A regular file: its bytes, or a problem when it is over the limit (found before reading).
    auto file = [&](const std::string& at, const std::string& group, std::string name, const fs::path& path,
                    uint64_t size) {
        if (size > options.max_image_bytes) {
            send(Member::Kind::problem, at, group, std::move(name), image_too_large(size, options.max_image_bytes));
            return;
        }
        Member m = Member::make(Member::Kind::file, at, group, std::move(name));
        m.bytes = read_file(path, options.max_image_bytes);
        position += m.bytes.size();
        m.position = position;
        sink(std::move(m));
    };
    for (const fs::path& entry : sorted_entries(root)) {
        const std::string name = entry.filename().string();
        const EntryKind kind = entry_kind(entry);
        if (kind.problem) {
            send(Member::Kind::problem, where, "", name, kind.problem);
        } else if (!kind.is_dir && class_tars && name.size() > 4 && name.ends_with(".tar")) {
            read_class_tar_file(entry, where, sink, options, position);
            position += kind.size;
        } else if (!kind.is_dir) {
            file(where, "", name, entry, kind.size);
        } else {
            const std::string group_where = (root / name).string();
            uint64_t entries = 0;
            for (const fs::path& path : sorted_entries(entry)) {
                ++entries;
                std::string file_name = path.filename().string();
                const EntryKind k = entry_kind(path);
                if (k.problem) send(Member::Kind::problem, group_where, name, file_name, k.problem);
                else if (k.is_dir) send(Member::Kind::problem, group_where, name, file_name, "a folder inside a class folder");
                else file(group_where, name, file_name, path, k.size);
            }
            Member end = Member::make(Member::Kind::group_end, where, name, name);
            end.entries = entries;
            end.position = position;
            sink(std::move(end));
        }
    }
}

void read_source(const fs::path& source, bool nested, const MemberSink& sink, const SourceOptions& options) {
    if (fs::is_directory(source)) read_directory_tree(source, sink, options, /*class_tars=*/nested);
    else if (nested) read_nested_archive(source, sink, options);
    else read_flat_archive(source, sink, options);
}

}  // namespace imgpack
