// export_pack: open and check the source, decide the selection (selection.hpp), check the
// output's place, then copy the selected blobs (blob_copy.hpp) and write the metadata.
#include <imgpack/export.hpp>

#include "blob_copy.hpp"
#include "selection.hpp"

#include <imgpack/balanced_subset.hpp>
#include <imgpack/pack_writer.hpp>
#include <imgpack/reader.hpp>
#include <imgpack/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace imgpack {

namespace {

namespace fs = std::filesystem;
using exporting::BlobItem;
using exporting::Selection;

[[noreturn]] void fail(const ExportOptions& o, const std::string& what) {
    throw std::runtime_error("imgpack export: " + o.source.string() + ": " + what);
}

// The source, opened once for reading its blobs and once (by Pack::open) mapped, and proven to be
// one file: a rename between the two opens would otherwise copy one file's bytes under the
// other's records (the checksums would then fail, but with a misleading message).
struct Source {
    UniqueFd fd;
    struct stat st {};
};

Source open_source(const ExportOptions& o, const Pack& pack) {
    Source s;
    s.fd.reset(::open(o.source.c_str(), O_RDONLY | O_CLOEXEC));
    if (!s.fd || ::fstat(s.fd.get(), &s.st) != 0) fail(o, std::string("cannot open: ") + std::strerror(errno));
    if (static_cast<uint64_t>(s.st.st_size) != pack.file_size())
        fail(o, "the file changed while it was opened (replaced or rewritten); try again");
    return s;
}

// The output must not be the source: not its path, nor another name of it (a hard link, a
// symbolic link). Writing there would replace the pack the export reads.
void check_output(const ExportOptions& o, const Source& s) {
    struct stat out {};
    if (::stat(o.output.c_str(), &out) == 0 && out.st_dev == s.st.st_dev && out.st_ino == s.st.st_ino)
        throw std::runtime_error("imgpack export: the output " + o.output.string() + " is the source " +
                                 o.source.string() + " (the same file): write the export to another file");
}

// The output's records: the source's, with blob offsets filled in by the copy.
RecordDef record_def(const Record& r) {
    RecordDef d;
    d.name = std::string(r.name);
    d.blob_size = static_cast<uint32_t>(r.data.size());
    d.xxh3 = r.xxh3;
    d.width = r.width;
    d.height = r.height;
    d.codec = r.codec;
    d.color_space = r.color_space;
    d.label = r.label;
    d.flags = r.flags;
    return d;
}

// The contents the writer gets: the class table whole, each split's records, the carried subsets
// re-indexed, then the drawn ones. Blob offsets come later, from the copy.
PackContents contents_of(const Pack& pack, const Selection& sel, const ExportOptions& o) {
    PackContents c;
    for (const ClassInfo& k : pack.classes()) c.classes.push_back({std::string(k.wnid), std::string(k.name)});
    for (const auto& s : sel.splits) {
        SplitDef def{std::string(s.source.name()), {}};
        def.records.reserve(s.indices.size());
        for (uint32_t i : s.indices) def.records.push_back(record_def(s.source[i]));
        c.splits.push_back(std::move(def));
    }
    for (const auto& k : sel.carried)
        c.subsets.push_back({std::string(k.source.name()), std::string(k.source.split().name()),
                             std::string(k.source.origin()), k.indices});
    auto train = std::find_if(c.splits.begin(), c.splits.end(), [](const SplitDef& s) { return s.name == "train"; });
    for (const ExportDraw& d : o.draws) {
        if (train == c.splits.end())
            fail(o, "--subset " + d.name + " draws from the exported train split, and the export has none");
        for (const SubsetDef& have : c.subsets)
            if (have.name == d.name)
                fail(o, "subset '" + d.name + "' would be drawn, but the source's subset of that name comes along: "
                        "choose another name");
        c.subsets.push_back(balanced_subset(d.name, "train", d.fraction, o.seed, train->records, c.classes));
    }

    // Where it came from (FORMAT.md §4.9): the source's identity and the selection. No path and
    // no time: the same selection from the same source gives the same bytes, and so the same id.
    ProvenanceDef& p = c.provenance.emplace();
    p.source_id = pack.id();
    if (o.shard) p.shard_index = o.shard->index, p.shard_count = o.shard->count;
    for (const auto& s : sel.splits) p.splits.push_back({std::string(s.source.name()), std::string(s.source.name()), s.subset});
    for (size_t k = 0; k < c.subsets.size(); ++k)
        p.subsets.push_back({c.subsets[k].name, k < sel.carried.size() ? c.subsets[k].name : ""});
    return c;
}

}  // namespace

ExportSummary export_pack(const ExportOptions& o) {
    const auto start = std::chrono::steady_clock::now();
    if (o.shard && (o.shard->count == 0 || o.shard->index >= o.shard->count))
        throw std::invalid_argument("imgpack export: --shard K/N needs 0 <= K < N");
    for (size_t i = 0; i < o.draws.size(); ++i) {
        if (!valid_subset_name(o.draws[i].name))
            throw std::invalid_argument("imgpack export: subset name '" + o.draws[i].name +
                                        "' must be 1-64 characters of letters, digits, '_', '-', '.'");
        for (size_t j = 0; j < i; ++j)
            if (o.draws[j].name == o.draws[i].name)
                throw std::invalid_argument("imgpack export: subset '" + o.draws[i].name + "' given twice");
    }

    const Pack pack = Pack::open(o.source.string());  // validates every offset and metadata checksum
    Source source = open_source(o, pack);
    check_output(o, source);
    const Selection sel = exporting::select(pack, o);
    PackContents contents = contents_of(pack, sel, o);

    // Every blob, once: the output's records in file order of the source.
    std::vector<BlobItem> items;
    for (uint32_t s = 0; s < sel.splits.size(); ++s)
        for (uint32_t p = 0; p < sel.splits[s].indices.size(); ++p) {
            Record r = sel.splits[s].source[sel.splits[s].indices[p]];
            items.push_back({r.offset, static_cast<uint32_t>(r.data.size()), r.xxh3, r.data.data(), s, p, 0});
        }
    auto describe = [&](const BlobItem& item) {
        const auto& s = sel.splits[item.split];
        const uint32_t index = s.indices[item.position];
        return "split '" + std::string(s.source.name()) + "' record " + std::to_string(index) + " (" +
               std::string(s.source.name_at(index)) + ")";
    };

    PackWriter writer(o.output, o.overwrite);
    exporting::copy_blobs(o.source, source.fd.get(), items, writer, describe, exporting::read_method_from_environment());
    for (const BlobItem& item : items) contents.splits[item.split].records[item.position].blob_offset = item.written_at;
    writer.finish(contents);

    ExportSummary sum;
    sum.source_id = pack.id();
    sum.id = Pack::open(o.output.string()).id();
    for (size_t s = 0; s < sel.splits.size(); ++s) {
        uint64_t bytes = 0;
        for (const RecordDef& r : contents.splits[s].records) bytes += r.blob_size;
        sum.splits.push_back({contents.splits[s].name, sel.splits[s].subset, contents.splits[s].records.size(), bytes});
    }
    for (size_t k = 0; k < contents.subsets.size(); ++k)
        sum.subsets.push_back({contents.subsets[k].name, contents.subsets[k].split, contents.subsets[k].origin,
                               contents.subsets[k].indices.size(), k >= sel.carried.size()});
    sum.dropped = sel.dropped;
    sum.skipped_not_carried = pack.skipped().size();
    sum.pack_bytes = writer.bytes_written();
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return sum;
}

}  // namespace imgpack
