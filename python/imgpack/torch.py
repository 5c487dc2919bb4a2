"""imgpack for PyTorch: a map-style Dataset for torchvision's transforms, and the C++ Loader.

    from imgpack.torch import ImageNetDataset, Loader

    # Any torchvision recipe, unchanged: images are PIL images, decoded by imgpack.
    ds = ImageNetDataset("imagenet.imgpack", "train", transform=torchvision_transform)
    dl = torch.utils.data.DataLoader(ds, batch_size=256, num_workers=8, sampler=DistributedSampler(ds))

    # Or the C++ loader: decoded, cropped, resized batches, several times faster.
    loader = Loader("imagenet.imgpack", "train", batch_size=256)   # rank, world size: torch.distributed
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for images, labels in loader:    # uint8 (256, 3, 224, 224), int64 (256,)
            ...

Loader's batches are the loader's own buffers, wrapped without a copy: a batch's buffer is
written again only once every tensor over it is gone (see Loader).
"""

import os
import socket

import torch
import torch.distributed as dist
import torch.utils.data

import imgpack

from . import _imgpack

__all__ = ["ImageNetDataset", "Loader", "Batch"]


def _as_pack(pack_or_path):
    if isinstance(pack_or_path, imgpack.Pack):
        return pack_or_path
    return imgpack.open(pack_or_path)


def _view(pack, split, subset):
    if subset is None:
        return pack[split]
    return pack.subset(subset) if split is None else pack[split].subset(subset)


class ImageNetDataset(torch.utils.data.Dataset):
    """A map-style dataset of (image, label) over a split or a subset of a pack.

    ``image`` is a PIL image (RGB) by default, so torchvision's transforms apply unchanged;
    ``image="numpy"`` gives the (H, W, 3) uint8 array and ``image="tensor"`` a (3, H, W) uint8
    tensor. Decoding is imgpack's (libjpeg-turbo, the GIL released; the same pixels PIL decodes).
    Unlabeled records (the test split) have label -1. Pickles as (path, identity, split): works
    with DataLoader(num_workers=N) under fork and spawn, and with DistributedSampler.
    """

    def __init__(self, pack_or_path, split="train", subset=None, transform=None, target_transform=None,
                 image="pil"):
        if image not in ("pil", "numpy", "tensor"):
            raise ValueError(f"imgpack: image must be 'pil', 'numpy' or 'tensor', not {image!r}")
        self.pack = _as_pack(pack_or_path)
        self.view = _view(self.pack, split, subset)
        self.transform = transform
        self.target_transform = target_transform
        self.image = image

    @property
    def classes(self):
        """(wnid, name) of each class, by label."""
        return self.pack.classes

    def __len__(self):
        return len(self.view)

    def __getitem__(self, i):
        record = self.view[i]
        pixels = record.decode()
        if self.image == "pil":
            from PIL import Image
            img = Image.fromarray(pixels, "RGB")
        elif self.image == "tensor":
            img = torch.from_numpy(pixels).permute(2, 0, 1)
        else:
            img = pixels
        label = record.label
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return img, label


class Batch(tuple):
    """One batch: unpacks as ``(images, labels)``; also ``indices`` (each sample's record index
    in the split), ``valid`` (samples [0, valid) are the epoch's records; the rest, in the epoch's
    last batches with drop_last=False, are padding that repeats records so that every rank gets
    as many batches), ``epoch`` and ``number`` (its position in this rank's epoch)."""

    def __new__(cls, images, labels, indices, valid, epoch, number):
        self = super().__new__(cls, (images, labels))
        self.indices, self.valid, self.epoch, self.number = indices, valid, epoch, number
        return self

    @property
    def images(self):
        return self[0]

    @property
    def labels(self):
        return self[1]


def _distributed():
    return dist.is_available() and dist.is_initialized()


