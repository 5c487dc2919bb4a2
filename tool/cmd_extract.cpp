// imgpack extract PACK --split S [--subset NAME] -o DIR [-j N] [--verify] [--force]: writes the
// stored bytes of a split's (or subset's) records back as files, in the layout torchvision's
// ImageFolder reads: DIR/<WNID>/<file name> for a labeled record, DIR/<file name> for an
// unlabeled one.
//
// A pack is untrusted input, so nothing it holds may place a file outside DIR:
//  - before anything is written, every file name and WNID to be used is checked to be one plain
//    path component: not empty, not "." or "..", no '/', no NUL, at most NAME_MAX bytes; and no
//    unlabeled record's file name may equal a WNID directory;
//  - every file and directory is created relative to a descriptor of DIR (openat, mkdirat), and
//    files are created with O_CREAT|O_EXCL|O_NOFOLLOW, WNID directories opened with
//    O_DIRECTORY|O_NOFOLLOW: a symlink planted in DIR is never followed.
// By default DIR must be missing or empty, and an existing file is never replaced. --force
// extracts into a non-empty DIR and replaces a file already at a record's path: the new file is
// written under a temporary name beside it and renamed over it, so a symlink there is replaced,
// not followed.
#include "commands.hpp"
#include "json.hpp"

#include <imgpack/reader.hpp>
#include <imgpack/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace imgpack::cli {

namespace {

// Why `s` is not a safe single path component, or nullptr when it is.
const char* unsafe_component(std::string_view s) {
    if (s.empty()) return "is empty";
    if (s == ".") return "is \".\"";
    if (s == "..") return "is \"..\"";
    if (s.find('/') != std::string_view::npos) return "contains '/'";
    if (s.find('\0') != std::string_view::npos) return "contains a NUL byte";
    if (s.size() > NAME_MAX) return "is longer than NAME_MAX (255 bytes)";
    return nullptr;
}

std::string errno_text(int e) { return std::strerror(e); }

struct Job {
    std::optional<Split> split;
    std::vector<uint32_t> indices;  // split indices of the records to write
};

class Extractor {
public:
    Extractor(std::string pack_path, std::filesystem::path dir, bool force, bool verify)
        : pack_path_(std::move(pack_path)), dir_(std::move(dir)), force_(force), verify_(verify) {}

    // Checks every name the job will use; throws before anything is created.
    void check_names(const Pack& pack, const Job& job) {
        std::set<std::string_view> flat_names;
        for (uint32_t i : job.indices) {
            Record r = (*job.split)[i];
            auto where = [&] {
                return "imgpack extract: " + pack_path_ + ": split '" + shown(job.split->name()) + "' record " +
                       std::to_string(i) + " ('" + shown(r.name) + "')";
            };
            if (const char* why = unsafe_component(r.name))
                throw std::runtime_error(where() + ": the file name " + why +
                                         ", so it cannot be extracted safely; nothing was written");
            if (r.labeled()) {
                if (const char* why = unsafe_component(r.wnid))
                    throw std::runtime_error(where() + ": its class's WNID '" + shown(r.wnid) + "' " + why +
                                             ", so it cannot be a directory name; nothing was written");
                labels_used_.insert(r.label);
            } else {
                flat_names.insert(r.name);
            }
        }
        for (int32_t label : labels_used_) {
            std::string_view wnid = pack.classes()[size_t(label)].wnid;
            if (flat_names.count(wnid))
                throw std::runtime_error("imgpack extract: " + pack_path_ + ": split '" + shown(job.split->name()) +
                                         "' has an unlabeled record named '" + shown(wnid) +
                                         "', the name of a class directory; nothing was written");
        }
    }

