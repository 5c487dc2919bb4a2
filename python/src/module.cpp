// _imgpack: the bindings of the reader (Pack, Split, Subset), the records and the loader. Thin:
// each method calls the C++ API and converts its result; the Python package (python/imgpack/)
// adds what is easier in Python.
#include "bindings.hpp"

#include <imgpack/decode.hpp>
#include <imgpack/loader.hpp>

#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>

namespace imgpack::python {

namespace {

// The view's size as a signed index; negative indices count from the end, as Python's.
size_t checked_index(Py_ssize_t i, size_t size, const char* what) {
    Py_ssize_t n = Py_ssize_t(size);
    if (i < 0) i += n;
    if (i < 0 || i >= n) throw py::index_error(std::string(what) + " index out of range");
    return size_t(i);
}

size_t size_of(const PySplit& s) { return s.split.size(); }
size_t size_of(const PySubset& s) { return s.subset.size(); }
PyRecord record_at(const PySplit& s, size_t i) { return {s.pack, s.split, s.split[i]}; }
PyRecord record_at(const PySubset& s, size_t i) { return {s.pack, s.subset.split(), s.subset[i]}; }

// Iterates a Split or a Subset, keeping it alive.
template <class Handle>
struct ViewIterator {
    Handle view;
    size_t next = 0;
};

// The sequence protocol of a Split or a Subset: len, [i] (negative from the end), [slice] (a
// list of records), iteration.
template <class Handle>
void add_sequence(py::module_& m, py::class_<Handle>& cls, const char* iterator_name, const char* what) {
    py::class_<ViewIterator<Handle>>(m, iterator_name)
        .def("__iter__", [](py::object self) { return self; })
        .def("__next__", [](ViewIterator<Handle>& it) {
            if (it.next >= size_of(it.view)) throw py::stop_iteration();
            return record_at(it.view, it.next++);
        });
    cls.def("__len__", [](const Handle& h) { return size_of(h); })
        .def("__getitem__", [what](const Handle& h, Py_ssize_t i) { return record_at(h, checked_index(i, size_of(h), what)); })
        .def("__getitem__", [](const Handle& h, const py::slice& s) {
            size_t start = 0, stop = 0, step = 0, length = 0;
            if (!s.compute(size_of(h), &start, &stop, &step, &length)) throw py::error_already_set();
            py::list out(length);
            for (size_t k = 0; k < length; ++k, start += step) out[k] = py::cast(record_at(h, start));
            return out;
        })
        .def("__iter__", [](const Handle& h) { return ViewIterator<Handle>{h, 0}; });
}

// Position i of a subset holding split record `index`, if it does (the indices are sorted).
std::optional<size_t> position_in(const Subset& subset, uint32_t index) {
    size_t lo = 0, hi = subset.size();
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (subset.index(mid) < index) lo = mid + 1;
        else hi = mid;
    }
    if (lo < subset.size() && subset.index(lo) == index) return lo;
    return std::nullopt;
}

// An export's provenance (FORMAT.md §4.9) as `imgpack info --json` gives it; None for other packs.
py::object provenance_of(const Pack& pack) {
    const std::optional<Provenance> p = pack.provenance();
    if (!p) return py::none();
    py::dict out;
    out["source_id"] = p->source_id;
    if (p->sharded()) {
        py::dict shard;
        shard["index"] = p->shard_index;
        shard["count"] = p->shard_count;
        out["shard"] = shard;
    } else {
        out["shard"] = py::none();
    }
    py::list splits, subsets;
    for (const ProvenanceSplit& s : p->splits) {
        py::dict d;
        d["name"] = std::string(s.name);
        d["source_split"] = std::string(s.source_split);
        d["source_subset"] = std::string(s.source_subset);
        splits.append(d);
    }
    for (const ProvenanceSubset& s : p->subsets) {
        py::dict d;
        d["name"] = std::string(s.name);
        d["source_subset"] = std::string(s.source_subset);
        subsets.append(d);
    }
    out["splits"] = splits;
    out["subsets"] = subsets;
    return out;
}

// The pack's info, with `imgpack info --json`'s keys, and its identity.
py::dict info_of(const Pack& pack) {
    py::dict info;
    info["path"] = pack.path();
    info["version"] = std::to_string(pack.version_major()) + "." + std::to_string(pack.version_minor());
    info["file_size"] = pack.file_size();
    info["classes"] = pack.class_count();
    py::list splits;
    for (Split s : pack.splits()) {
        py::dict d;
        d["name"] = std::string(s.name());
        d["records"] = s.size();
        d["bytes"] = s.blob_bytes();
        splits.append(d);
    }
    info["splits"] = splits;
    py::list subsets;
    for (Subset s : pack.subsets()) {
        py::dict d;
        d["name"] = std::string(s.name());
        d["split"] = std::string(s.split().name());
        d["records"] = s.size();
        d["origin"] = std::string(s.origin());
        subsets.append(d);
    }
    info["subsets"] = subsets;
    info["id"] = pack_id(pack);
    info["provenance"] = provenance_of(pack);
    py::list skipped;  // the input entries the converter left out (--on-bad-image=skip)
    for (const SkippedInfo& k : pack.skipped()) {
        py::dict d;
        d["split"] = text(k.split);
        d["entry"] = text(k.entry);
        d["reason"] = text(k.reason);
        skipped.append(d);
    }
    info["skipped"] = skipped;
    return info;
}

}  // namespace

