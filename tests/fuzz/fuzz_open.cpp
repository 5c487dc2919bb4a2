// Fuzz target: open any bytes as a pack and read everything the reader offers. A file that
// fails validation must be rejected with imgpack::Error; a file that passes must be readable
// end to end without any out-of-bounds access (ASan), undefined behaviour (UBSan), other
// exception, or broken invariant (checked here: a violation aborts, which libFuzzer reports).
//
// Built two ways (tests/CMakeLists.txt):
//  - imgpack_fuzz_open (IMGPACK_FUZZ=ON, clang): libFuzzer, ASan, UBSan; `./dev fuzz`;
//  - imgpack_fuzz_replay (every build): this file plus replay_main.cpp, which runs the committed
//    corpus (tests/fuzz/corpus/) through LLVMFuzzerTestOneInput, and structural mutations of it.
//
// The custom mutator: most random edits to a pack only break a checksum, and open rejects the
// file there. So with high probability the mutator re-seals the edited file as a writer would
// (every metadata section's checksum, the directory's, the header's, and file_size), which
// lets the fuzzer past the checksums into the structural checks behind them. It also has a
// mutation of its own that writes an interesting value into a field of the directory or of a
// metadata section.
#include "fuzz_mutate.hpp"

#include <imgpack/reader.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