    // Creates (or, without --force, insists on an empty) DIR and the WNID directories.
    void prepare(const Pack& pack) {
        std::error_code ec;
        std::filesystem::create_directories(dir_, ec);
        if (ec) throw std::runtime_error("imgpack extract: cannot create " + dir_.string() + ": " + ec.message());
        root_ = UniqueFd(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (root_.get() < 0)
            throw std::runtime_error("imgpack extract: cannot open directory " + dir_.string() + ": " +
                                     errno_text(errno));
        if (!force_ && !empty_dir(root_.get()))
            throw std::runtime_error("imgpack extract: " + dir_.string() +
                                     " is not empty (extract into a new or empty directory, or use --force to "
                                     "add to it and replace files already there)");
        for (int32_t label : labels_used_) {
            std::string wnid(pack.classes()[size_t(label)].wnid);
            if (::mkdirat(root_.get(), wnid.c_str(), 0777) != 0 && !(errno == EEXIST && force_))
                throw std::runtime_error("imgpack extract: cannot create directory " + (dir_ / wnid).string() + ": " +
                                         errno_text(errno));
            (void)open_class_dir(wnid);  // refuses a symlink or non-directory there now
        }
    }

    // Writes the job's records with `jobs` threads. Returns the number of files written.
    size_t run(const Job& job, unsigned jobs) {
        constexpr size_t kChunk = 64;  // consecutive records share a WNID directory
        std::atomic<size_t> next{0}, written{0};
        std::atomic<uint64_t> bytes{0};
        auto work = [&] {
            int32_t cached_label = INT32_MIN;
            UniqueFd cached;
            for (size_t c; !stop_.load() && (c = next.fetch_add(kChunk)) < job.indices.size();) {
                for (size_t k = c; k < std::min(c + kChunk, job.indices.size()) && !stop_.load(); ++k) {
                    Record r = (*job.split)[job.indices[k]];
                    if (verify_ && !r.verify()) {
                        std::lock_guard lock(m_);
                        corrupt_.push_back(job.indices[k]);
                        continue;
                    }
                    int dirfd = root_.get();
                    std::string rel;
                    if (r.labeled()) {
                        rel = std::string(r.wnid) + "/";
                        if (r.label != cached_label) {
                            cached.reset();
                            cached_label = INT32_MIN;
                            try {
                                cached = open_class_dir(std::string(r.wnid));
                            } catch (const std::exception& e) {
                                fail(e.what());
                                return;
                            }
                            cached_label = r.label;
                        }
                        dirfd = cached.get();
                    }
                    rel += std::string(r.name);
                    if (!write_file(dirfd, std::string(r.name), rel, r.data)) return;
                    written.fetch_add(1);
                    bytes.fetch_add(r.data.size());
                }
            }
        };
        std::vector<std::thread> threads;
        for (unsigned t = 1; t < jobs; ++t) threads.emplace_back(work);
        work();
        for (auto& t : threads) t.join();
        bytes_ = bytes.load();
        if (stop_.load())
            throw std::runtime_error(error_ + " (" + std::to_string(written.load()) +
                                     " files written before the error are left in " + dir_.string() + ")");
        return written.load();
    }

    uint64_t bytes() const { return bytes_; }
    std::vector<uint32_t> corrupt() {
        std::sort(corrupt_.begin(), corrupt_.end());
        return corrupt_;
    }

private:
    static bool empty_dir(int fd) {
        int copy = ::openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (copy < 0) return false;
        DIR* d = ::fdopendir(copy);
        if (!d) {
            ::close(copy);
            return false;
        }
        bool empty = true;
        while (struct dirent* e = ::readdir(d))
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
                empty = false;
                break;
            }
        ::closedir(d);
        return empty;
    }

