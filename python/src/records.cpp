// Record: the fields, the stored bytes as a read-only buffer into the mapping (no copy), and the
// loader's decode (the GIL released around it).
#include "bindings.hpp"

#include <imgpack/decode.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

namespace imgpack::python {

namespace {

TransformKind transform_kind(const std::string& name) {
    if (name == "none") return TransformKind::none;
    if (name == "train") return TransformKind::train;
    if (name == "eval") return TransformKind::eval;
    throw py::value_error("imgpack: transform must be 'none', 'train' or 'eval', not '" + name + "'");
}

// One Decoder per thread that decodes (DataLoader threads, a thread pool): it reuses its buffers.
Decoder& thread_decoder() {
    thread_local Decoder decoder;
    return decoder;
}

// The record decoded as the loader decodes it: `none` gives the whole image (H, W, 3); train and
// eval give (size, size, 3) with the augmentation drawn from (seed, epoch, record index), the
// same pixels `imgpack decode --transform T --seed S --epoch E` writes.
py::array_t<uint8_t> decode(const PyRecord& r, const std::string& transform, int size, int resize, uint64_t seed,
                            uint64_t epoch) {
    TransformOptions t;
    t.kind = transform_kind(transform);
    t.size = size;
    t.resize = resize;
    std::span<const unsigned char> jpeg = r.record.data;
    try {
        int width = size, height = size;
        if (t.kind == TransformKind::none) {
            py::gil_scoped_release unlocked;
            Decoder::Header h = thread_decoder().header(jpeg);
            width = h.width;
            height = h.height;
        }
        py::array_t<uint8_t> out({py::ssize_t(height), py::ssize_t(width), py::ssize_t(3)});
        ImageView view = ImageView::hwc(out.mutable_data(), width, height);
        {
            py::gil_scoped_release unlocked;
            thread_decoder().decode(jpeg, t, sample_seed(seed, epoch, r.record.index), view);
        }
        return out;
    } catch (const DecodeError& e) {
        throw DecodeError(describe(r) + ": " + e.what());
    }
}

const char* codec_name(format::Codec c) {
    switch (c) {
        case format::Codec::jpeg: return "jpeg";
        case format::Codec::png: return "png";
        default: return "unknown";
    }
}

}  // namespace

std::string describe(const PyRecord& r) {
    return "imgpack: " + r.pack.path() + ": split '" + std::string(r.split.name()) + "' record " +
           std::to_string(r.record.index) + " (" + std::string(r.record.name) + ")";
}

void bind_records(py::module_& m) {
    py::class_<PyRecord>(m, "Record", py::buffer_protocol(),
                         "One record of a split. Its buffer (memoryview(record), record.data) is the stored "
                         "image bytes in the pack's mapping: read-only, no copy, and it keeps the pack open.")
        .def_buffer([](const PyRecord& r) {
            return py::buffer_info(const_cast<unsigned char*>(r.record.data.data()), 1,
                                   py::format_descriptor<uint8_t>::format(), 1, {py::ssize_t(r.record.data.size())},
                                   {py::ssize_t(1)}, /*readonly=*/true);
        })
        .def_property_readonly("data", [](py::object self) { return py::memoryview(self); },
                               "The stored bytes: a read-only memoryview into the mapping (bytes(r.data) copies)")
        .def_property_readonly("index", [](const PyRecord& r) { return r.record.index; }, "Position in its split")
        .def_property_readonly("name", [](const PyRecord& r) { return text(r.record.name); })
        .def_property_readonly("label", [](const PyRecord& r) { return r.record.label; }, "Class index; -1 when unlabeled")
        .def_property_readonly("wnid", [](const PyRecord& r) -> std::optional<std::string> {
            if (!r.record.labeled()) return std::nullopt;
            return std::string(r.record.wnid);
        })
        .def_property_readonly("width", [](const PyRecord& r) { return r.record.width; })
        .def_property_readonly("height", [](const PyRecord& r) { return r.record.height; })
        .def_property_readonly("size", [](const PyRecord& r) { return r.record.data.size(); }, "Bytes stored")
        .def_property_readonly("offset", [](const PyRecord& r) { return r.record.offset; }, "Where the bytes start in the file")
        .def_property_readonly("xxh3", [](const PyRecord& r) { return r.record.xxh3; }, "The stored XXH3-64 of the bytes")
        .def_property_readonly("codec", [](const PyRecord& r) { return codec_name(r.record.codec); })
        .def_property_readonly("flags", [](const PyRecord& r) { return r.record.flags; }, "The record's flags (FORMAT.md)")
        .def_property_readonly("repaired", [](const PyRecord& r) { return r.record.repaired(); },
                               "The converter re-encoded the original (a PNG or CMYK file in ImageNet)")
        .def_property_readonly("split", [](const PyRecord& r) { return std::string(r.split.name()); })
        .def("verify", [](const PyRecord& r) {
            py::gil_scoped_release unlocked;
            return r.record.verify();
        }, "Whether the bytes match their stored checksum")
        .def("decode", &decode, py::arg("transform") = "none", py::arg("size") = 224, py::arg("resize") = 256,
             py::arg("seed") = 0, py::arg("epoch") = 0,
             "RGB uint8 pixels as a numpy array (H, W, 3), decoded by the loader's decoder (libjpeg-turbo, "
             "pixel-identical to PIL). transform='train' or 'eval' gives the loader's (size, size, 3) sample.")
        .def("example", [](const PyRecord& r) {
            py::dict d;
            d["image"] = decode(r, "none", 224, 256, 0, 0);
            d["label"] = r.record.label;
            d["file_name"] = text(r.record.name);
            return d;
        }, "TFDS imagenet2012's features: {'image': (H, W, 3) uint8, 'label': int, 'file_name': str}")
        .def("__repr__", [](const PyRecord& r) {
            return "<imgpack.Record " + std::string(r.split.name()) + "[" + std::to_string(r.record.index) + "] " +
                   std::string(r.record.name) + " label " + std::to_string(r.record.label) + " " +
                   std::to_string(r.record.width) + "x" + std::to_string(r.record.height) + ">";
        })
        .def("__reduce__", [](const PyRecord& r) {
            return reduce_to("record",
                             py::make_tuple(r.pack.path(), pack_id(r.pack), std::string(r.split.name()), r.record.index));
        });
    m.def("_unpickle_record", [](const std::string& path, const std::string& id, std::string_view split, size_t index) {
        Pack p = reopen(path, id);
        Split s = p.split(split);
        return PyRecord{p, s, s.at(index)};
    });
}

}  // namespace imgpack::python
