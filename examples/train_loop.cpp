// A training loop over imgpack batches, as the README shows it. The tests build and run it on a
// small pack, and check that the README's copy is this file's, so neither can rot.
//
//   train_loop PACK [EPOCHS] [--resume EPOCH BATCHES_DONE]
// Under torchrun-style launchers, RANK and WORLD_SIZE in the environment pick this process's share.
#include <imgpack/loader.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace {

// Stands in for a model's forward and backward pass: sums the batch's pixels and labels.
struct Model {
    double pixel_sum = 0;
    int64_t label_sum = 0, images = 0;
    void step(const imgpack::Batch& batch) {
        for (unsigned char p : batch.images()) pixel_sum += p;
        for (size_t i = 0; i < batch.valid(); ++i) label_sum += batch.labels()[i];
        images += int64_t(batch.size());
    }
};

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PACK [EPOCHS] [--resume EPOCH BATCHES_DONE]\n", argv[0]);
        return 2;
    }
    const uint64_t epochs = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
    uint64_t start_epoch = 0, start_batch = 0;  // a checkpoint's (epoch, batches done)
    if (argc > 5 && std::strcmp(argv[3], "--resume") == 0) {
        start_epoch = std::strtoull(argv[4], nullptr, 10);
        start_batch = std::strtoull(argv[5], nullptr, 10);
    }
    Model model;

    // README: training loop
    imgpack::LoaderOptions options;
    options.batch_size = 32;
    options.seed = 1234;                                   // order and augmentation: (seed, epoch, record)
    options.rank = env_int("RANK", 0);                     // this process's share of every epoch
    options.world_size = env_int("WORLD_SIZE", 1);
    options.transform.kind = imgpack::TransformKind::train;  // RandomResizedCrop(224) + flip
    options.on_bad_data = imgpack::BadData::skip;          // a corrupt JPEG is replaced, not fatal

    imgpack::Loader loader(imgpack::Pack::open(argv[1]), imgpack::LoaderSource::whole_split("train"), options);
    for (uint64_t epoch = start_epoch; epoch < epochs; ++epoch) {
        loader.start_epoch(epoch, epoch == start_epoch ? start_batch : 0);  // resume mid-epoch
        while (std::optional<imgpack::Batch> batch = loader.next()) {
            // images(): 32 x 224 x 224 x 3 uint8 (NHWC); labels(), indices(): int64.
            model.step(*batch);
        }  // the buffer returns to the loader when `batch` goes out of scope
        std::printf("epoch %llu: %zu batches\n", (unsigned long long)epoch, loader.batches_per_epoch());
    }
    // README: end

    std::printf("images %lld, label sum %lld, mean pixel %.3f, replaced %llu\n", (long long)model.images,
                (long long)model.label_sum, model.images ? model.pixel_sum / (double(model.images) * 224 * 224 * 3) : 0.0,
                (unsigned long long)loader.replaced_samples());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
}
