// imgpack verify PACK [-j N] [--quick | --decode]: checks every checksum in the pack in one pass
// over the image bytes (verify_pass.hpp); with --decode, then decodes every image whole
// (decode_pass.hpp). Open has already checked the header, the directory, every metadata
// section's checksum and every offset; --quick stops there: the metadata only, in milliseconds.
// What OK means: docs/integrity.md §3, and --help.
#include "commands.hpp"
#include "decode_pass.hpp"
#include "json.hpp"
#include "verify_pass.hpp"

#include <imgpack/reader.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>

namespace imgpack::cli {

void add_verify(CLI::App& app) {
    auto* cmd = app.add_subcommand("verify", "Check every checksum in a pack; non-zero exit on any mismatch");
    cmd->footer(
        "Checks, in one pass over the file: the header, the directory and every metadata section "
        "(their checksums and every offset, as any open does), each record's image bytes against "
        "the record's XXH3-64, and the blob section (the images and the zero padding between them) "
        "against its XXH3-64. OK means every byte that a reader can reach is as the writer wrote "
        "it, up to XXH3's chance of missing damage (2^-64 per checksum). Not checked: the zero gaps "
        "between sections, which no reader reads, and optional sections this version does not "
        "know. XXH3 detects accidents, not tampering. --quick checks only what opening the pack "
        "checks (the header, the directory, every metadata section's checksum and every offset; "
        "no image byte is read): OK then means that the metadata, and so the pack's identity, are "
        "as written, not that the images are. --decode also decodes every image whole with "
        "the loader's decoder and names each one that would stop a Loader (cut short, corrupt, not "
        "a JPEG): a checksum proves the bytes are the ones the converter stored, not that they "
        "decode. Details: docs/integrity.md.");
    struct Args {
        std::string path;
        unsigned jobs = 0;
        bool quick = false;
        bool decode = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    cmd->add_option("-j,--jobs", a->jobs, "Threads (default: one per core)");
    auto* quick = cmd->add_flag("--quick", a->quick,
                                "Only the header, the directory and the metadata sections, in milliseconds: no image bytes");
    cmd->add_flag("--decode", a->decode,
                  "Also decode every image whole, as the loader does; name each that does not decode "
                  "(about 1 ms of CPU per ImageNet-sized photograph)")
        ->excludes(quick);
    cmd->callback([a] {
        Pack pack = Pack::open(a->path);  // header, directory, metadata checksums, every offset
        if (a->quick) {
            size_t records = 0, metadata = 0;
            for (const Split& s : pack.splits()) records += s.size();
            for (const SectionInfo& s : pack.sections())
                metadata += s.known && s.kind != uint32_t(format::SectionKind::blobs);
            std::printf("%s: OK (quick): header, directory and %zu metadata sections match their checksums; "
                        "%zu records, image bytes not checked; id %s\n",
                        a->path.c_str(), metadata, records, pack.id().c_str());
            return;
        }
        unsigned jobs = a->jobs ? a->jobs : std::max(1u, std::thread::hardware_concurrency());
        size_t records = 0;
        for (const Split& s : pack.splits()) records += s.size();
        BlobCheck check;  // a pack without a blob section has no records either
        for (size_t s = 0; s < pack.sections().size(); ++s)
            if (pack.sections()[s].kind == uint32_t(format::SectionKind::blobs)) check = check_blobs(pack, s, jobs);
        const std::vector<RecordFailure>& failures = check.corrupt;
        const bool blob_section_ok = check.section_ok;
        for (const RecordFailure& f : failures) {
            const Split& split = pack.splits()[f.split];
            std::fprintf(stderr, "%s: split '%s' record %zu (%s): checksum mismatch, the image bytes are corrupt\n",
                         a->path.c_str(), std::string(split.name()).c_str(), f.index,
                         std::string(split.name_at(f.index)).c_str());
        }
        if (!blob_section_ok)
            std::fprintf(stderr, "%s: blob section checksum mismatch (image bytes or the padding between them "
                                 "are corrupt)\n", a->path.c_str());
        std::vector<DecodeFailure> undecodable;
        if (a->decode) {
            std::vector<std::pair<size_t, size_t>> corrupt;  // already named; not decoded
            for (const RecordFailure& f : failures) corrupt.emplace_back(f.split, f.index);
            undecodable = decode_all(pack, jobs, corrupt);
        }
        for (const DecodeFailure& f : undecodable) {
            const Split& split = pack.splits()[f.split];
            std::fprintf(stderr, "%s: split '%s' record %zu (%s): does not decode: %s\n", a->path.c_str(),
                         std::string(split.name()).c_str(), f.index, std::string(split.name_at(f.index)).c_str(),
                         f.reason.c_str());
        }
        if (!failures.empty() || !blob_section_ok || !undecodable.empty()) {
            std::string what = std::to_string(failures.size()) + " of " + std::to_string(records) + " records corrupt";
            if (a->decode) what += ", " + std::to_string(undecodable.size()) + " that do not decode";
            std::fprintf(stderr, "%s: FAILED: %s\n", a->path.c_str(), what.c_str());
            throw ExitStatus{1};
        }
        std::printf("%s: OK: %zu records, %s of images, all checksums match%s\n", a->path.c_str(), records,
                    human_bytes(check.record_bytes).c_str(), a->decode ? ", every image decodes" : "");
    });
}

}  // namespace imgpack::cli