    UniqueFd open_class_dir(const std::string& wnid) const {
        UniqueFd d(::openat(root_.get(), wnid.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d) {
            int e = errno;
            std::string why = e == ELOOP || e == ENOTDIR ? "it is a symlink or not a directory, refusing to follow it"
                                                          : errno_text(e);
            throw std::runtime_error("imgpack extract: cannot open directory " + (dir_ / wnid).string() + ": " + why);
        }
        return d;
    }

    void fail(const std::string& what) {
        std::lock_guard lock(m_);
        if (!stop_.exchange(true)) error_ = what;
    }

    // Creates `name` in dirfd (shown as DIR/rel in messages) holding `data`. Returns false after
    // reporting an error (the partial file is removed).
    bool write_file(int dirfd, const std::string& name, const std::string& rel, std::span<const unsigned char> data) {
        std::string shown_path = (dir_ / rel).string();
        // Without --force the file is created under its own name, and must not exist. With
        // --force it is written under a temporary name and renamed over whatever is there.
        std::string create_as = name;
        UniqueFd f;
        if (!force_) {
            f = UniqueFd(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
            if (!f) {
                int e = errno;
                fail("imgpack extract: cannot create " + shown(shown_path) + ": " +
                     (e == EEXIST ? std::string("it already exists (use --force to replace it)") : errno_text(e)));
                return false;
            }
        } else {
            for (unsigned attempt = 0; !f; ++attempt) {
                create_as = ".imgpack-extract-" + std::to_string(::getpid()) + "-" +
                            std::to_string(temp_counter_.fetch_add(1)) + ".tmp";
                f = UniqueFd(::openat(dirfd, create_as.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666));
                if (!f && (errno != EEXIST || attempt > 100)) {
                    fail("imgpack extract: cannot create a temporary file for " + shown(shown_path) + ": " +
                         errno_text(errno));
                    return false;
                }
            }
        }
        int e = write_all_at(f.get(), data, 0);
        if (e == 0) e = f.close();
        if (e == 0 && create_as != name && ::renameat(dirfd, create_as.c_str(), dirfd, name.c_str()) != 0) {
            int re = errno;
            ::unlinkat(dirfd, create_as.c_str(), 0);
            fail("imgpack extract: cannot replace " + shown(shown_path) + ": " + errno_text(re));
            return false;
        }
        if (e != 0) {
            ::unlinkat(dirfd, create_as.c_str(), 0);
            fail("imgpack extract: cannot write " + shown(shown_path) + ": " + errno_text(e));
            return false;
        }
        return true;
    }

    std::string pack_path_;
    std::filesystem::path dir_;
    bool force_, verify_;
    UniqueFd root_;
    std::set<int32_t> labels_used_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> temp_counter_{0};
    std::mutex m_;
    std::string error_;
    std::vector<uint32_t> corrupt_;
    uint64_t bytes_ = 0;
};

}  // namespace

void add_extract(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "extract", "Write a split's (or subset's) stored images as files: DIR/<WNID>/<file> or, unlabeled, DIR/<file>");
    struct Args {
        std::string path, split, subset;
        std::filesystem::path out;
        unsigned jobs = 0;
        bool verify = false, force = false, quiet = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("--split", a->split, "The split to extract (train, validation, test, ...)")->required();
    cmd->add_option("--subset", a->subset, "Extract only this subset of the split");
    cmd->add_option("-o,--output", a->out, "Output directory: created if missing, must be empty unless --force")
        ->required();
    cmd->add_option("-j,--jobs", a->jobs, "Threads (default: one per core)");
    cmd->add_flag("--verify", a->verify,
                  "Check each record's checksum first; a corrupt record is not written, and the command exits 1");
    cmd->add_flag("--force", a->force,
                  "Extract into a non-empty directory, replacing files already at a record's path");
    cmd->add_flag("-q,--quiet", a->quiet, "Print only errors");
    cmd->callback([a] {
        std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is then a write error (EFBIG), reported
        Pack pack = Pack::open(a->path);
        Job job;
        job.split = pack.split(a->split);
        if (a->subset.empty()) {
            job.indices.resize(job.split->size());
            for (size_t i = 0; i < job.indices.size(); ++i) job.indices[i] = static_cast<uint32_t>(i);
        } else {
            const Subset subset = job.split->subset(a->subset);
            job.indices.resize(subset.size());
            for (size_t i = 0; i < subset.size(); ++i) job.indices[i] = subset.index(i);
        }
        Extractor x(a->path, a->out, a->force, a->verify);
        x.check_names(pack, job);
        x.prepare(pack);
        unsigned jobs = a->jobs ? a->jobs : std::max(1u, std::thread::hardware_concurrency());
        size_t written = x.run(job, jobs);
        std::vector<uint32_t> corrupt = x.corrupt();
        for (uint32_t i : corrupt)
            std::fprintf(stderr, "%s: split '%s' record %u (%s): checksum mismatch, the image bytes are corrupt; "
                                 "not extracted\n",
                         a->path.c_str(), shown(job.split->name()).c_str(), i, shown(job.split->name_at(i)).c_str());
        if (!corrupt.empty()) {
            std::fprintf(stderr, "%s: FAILED: %zu of %zu records corrupt and not extracted; %zu files written to %s\n",
                         a->path.c_str(), corrupt.size(), job.indices.size(), written, a->out.c_str());
            throw ExitStatus{1};
        }
        if (!a->quiet)
            std::printf("extracted %zu files (%s) to %s%s\n", written, human_bytes(x.bytes()).c_str(), a->out.c_str(),
                        a->verify ? ", all checksums match" : "");
    });
}

}  // namespace imgpack::cli
