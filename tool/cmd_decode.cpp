// imgpack decode PACK --split S (--index I | --name FILE) [--transform none|train|eval] [--size N]
//                [--resize N] [--seed S --epoch E] [--no-dct-scaling] -o OUT.png|OUT.ppm
// One record decoded the way the loader decodes it, for eyes and tests. A train sample's
// randomness is sample_seed(seed, epoch, record index), as in the loader.
#include "commands.hpp"
#include "record_choice.hpp"

#include <imgpack/decode.hpp>
#include <imgpack/destination.hpp>
#include <imgpack/reader.hpp>
#include <imgpack/synth.hpp>

#include <cstdio>
#include <map>
#include <string_view>
#include <string>
#include <vector>

namespace imgpack::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void add_decode(CLI::App& app) {
    auto* cmd = app.add_subcommand("decode", "Decode one record as the loader does (optionally with its train or eval "
                                             "transform) into a PNG or PPM file");
    struct Args {
        std::string path, output;
        RecordChoice record;
        TransformKind transform = TransformKind::none;
        int size = 224, resize = 256;
        uint64_t seed = 0, epoch = 0;
        bool no_dct_scaling = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("PACK", a->path, "The pack file")->required();
    a->record.add_options(cmd);
    const std::map<std::string, TransformKind> kinds = {
        {"none", TransformKind::none}, {"train", TransformKind::train}, {"eval", TransformKind::eval}};
    cmd->add_option("--transform", a->transform,
                    "none: the whole image; train: RandomResizedCrop + horizontal flip; eval: Resize + CenterCrop")
        ->transform(CLI::CheckedTransformer(kinds, CLI::ignore_case));
    cmd->add_option("--size", a->size, "Output side for train and eval (default 224)")->check(CLI::Range(1, 16384));
    cmd->add_option("--resize", a->resize, "eval: the shorter side before the centre crop (default 256)")
        ->check(CLI::Range(1, 65535));
    cmd->add_option("--seed", a->seed, "train: the run's seed (default 0)");
    cmd->add_option("--epoch", a->epoch, "train: the epoch (default 0)");
    cmd->add_flag("--no-dct-scaling", a->no_dct_scaling,
                  "Decode at full resolution before resizing (no IDCT downscaling): torchvision's exact pixels");
    cmd->add_option("-o,--output", a->output, "The image to write: .png or .ppm")->required();
    cmd->callback([a] {
        const bool png = ends_with(a->output, ".png") || ends_with(a->output, ".PNG");
        if (!png && !ends_with(a->output, ".ppm") && !ends_with(a->output, ".PPM"))
            throw std::runtime_error("imgpack decode: the output must end in .png or .ppm: " + a->output);
        const InputPath inputs[] = {{"PACK", a->path}};
        check_destination(a->output, /*overwrite=*/true, inputs);  // before the work, as again when writing
        Pack pack = Pack::open(a->path);
        const Split split = pack.split(a->record.split);
        const size_t i = a->record.index_in(split, a->path, "imgpack decode");
        const Record r = split.at(i);
        TransformOptions t;
        t.kind = a->transform;
        t.size = a->size;
        t.resize = a->resize;
        t.dct_scaling = !a->no_dct_scaling;
        const uint64_t seed = sample_seed(a->seed, a->epoch, i);
        Decoder decoder;
        std::vector<unsigned char> pixels;
        int width = t.size, height = t.size;
        std::string what;
        try {
            if (t.kind == TransformKind::none) {
                const Decoder::Header h = decoder.header(r.data);
                width = h.width;
                height = h.height;
            } else if (t.kind == TransformKind::train) {
                const Decoder::Header h = decoder.header(r.data);
                const TrainDraw d = draw_train(h.width, h.height, t, seed);
                what = ", crop " + std::to_string(d.width) + "x" + std::to_string(d.height) + " at (" +
                       std::to_string(d.left) + ", " + std::to_string(d.top) + ")" + (d.flip ? ", flipped" : "");
            }
            pixels.resize(static_cast<size_t>(width) * height * 3);
            decoder.decode(r.data, t, seed, ImageView::hwc(pixels.data(), width, height));
        } catch (const DecodeError& e) {
            throw std::runtime_error("imgpack decode: " + a->path + ": split '" + a->record.split + "', record " +
                                     std::to_string(i) + " (" + std::string(r.name) + "): " + e.what());
        }
        std::vector<unsigned char> file;
        if (png) {
            file = synth::encode_png(pixels, static_cast<uint32_t>(width), static_cast<uint32_t>(height));
        } else {
            const std::string head = "P6\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
            file.assign(head.begin(), head.end());
            file.insert(file.end(), pixels.begin(), pixels.end());
        }
        // As any output: a temporary file beside it, renamed into place; a regular file is replaced,
        // but never a FIFO, device, directory, link, or the pack it reads (docs/integrity.md §1, "The destination").
        write_file_atomically(a->output, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()),
                              /*overwrite=*/true, inputs);
        std::printf("wrote %s: %s (record %zu of '%s'), %dx%d%s\n", a->output.c_str(), std::string(r.name).c_str(), i,
                    a->record.split.c_str(), width, height, what.c_str());
    });
}

}  // namespace imgpack::cli