// Pickled as a call of imgpack._reopen(kind, path, identity, position...), which calls
// _unpickle_<kind> here: the receiving process reopens the file by path (any pickle protocol).
// A Python function, since pickle can name one but not a compiled function.
py::tuple reduce_to(const char* kind, const py::tuple& args) {
    return py::make_tuple(py::module_::import("imgpack").attr("_reopen"), py::make_tuple(kind) + args);
}

namespace {

}  // namespace

std::string pack_id(const Pack& pack) { return pack.id(); }

Pack reopen(const std::string& path, const std::string& id) {
    // One open per (path, identity) per process: a DataLoader's workers unpickle many handles of
    // one pack, and an open validates the whole directory. Guarded by the GIL.
    static std::map<std::string, Pack>* cache = new std::map<std::string, Pack>();  // never destroyed: no order at exit
    auto it = cache->find(path);
    if (it != cache->end() && pack_id(it->second) == id) return it->second;
    Pack pack = Pack::open(path);
    std::string here = pack_id(pack);
    if (here != id)
        throw Error("imgpack: " + path + " is pack " + here + " here, not the pack " + id +
                    " that was pickled: the file at this path differs in this process (another machine, or replaced)");
    (*cache).insert_or_assign(path, pack);
    return pack;
}

void bind_pack(py::module_& m) {
    py::class_<Pack>(m, "Pack", "An open pack (imgpack.open). Keeps the file mapped while it, or any split, "
                                "subset or record taken from it, lives.")
        .def_property_readonly("path", &Pack::path)
        .def_property_readonly("file_size", &Pack::file_size)
        .def_property_readonly("version", [](const Pack& p) { return py::make_tuple(p.version_major(), p.version_minor()); })
        .def_property_readonly("id", &pack_id, "The pack's content identity (lowercase hex), as `imgpack info` prints it")
        .def_property_readonly("classes", [](const Pack& p) {
            py::list out;
            for (const ClassInfo& c : p.classes()) out.append(py::make_tuple(std::string(c.wnid), std::string(c.name)));
            return out;
        }, "(wnid, name) of each class, by label")
        .def("find_class", [](const Pack& p, std::string_view wnid) { return p.find_class(wnid); },
             "The label of a WNID, or None")
        .def_property_readonly("splits", [](const Pack& p) {
            py::list out;
            for (Split s : p.splits()) out.append(std::string(s.name()));
            return out;
        }, "The splits' names, in the file's order")
        .def_property_readonly("subsets", [](const Pack& p) {
            py::list out;
            for (Subset s : p.subsets()) out.append(std::string(s.name()));
            return out;
        }, "The subsets' names, in the file's order")
        .def_property_readonly("info", &info_of, "What `imgpack info --json` prints, and the identity, as a dict")
        .def("split", [](const Pack& p, std::string_view name) { return PySplit{p, p.split(name)}; })
        .def("subset", [](const Pack& p, std::string_view name) { return PySubset{p, p.subset(name)}; })
        .def("__getitem__", [](const Pack& p, std::string_view name) {
            std::optional<Split> s = p.find_split(name);
            if (!s) throw py::key_error("imgpack: " + p.path() + " has no split '" + std::string(name) + "'");
            return PySplit{p, *s};
        })
        .def("__contains__", [](const Pack& p, std::string_view name) { return p.find_split(name).has_value(); })
        .def("__repr__", [](const Pack& p) { return "<imgpack.Pack " + p.path() + " " + pack_id(p) + ">"; })
        .def("__reduce__", [](const Pack& p) { return reduce_to("pack", py::make_tuple(p.path(), pack_id(p))); });
    m.def("_unpickle_pack", &reopen);

    m.def("open", [](const std::string& path, bool huge_pages) {
        OpenOptions o;
        o.huge_pages = huge_pages;
        py::gil_scoped_release unlocked;  // maps and validates the directory: milliseconds at ImageNet's size
        return Pack::open(path, o);
    }, py::arg("path"), py::arg("huge_pages") = false);

    py::class_<PySplit> split(m, "Split", "A split: its records, sorted by file name (a sequence of Record)");
    add_sequence(m, split, "_SplitIterator", "split");
    split
        .def_property_readonly("name", [](const PySplit& s) { return std::string(s.split.name()); })
        .def_property_readonly("pack", [](const PySplit& s) { return s.pack; })
        .def_property_readonly("blob_bytes", [](const PySplit& s) { return s.split.blob_bytes(); })
        .def("subset", [](const PySplit& s, std::string_view name) { return PySubset{s.pack, s.split.subset(name)}; },
             "The pack's subset `name`, which must be one of this split (imgpack.Error otherwise)")
        .def("find", [](const PySplit& s, std::string_view name) -> std::optional<PyRecord> {
            if (auto i = s.split.find(name)) return record_at(s, *i);
            return std::nullopt;
        }, "The record of that file name, or None")
        .def("__repr__", [](const PySplit& s) {
            return "<imgpack.Split '" + std::string(s.split.name()) + "' of " + s.pack.path() + ": " +
                   std::to_string(s.split.size()) + " records>";
        })
        .def("__reduce__", [](const PySplit& s) {
            return reduce_to("split", py::make_tuple(s.pack.path(), pack_id(s.pack), std::string(s.split.name())));
        });
    m.def("_unpickle_split", [](const std::string& path, const std::string& id, std::string_view name) {
        Pack p = reopen(path, id);
        return PySplit{p, p.split(name)};
    });

    py::class_<PySubset> subset(m, "Subset", "A named subset of one split (a sequence of Record, in split order)");
    add_sequence(m, subset, "_SubsetIterator", "subset");
    subset
        .def_property_readonly("name", [](const PySubset& s) { return std::string(s.subset.name()); })
        .def_property_readonly("origin", [](const PySubset& s) { return std::string(s.subset.origin()); })
        .def_property_readonly("pack", [](const PySubset& s) { return s.pack; })
        .def_property_readonly("split", [](const PySubset& s) { return PySplit{s.pack, s.subset.split()}; })
        .def_property_readonly("indices", [](const PySubset& s) {
            py::list out(s.subset.size());
            for (size_t i = 0; i < s.subset.size(); ++i) out[i] = s.subset.index(i);
            return out;
        }, "The split index of each of the subset's records")
        .def("find", [](const PySubset& s, std::string_view name) -> std::optional<PyRecord> {
            Split split = s.subset.split();
            if (auto i = split.find(name))
                if (position_in(s.subset, uint32_t(*i))) return PyRecord{s.pack, split, split[*i]};
            return std::nullopt;
        }, "The record of that file name if the subset holds it, or None")
        .def("__repr__", [](const PySubset& s) {
            return "<imgpack.Subset '" + std::string(s.subset.name()) + "' of split '" +
                   std::string(s.subset.split().name()) + "' of " + s.pack.path() + ": " +
                   std::to_string(s.subset.size()) + " records>";
        })
        .def("__reduce__", [](const PySubset& s) {
            return reduce_to("subset", py::make_tuple(s.pack.path(), pack_id(s.pack), std::string(s.subset.name())));
        });
    m.def("_unpickle_subset", [](const std::string& path, const std::string& id, std::string_view name) {
        Pack p = reopen(path, id);
        return PySubset{p, p.subset(name)};
    });
}

}  // namespace imgpack::python

PYBIND11_MODULE(_imgpack, m) {
    namespace py = pybind11;
    m.doc() = "imgpack's C++ core (the reader, the decoder and the loader); use the imgpack package";
    static py::exception<imgpack::Error> error(m, "Error", PyExc_Exception);
    static py::exception<imgpack::DecodeError> decode_error(m, "DecodeError", error.ptr());
    static py::exception<imgpack::LoaderError> loader_error(m, "LoaderError", error.ptr());
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const imgpack::DecodeError& e) {
            decode_error(e.what());
        } catch (const imgpack::LoaderError& e) {
            loader_error(e.what());
        } catch (const imgpack::Error& e) {
            error(e.what());
        }
    });
    imgpack::python::bind_pack(m);
    imgpack::python::bind_records(m);
    imgpack::python::bind_loader(m);
}