def _default_threads(world_size):
    """The cores this process may use, shared with the other ranks on this node."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, cores // max(1, local))


def check_same_pack(pack, group=None):
    """Under torch.distributed: every rank must read the same pack. One all_gather_object of
    (identity, host, path); raises imgpack.Error on every rank, naming each rank that differs,
    so that no rank goes on to wait for the others."""
    world = dist.get_world_size(group)
    mine = (pack.id, socket.gethostname(), pack.path)
    every = [None] * world
    dist.all_gather_object(every, mine, group=group)
    ids = {entry[0] for entry in every}
    if len(ids) > 1:
        reference = every[0][0]
        lines = [f"  rank {r}: {pid} ({path} on {host})" + ("" if pid == reference else "  <- differs from rank 0")
                 for r, (pid, host, path) in enumerate(every)]
        raise imgpack.Error("imgpack: the ranks hold different packs (identities below); every rank must read "
                            "the same pack: copy it to every node and check it with `imgpack verify`\n"
                            + "\n".join(lines))


class Loader:
    """imgpack's C++ loader: decoded, transformed, fixed-size batches made by a pool of threads.

    Yields ``Batch`` objects that unpack as ``(images, labels)``: ``images`` a uint8 tensor
    (batch_size, 3, size, size) with layout="NCHW" (the default) or (batch_size, size, size, 3)
    with "NHWC", ``labels`` an int64 tensor (-1 for unlabeled records).

    - train=True: RandomResizedCrop(size) + horizontal flip with torchvision's parameter sampling,
      shuffled; train=False: Resize(resize, default size * 8/7) + CenterCrop(size), in order.
      Each sample's crop and flip come from (seed, epoch, record): a run is reproducible.
    - rank, world_size: from torch.distributed when it is initialised (else 0 and 1). Each rank
      reads its own strided share of the epoch's permutation (as DistributedSampler) and every
      rank gets the same number of batches, len(loader). drop_last=False pads the last batches
      with records from the epoch's start (``batch.valid`` counts the real ones); True leaves the
      remainder out of that epoch. Under torch.distributed the ranks first check that they hold
      the same pack (one all_gather_object; check_identity=False skips it).
    - set_epoch(e) before each epoch, as with DistributedSampler (the order and the augmentation
      depend on it). state_dict() / load_state_dict() resume mid-epoch with the same batches.
    - threads: decoding threads (default: this process's cores divided by LOCAL_WORLD_SIZE).

    No copy: a batch's tensors wrap the loader's buffer (a ring of ``buffers``). The loader
    writes that buffer again only after every tensor over it (and every view or numpy array of
    them) is gone, so a batch you keep stays intact; keeping ``buffers`` batches at once leaves
    the loader no buffer to fill, and the next one raises imgpack.LoaderError instead of waiting
    forever: ``.clone()`` what you keep, or raise ``buffers``.
    """

    def __init__(self, pack_or_path, split="train", subset=None, *, batch_size, train=True, size=224, resize=None,
                 seed=0, threads=None, rank=None, world_size=None, drop_last=False, layout="NCHW", shuffle=None,
                 buffers=3, readahead_batches=4, on_bad_data="fail", dct_scaling=True, check_identity=True):
        self.pack = _as_pack(pack_or_path)
        view = _view(self.pack, split, subset)
        if rank is None or world_size is None:
            if _distributed():
                rank = dist.get_rank() if rank is None else rank
                world_size = dist.get_world_size() if world_size is None else world_size
            else:
                rank = 0 if rank is None else rank
                world_size = 1 if world_size is None else world_size
        if check_identity and _distributed() and dist.get_world_size() > 1:
            check_same_pack(self.pack)
        if on_bad_data not in ("fail", "skip"):
            raise ValueError(f"imgpack: on_bad_data must be 'fail' or 'skip', not {on_bad_data!r}")
        self.split = view.split.name if subset is not None else view.name
        self.subset = subset
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.train, self.size, self.drop_last, self.layout = train, size, drop_last, layout.upper()
        self.shuffle = train if shuffle is None else shuffle
        self.resize = size * 8 // 7 if resize is None else resize
        self._loader = _imgpack._Loader(
            self.pack, self.split, subset or "", batch_size, "train" if train else "eval", size, self.resize, seed,
            self.shuffle, rank, world_size, drop_last, self.layout,
            _default_threads(world_size) if threads is None else threads, buffers, readahead_batches,
            on_bad_data == "skip", dct_scaling)
        self.buffers = buffers
        self.epoch = 0
        self._resume = 0        # batches of self.epoch already done (load_state_dict)
        self._position = (0, 0)  # (epoch, batches handed out) of the current iteration

    @property
    def threads(self):
        return self._loader.threads

    def __len__(self):
        """Batches per epoch on this rank (the same on every rank)."""
        return self._loader.batches_per_epoch

    def set_epoch(self, epoch):
        if epoch != self.epoch:
            self._resume = 0
        self.epoch = epoch

    def __iter__(self):
        epoch, start = self.epoch, self._resume
        self._resume = 0
        self._loader.start_epoch(epoch, start)
        self._position = (epoch, start)
        while True:
            try:
                b = self._loader.next()
            except imgpack.LoaderError as e:
                if "holds all" in str(e):
                    raise imgpack.LoaderError(
                        f"imgpack: the tensors of {self.buffers} earlier batches are all alive, and each keeps its "
                        f"batch's buffer from being refilled: drop them, .clone() the ones you keep, or make the "
                        f"Loader with more buffers (buffers={self.buffers + 2})") from None
                raise
            if b is None:
                return
            images, labels, indices, valid, ep, number = b
            self._position = (ep, number + 1)
            yield Batch(torch.from_numpy(images), torch.from_numpy(labels), torch.from_numpy(indices), valid, ep,
                        number)

    def state_dict(self):
        """Where this rank is: the epoch and the batches handed out in it (a checkpoint taken after
        a training step on batch k says k + 1), and the settings the order depends on."""
        epoch, done = self._position
        return {"epoch": epoch, "batches_done": done, "seed": self.seed, "batch_size": self.batch_size,
                "world_size": self.world_size, "shuffle": self.shuffle, "drop_last": self.drop_last,
                "source_size": self._loader.source_size}

    def load_state_dict(self, state):
        """The next iteration resumes state's epoch after its batches_done batches: the same
        batches as an uninterrupted run. (set_epoch with that same epoch keeps the position.)"""
        for key in ("seed", "batch_size", "world_size", "shuffle", "drop_last", "source_size"):
            mine = self.state_dict()[key]
            if state.get(key, mine) != mine:
                raise ValueError(f"imgpack: cannot resume: the state's {key} is {state[key]!r}, this loader's {mine!r} "
                                 f"(the batches would differ)")
        if not 0 <= state["batches_done"] <= len(self):
            raise ValueError(f"imgpack: cannot resume after batch {state['batches_done']}: an epoch has {len(self)}")
        self.epoch = state["epoch"]
        self._resume = state["batches_done"]
        self._position = (self.epoch, self._resume)

    @property
    def replaced_samples(self):
        """on_bad_data="skip": samples replaced because their record did not decode."""
        return self._loader.replaced_samples

    @property
    def skipped_records(self):
        """on_bad_data="skip": (index, file name, error) of each record that did not decode."""
        return self._loader.skipped_records
