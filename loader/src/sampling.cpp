#include "sampling.hpp"

#include <stdexcept>

namespace imgpack {

TrainDraw draw_train(int image_width, int image_height, const TransformOptions& t, uint64_t sample_seed) {
    if (image_width <= 0 || image_height <= 0) throw std::invalid_argument("draw_train: an empty image");
    detail::SampleRandom random(sample_seed);
    return detail::draw_train_with(image_width, image_height, t, random);
}

EvalGeometry eval_geometry(int image_width, int image_height, const TransformOptions& t) {
    if (image_width <= 0 || image_height <= 0) throw std::invalid_argument("eval_geometry: an empty image");
    EvalGeometry g;
    // Resize(resize): the shorter side becomes `resize`, the longer int(resize * long / short)
    // (Python's true division, then truncation).
    const bool portrait = image_width <= image_height;
    const int shorter = portrait ? image_width : image_height, longer = portrait ? image_height : image_width;
    const int new_long = static_cast<int>(static_cast<double>(int64_t{t.resize} * longer) / shorter);
    g.resized_width = portrait ? t.resize : new_long;
    g.resized_height = portrait ? new_long : t.resize;
    // CenterCrop(size): int(round((image - crop) / 2.0)) with Python's round (halves to even).
    // Where the crop is larger, torchvision first pads (crop - image) // 2 zeros before the image:
    // the offset is then negative, and the decoder writes zeros outside the image.
    auto offset = [](int image, int crop) {
        return image >= crop ? static_cast<int>(detail::round_half_even((image - crop) / 2.0)) : -((crop - image) / 2);
    };
    g.top = offset(g.resized_height, t.size);
    g.left = offset(g.resized_width, t.size);
    return g;
}

}  // namespace imgpack
