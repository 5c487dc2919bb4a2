"""imgpack: ImageNet in one memory-mapped file, from Python.

    import imgpack
    pack = imgpack.open("imagenet.imgpack")
    train = pack["train"]                 # a sequence of records, sorted by file name
    r = train[42]                         # r.name, r.label, r.wnid, r.width, r.height
    jpeg = r.data                         # read-only memoryview into the mapping: no copy
    pixels = r.decode()                   # numpy uint8 (H, W, 3), the loader's decoder
    ex = r.example()                      # TFDS's {"image", "label", "file_name"}
    for r in pack.subset("1pct"): ...     # a subset: records of one split

Splits, subsets and records pickle as (path, identity, position) and reopen in the receiving
process (a DataLoader worker, another machine), which fails if the file there is another pack.
Batches for training come from imgpack.torch (needs PyTorch); this module needs only numpy.
"""

import os as _os

from . import _imgpack
from ._imgpack import DecodeError, Error, LoaderError, Pack, Record, Split, Subset  # noqa: F401

for _e in (Error, DecodeError, LoaderError):
    _e.__module__ = "imgpack"  # tracebacks say imgpack.Error

__all__ = ["open", "Pack", "Split", "Subset", "Record", "Examples", "Error", "DecodeError", "LoaderError"]


def open(path, huge_pages=False):
    """Maps and validates the pack at ``path`` (str or os.PathLike); raises imgpack.Error naming
    the file and the problem. The path is kept absolute, so that a pickled handle reopens the same
    file from any working directory. ``huge_pages``: see OpenOptions in reader.hpp."""
    return _imgpack.open(_os.path.abspath(_os.fspath(path)), huge_pages)


def _reopen(kind, path, identity, *position):
    """Unpickles a Pack, Split, Subset or Record: reopens `path` (once per process) and checks that
    it is the pack of that identity."""
    return getattr(_imgpack, "_unpickle_" + kind)(path, identity, *position)


class Examples:
    """A random-access data source of TFDS-shaped examples over a split or a subset.

    ``Examples(pack["train"])[i]`` is ``{"image": (H, W, 3) uint8, "label": int, "file_name": str}``,
    as ``tfds.data_source("imagenet2012", split="train")[i]``; it has ``__len__`` and
    ``__getitem__`` and pickles (as its view does), so grain or a plain DataLoader can use it as is.
    """

    def __init__(self, view):
        self.view = view

    def __len__(self):
        return len(self.view)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [r.example() for r in self.view[i]]
        return self.view[i].example()

    def __repr__(self):
        return f"imgpack.Examples({self.view!r})"