namespace {

[[noreturn]] void broken(const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz_open: invariant broken at %s:%d: %s\n", file, line, what);
    std::abort();
}
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : broken(#cond, __FILE__, __LINE__))

// One memfd for the whole process, rewritten for each input; opened by its /proc path.
struct MemFile {
    int fd = -1;
    std::string path;
    MemFile() {
        fd = ::memfd_create("imgpack-fuzz", MFD_CLOEXEC);
        if (fd < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        path = "/proc/self/fd/" + std::to_string(fd);
    }
    void set(const uint8_t* data, size_t size) {
        if (::ftruncate(fd, 0) != 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) std::abort();
        for (size_t done = 0; done < size;) {
            ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
            if (n <= 0) std::abort();
            done += static_cast<size_t>(n);
        }
    }
};

uint64_t touch(std::span<const unsigned char> s) {
    // verify() hashes every byte; the ends are read directly as well.
    return s.empty() ? 0 : s.front() + s.back();
}

uint64_t read_everything(const imgpack::Pack& pack) {
    uint64_t sum = pack.file_size() + pack.version_major() + pack.version_minor() + pack.blob_align();
    for (size_t c = 0; c < pack.classes().size(); ++c) {
        const imgpack::ClassInfo& k = pack.classes()[c];
        sum += k.wnid.size() + k.name.size();
        FUZZ_CHECK(!k.wnid.empty());
        FUZZ_CHECK(pack.find_class(k.wnid) == static_cast<int32_t>(c));  // WNIDs are unique
    }
    for (const imgpack::Split& s : pack.splits()) {
        // The same split: names are unique, and the found one's name is the same bytes of the file.
        FUZZ_CHECK(pack.find_split(s.name()) && pack.find_split(s.name())->name().data() == s.name().data());
        FUZZ_CHECK(pack.split(s.name()).name().data() == s.name().data());
        FUZZ_CHECK(s.empty() == (s.size() == 0));
        uint64_t bytes = 0;
        for (imgpack::Record r : s) {
            sum += touch(r.data) + r.name.size() + r.wnid.size() + r.width + r.height + r.flags +
                   static_cast<uint64_t>(r.codec) + static_cast<uint64_t>(r.color_space) + r.repaired();
            sum += r.verify();
            bytes += r.data.size();
            FUZZ_CHECK(!r.name.empty());
            FUZZ_CHECK(r.offset + r.data.size() <= pack.file_size());
            FUZZ_CHECK(s.name_at(r.index) == r.name);
            FUZZ_CHECK(s.find(r.name) == r.index);  // names are sorted and unique
            FUZZ_CHECK(s.at(r.index).xxh3 == r.xxh3);
            if (r.labeled()) {
                FUZZ_CHECK(r.label >= 0 && static_cast<size_t>(r.label) < pack.class_count());
                FUZZ_CHECK(r.wnid == pack.classes()[static_cast<size_t>(r.label)].wnid);
            } else {
                FUZZ_CHECK(r.wnid.empty());
            }
        }
        FUZZ_CHECK(bytes == s.blob_bytes());
        static const std::string too_long(65536, '\xff');  // names are at most 65535 bytes
        FUZZ_CHECK(!s.find(too_long));
        try {
            (void)s.at(s.size());
            FUZZ_CHECK(!"at(size()) did not throw");
        } catch (const imgpack::Error&) {
        }
    }
    for (const imgpack::Subset& sub : pack.subsets()) {
        FUZZ_CHECK(pack.find_subset(sub.name()) && pack.find_subset(sub.name())->name().data() == sub.name().data());
        sum += sub.origin().size();
        FUZZ_CHECK(sub.empty() == (sub.size() == 0));
        size_t i = 0;
        for (imgpack::Record r : sub) {  // the iterator, as well as operator[] below
            FUZZ_CHECK(i == 0 || sub.index(i) > sub.index(i - 1));
            FUZZ_CHECK(r.index == sub.index(i) && r.index < sub.split().size());
            FUZZ_CHECK(r.name == sub.split().name_at(r.index));
            sum += touch(r.data) + r.verify();
            FUZZ_CHECK(sub[i].offset == r.offset);
            ++i;
        }
        FUZZ_CHECK(i == sub.size());
        try {
            (void)sub.at(sub.size());
            FUZZ_CHECK(!"at(size()) did not throw");
        } catch (const imgpack::Error&) {
        }
    }
    // Lookups of a name that is almost surely absent; if the file does hold it, it must be found.
    static const std::string none = std::string(4, '\0') + " no such name";
    FUZZ_CHECK(!pack.find_split(none) || pack.find_split(none)->name() == none);
    FUZZ_CHECK(!pack.find_subset(none) || pack.find_subset(none)->name() == none);
    FUZZ_CHECK(!pack.find_class(none) || pack.classes()[size_t(*pack.find_class(none))].wnid == none);
    if (!pack.find_split(none)) {
        try {
            (void)pack.split(none);
            FUZZ_CHECK(!"split() of a missing name did not throw");
        } catch (const imgpack::Error&) {
        }
    }
    if (!pack.find_subset(none)) {
        try {
            (void)pack.subset(none);
            FUZZ_CHECK(!"subset() of a missing name did not throw");
        } catch (const imgpack::Error&) {
        }
    }
    sum += pack.path().size();
    for (const imgpack::SkippedInfo& k : pack.skipped()) sum += k.split.size() + k.entry.size() + k.reason.size();
    for (size_t i = 0; i < pack.sections().size(); ++i) {
        const imgpack::SectionInfo& s = pack.sections()[i];
        FUZZ_CHECK(s.offset <= pack.file_size() && s.length <= pack.file_size() - s.offset);
        sum += pack.verify_section(i);
    }
    return sum;
}

size_t opened = 0;
std::string rejection;  // the last input's Error message, when it was rejected

}  // namespace

// How many inputs opened (passed validation) so far, and why the last rejected one was:
// replay_main.cpp reports them.
namespace imgpack::fuzz {
size_t inputs_opened() { return opened; }
const std::string& last_rejection() { return rejection; }
}  // namespace imgpack::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static MemFile file;
    file.set(data, size);
    try {
        imgpack::Pack pack = imgpack::Pack::open(file.path);
        imgpack::Pack copy = pack;  // copies share the mapping
        volatile uint64_t sink = read_everything(copy);
        (void)sink;
        ++opened;
    } catch (const imgpack::Error& e) {
        // rejected at open, with a message: the expected outcome for most inputs
        rejection = e.what();
    }
    return 0;
}

#ifdef IMGPACK_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
    std::minstd_rand rng(seed);
    // 1 in 3: a structural edit of our own; otherwise libFuzzer's own mutations.
    if (rng() % 3 == 0 && imgpack::fuzz::mutate_field(data, size, rng)) {
    } else {
        size = LLVMFuzzerMutate(data, size, max_size);
    }
    // 1 in 8 stays unsealed, to exercise the checksum checks themselves.
    if (rng() % 8 != 0) imgpack::fuzz::reseal(data, size, /*fix_file_size=*/rng() % 16 != 0);
    return size;
}
#endif
