// What the three binding files share: the Python-side handles and the pack's identity.
//
// Each handle keeps the Pack it came from (for pickling: path and identity) and a C++ view that
// shares the mapping, so a Python Split, Subset or Record keeps the file mapped on its own.
#pragma once

#include <imgpack/reader.hpp>

#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace imgpack::python {

namespace py = pybind11;

struct PySplit {
    Pack pack;
    Split split;
};

struct PySubset {
    Pack pack;
    Subset subset;
};

// A record: a plain value of views into the mapping, kept valid by `split`.
struct PyRecord {
    Pack pack;
    Split split;
    Record record;
};

// Text from a pack as a str. Names come from archives as bytes: UTF-8, with any ill-formed byte
// kept as a lone surrogate (surrogateescape, as os.fsdecode does), so reading one never raises.
inline py::str text(std::string_view s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), Py_ssize_t(s.size()), "surrogateescape");
    if (!o) throw py::error_already_set();
    return py::reinterpret_steal<py::str>(o);
}

// The pack's content identity (lowercase hex; see Pack::id in reader.hpp).
std::string pack_id(const Pack& pack);

// For unpickling: the pack at `path` whose identity is `id`, from this process's cache of opened
// packs when it holds it; throws Error naming both identities when the file there is another pack.
Pack reopen(const std::string& path, const std::string& id);

// What __reduce__ returns: (imgpack._reopen, (kind, *args)); kind is pack, split, subset or record.
py::tuple reduce_to(const char* kind, const py::tuple& args);

// "PATH: split 'S' record I (NAME)", for error messages.
std::string describe(const PyRecord& r);

void bind_pack(py::module_& m);     // module.cpp: Pack, Split, Subset
void bind_records(py::module_& m);  // records.cpp: Record, decode
void bind_loader(py::module_& m);   // batches.cpp: the C++ Loader and its batches

}  // namespace imgpack::python
