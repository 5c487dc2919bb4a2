// The C++ Loader for Python: its batches as numpy arrays over the loader's own buffers (no copy).
//
// A batch's arrays share one owner, a capsule holding the imgpack::Batch (the lease on its
// buffer): the loader does not write that buffer until every array over it (and every tensor
// torch.from_numpy made of them) is gone. The GIL is released while the loader is waited for.
#include "bindings.hpp"

#include <imgpack/loader.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace imgpack::python {

namespace {

class PyLoader {
public:
    PyLoader(const Pack& pack, const std::string& split, const std::string& subset, LoaderOptions options)
        : loader_(std::make_unique<Loader>(pack, subset.empty() ? LoaderSource::whole_split(split)
                                                                : LoaderSource{split, subset, {}, false},
                                           std::move(options))),
          owner_(::getpid()) {}

    // A forked child has none of the parent's worker threads: joining them there would be
    // undefined, so a child leaves its copy alone (the memory goes with the process).
    ~PyLoader() {
        if (::getpid() != owner_) (void)loader_.release();
    }

    void start_epoch(uint64_t epoch, size_t batches_done) {
        py::gil_scoped_release unlocked;
        std::lock_guard consumer(consumer_);
        live().start_epoch(epoch, batches_done);
    }

    // The next batch as (images, labels, indices, valid, epoch, number), or None after the epoch.
    py::object next() {
        std::optional<Batch> batch;
        {
            py::gil_scoped_release unlocked;
            std::lock_guard consumer(consumer_);
            batch = live().next();
        }
        if (!batch) return py::none();
        auto* held = new Batch(std::move(*batch));
        py::capsule owner(held, [](void* p) { delete static_cast<Batch*>(p); });
        const Batch& b = *held;
        const py::ssize_t n = py::ssize_t(b.size()), h = b.height(), w = b.width();
        std::vector<py::ssize_t> shape = b.layout() == Layout::nchw ? std::vector<py::ssize_t>{n, 3, h, w}
                                                                    : std::vector<py::ssize_t>{n, h, w, 3};
        py::array_t<uint8_t> images(shape, b.images().data(), owner);
        py::array_t<int64_t> labels({n}, b.labels().data(), owner);
        py::array_t<int64_t> indices({n}, b.indices().data(), owner);
        return py::make_tuple(images, labels, indices, b.valid(), b.epoch(), b.number());
    }

    Loader& live() {
        if (::getpid() != owner_)
            throw LoaderError("imgpack: this Loader was made in another process (before a fork); make one in this process");
        return *loader_;
    }

    std::unique_ptr<Loader> loader_;
    pid_t owner_;
    std::mutex consumer_;  // Loader's consumer calls come from one thread at a time
};

Layout layout_of(const std::string& s) {
    if (s == "NHWC" || s == "nhwc") return Layout::nhwc;
    if (s == "NCHW" || s == "nchw") return Layout::nchw;
    throw py::value_error("imgpack: layout must be 'NCHW' or 'NHWC', not '" + s + "'");
}

}  // namespace

void bind_loader(py::module_& m) {
    py::class_<PyLoader>(m, "_Loader", "The C++ loader; imgpack.torch.Loader is its PyTorch face")
        .def(py::init([](const Pack& pack, const std::string& split, const std::string& subset, size_t batch_size,
                         const std::string& transform, int size, int resize, uint64_t seed, bool shuffle, int rank,
                         int world_size, bool drop_last, const std::string& layout, int threads, size_t buffers,
                         size_t readahead_batches, bool skip_bad_data, bool dct_scaling) {
                 LoaderOptions o;
                 o.batch_size = batch_size;
                 o.seed = seed;
                 o.shuffle = shuffle;
                 o.rank = rank;
                 o.world_size = world_size;
                 o.remainder = drop_last ? Remainder::drop : Remainder::pad;
                 if (transform == "train") o.transform.kind = TransformKind::train;
                 else if (transform == "eval") o.transform.kind = TransformKind::eval;
                 else throw py::value_error("imgpack: the loader's transform must be 'train' or 'eval', not '" + transform + "'");
                 o.transform.size = size;
                 o.transform.resize = resize;
                 o.transform.dct_scaling = dct_scaling;
                 o.layout = layout_of(layout);
                 o.threads = threads;
                 o.buffers = buffers;
                 o.readahead_batches = readahead_batches;
                 o.on_bad_data = skip_bad_data ? BadData::skip : BadData::fail;
                 return std::make_unique<PyLoader>(pack, split, subset, std::move(o));
             }),
             py::arg("pack"), py::arg("split"), py::arg("subset"), py::arg("batch_size"), py::arg("transform"),
             py::arg("size"), py::arg("resize"), py::arg("seed"), py::arg("shuffle"), py::arg("rank"),
             py::arg("world_size"), py::arg("drop_last"), py::arg("layout"), py::arg("threads"), py::arg("buffers"),
             py::arg("readahead_batches"), py::arg("skip_bad_data"), py::arg("dct_scaling"))
        .def("start_epoch", &PyLoader::start_epoch, py::arg("epoch"), py::arg("batches_done") = 0)
        .def("next", &PyLoader::next)
        .def_property_readonly("batches_per_epoch", [](PyLoader& l) { return l.live().batches_per_epoch(); })
        .def_property_readonly("samples_per_epoch", [](PyLoader& l) { return l.live().samples_per_epoch(); })
        .def_property_readonly("source_size", [](PyLoader& l) { return l.live().source_size(); })
        .def_property_readonly("threads", [](PyLoader& l) { return l.live().threads(); })
        .def_property_readonly("replaced_samples", [](PyLoader& l) { return l.live().replaced_samples(); })
        .def_property_readonly("skipped_records", [](PyLoader& l) {
            py::list out;
            for (const SkippedRecord& r : l.live().skipped_records()) out.append(py::make_tuple(r.index, r.name, r.error));
            return out;
        });
}

}  // namespace imgpack::python
