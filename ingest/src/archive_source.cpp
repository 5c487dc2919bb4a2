#include "archive_source.hpp"

#include "archive_reader.hpp"

#include <archive_entry.h>

#include <memory>
#include <stdexcept>

namespace imgpack {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what, archive* a) {
    std::string detail = a && archive_error_string(a) ? archive_error_string(a) : "unknown error";
    throw std::runtime_error("imgpack: " + where + ": " + what + ": " + detail);
}

// The member's file name, or why it is not a bare file name.
struct EntryName {
    std::string name;
    std::string problem;
};

bool plain_component(std::string_view s) { return !s.empty() && s != "." && s != ".." && s.find('/') == s.npos; }

EntryName entry_name(const char* raw, bool one_folder) {
    std::string path = raw ? raw : "";
    std::string name = path.rfind("./", 0) == 0 ? path.substr(2) : path;
    size_t slash = name.find('/');
    if (one_folder && slash != std::string::npos && plain_component(std::string_view(name).substr(0, slash)))
        name = name.substr(slash + 1);
    if (!plain_component(name)) {
        if (name.find('/') == std::string::npos) return {path, "not a file name"};
        return {path, "the member's path has a directory part (ImageNet's archives hold bare file names)"};
    }
    return {name, ""};
}

const char* kind_problem(mode_t type) {
    switch (type) {
        case AE_IFREG: return nullptr;
        case AE_IFDIR: return "a directory, not an image file";
        case AE_IFLNK: return "a symbolic link, not an image file";
        default: return "a special file (device, FIFO or socket), not an image file";
    }
}

// Reads the current entry's data whole.
std::vector<unsigned char> read_data(archive* a, archive_entry* e, const std::string& where) {
    std::vector<unsigned char> bytes;
    if (archive_entry_size_is_set(e)) bytes.reserve(static_cast<size_t>(archive_entry_size(e)));
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
        int r = archive_read_data_block(a, &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) fail(where, "cannot read data", a);
        if (static_cast<uint64_t>(offset) != bytes.size()) bytes.resize(static_cast<size_t>(offset));  // sparse hole
        const unsigned char* p = static_cast<const unsigned char*>(block);
        bytes.insert(bytes.end(), p, p + size);
    }
    return bytes;
}

// Walks the entries of an open archive: regular files with bare names go to `on_file`, every
// other entry to `on_problem` (the "./" entry of `tar -C dir .` is dropped silently).
template <class OnFile, class OnProblem>
void walk(archive* a, const std::string& where, OnFile&& on_file, OnProblem&& on_problem, bool one_folder = false) {
    archive_entry* e = nullptr;
    for (;;) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) return;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) fail(where, "cannot read the next entry (truncated or corrupt?)", a);
        const char* raw = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR && raw) {
            std::string dir = raw;
            if (dir.rfind("./", 0) == 0) dir = dir.substr(2);
            while (!dir.empty() && dir.back() == '/') dir.pop_back();
            // "./" from `tar -C dir .`, and the one folder a patch archive may keep its files in.
            if (dir.empty() || dir == "." || (one_folder && plain_component(dir))) continue;
        }
        EntryName n = entry_name(raw, one_folder);
        if (const char* p = kind_problem(type)) n.problem = p;
        if (!n.problem.empty()) on_problem(std::move(n));
        else on_file(e, std::move(n.name));
    }
}

// Feeds an inner archive from the outer archive's current entry, block by block: no copy of
// the inner tar is ever made.
struct InnerSource {
    archive* outer;
    static la_ssize_t read(archive* inner, void* self, const void** buffer) {
        auto* s = static_cast<InnerSource*>(self);
        size_t size = 0;
        la_int64_t offset = 0;
        int r = archive_read_data_block(s->outer, buffer, &size, &offset);
        if (r == ARCHIVE_EOF) return 0;
        if (r != ARCHIVE_OK) {
            // Carry the outer archive's reason into the inner reader's error.
            const char* why = archive_error_string(s->outer);
            archive_set_error(inner, -1, "outer archive: %s", why ? why : "read error");
            return -1;
        }
        return static_cast<la_ssize_t>(size);
    }
};

}  // namespace

void read_flat_archive(const std::filesystem::path& path, const MemberSink& sink, bool one_folder) {
    const std::string where = path.string();
    ArchiveReader a = new_archive_reader(/*any_format=*/false);
    if (archive_read_open_filename(a.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
        fail(where, "cannot open as a tar archive", a.get());
    walk(
        a.get(), where,
        [&](archive_entry* e, std::string name) {
            std::string at = where + ": " + name;
            Member m{where, "", std::move(name), read_data(a.get(), e, at), "", 0};
            m.position = static_cast<uint64_t>(archive_filter_bytes(a.get(), -1));
            sink(std::move(m));
        },
        [&](EntryName n) { sink(Member{where, "", std::move(n.name), {}, std::move(n.problem)}); }, one_folder);
}

void read_nested_archive(const std::filesystem::path& path, const MemberSink& sink) {
    const std::string where = path.string();
    ArchiveReader outer = new_archive_reader(/*any_format=*/false);
    if (archive_read_open_filename(outer.get(), path.c_str(), 1 << 20) != ARCHIVE_OK)
        fail(where, "cannot open as a tar archive", outer.get());
    auto on_problem = [&](const std::string& at) {
        return [&sink, at](EntryName n) { sink(Member{at, "", std::move(n.name), {}, std::move(n.problem)}); };
    };
    walk(
        outer.get(), where,
        [&](archive_entry*, std::string inner_name) {
            const std::string inner_where = where + ": " + inner_name;
            if (inner_name.size() <= 4 || inner_name.compare(inner_name.size() - 4, 4, ".tar") != 0) {
                sink(Member{where, "", inner_name, {},
                            "expected a per-class tar named <WNID>.tar inside the train archive"});
                return;
            }
            std::string group = inner_name.substr(0, inner_name.size() - 4);
            ArchiveReader inner = new_archive_reader(/*any_format=*/false);
            InnerSource source{outer.get()};
            if (archive_read_open(inner.get(), &source, nullptr, &InnerSource::read, nullptr) != ARCHIVE_OK)
                fail(inner_where, "cannot open as a tar archive", inner.get());
            walk(
                inner.get(), inner_where,
                [&](archive_entry* e, std::string name) {
                    std::string at = inner_where + ": " + name;
                    Member m{inner_where, group, std::move(name), read_data(inner.get(), e, at), "", 0};
                    m.position = static_cast<uint64_t>(archive_filter_bytes(outer.get(), -1));
                    sink(std::move(m));
                },
                on_problem(inner_where));
        },
        on_problem(where));
}

}  // namespace imgpack
