#!/usr/bin/python3
"""torchvision's side of the loader tests: PIL's decode, torchvision 0.14's transforms and
RandomResizedCrop.get_params, run on the inputs the C++ test writes. Prints or writes what torchvision
produces; the C++ test compares. Usage: torchvision_ref.py COMMAND ARGS (see each function)."""
import json
import sys

import torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
import torchvision.transforms.transforms as tt


def decode(jobs):
    """Each job: {"jpeg": path, "out": path}. Writes PIL's RGB decode (convert('RGB')) raw."""
    for job in jobs:
        img = Image.open(job["jpeg"]).convert("RGB")
        with open(job["out"], "wb") as f:
            f.write(img.tobytes())


def transform(jobs):
    """Each job: {"jpeg", "out", "kind": "eval"|"crop", "size", "resize" | "top","left","height","width","flip"}.
    eval: Resize(resize) + CenterCrop(size); crop: resized_crop with the given box, then hflip."""
    for job in jobs:
        img = Image.open(job["jpeg"]).convert("RGB")
        size = job["size"]
        if job["kind"] == "eval":
            img = T.CenterCrop(size)(T.Resize(job["resize"])(img))
        else:
            img = F.resized_crop(img, job["top"], job["left"], job["height"], job["width"], [size, size],
                                 T.InterpolationMode.BILINEAR)
            if job["flip"]:
                img = F.hflip(img)
        with open(job["out"], "wb") as f:
            f.write(img.tobytes())


class _Tape:
    """Stands in for the torch module inside torchvision.transforms.transforms and records every
    random number get_params and RandomHorizontalFlip draw."""

    def __init__(self):
        self.values = []

    def __getattr__(self, name):
        return getattr(torch, name)

    def empty(self, *args, **kwargs):
        tensor, tape = torch.empty(*args, **kwargs), self

        class Uniform:
            def uniform_(self, lo, hi):
                tensor.uniform_(lo, hi)
                tape.values.append("u%r" % tensor.item())
                return tensor

        return Uniform()

    def randint(self, low, high, size):
        r = torch.randint(low, high, size)
        self.values.append("i%d/%d" % (r.item(), high - low))
        return r

    def rand(self, *args, **kwargs):
        r = torch.rand(*args, **kwargs)
        self.values.append("r%r" % r.item())
        return r


def tape(args):
    """tape SEED N W H [W H ...]: N draws per size of RandomResizedCrop(224) + RandomHorizontalFlip,
    each printed as 'W H <recorded numbers> -> top left height width flip'."""
    seed, n, sizes = int(args[0]), int(args[1]), [int(a) for a in args[2:]]
    torch.manual_seed(seed)
    crop, flip = T.RandomResizedCrop(224), T.RandomHorizontalFlip()
    recorder = _Tape()
    real = tt.torch
    tt.torch = recorder
    try:
        for w, h in zip(sizes[::2], sizes[1::2]):
            img = Image.new("L", (w, h))
            for _ in range(n):
                recorder.values = []
                i, j, hh, ww = crop.get_params(img, crop.scale, crop.ratio)
                flipped = flip(img) is not img
                print(w, h, " ".join(recorder.values), "->", i, j, hh, ww, int(flipped))
    finally:
        tt.torch = real


def draws(args):
    """draws SEED N W H [W H ...]: N get_params draws per size with torch's own generator, printed
    as 'W H top left height width'."""
    seed, n, sizes = int(args[0]), int(args[1]), [int(a) for a in args[2:]]
    torch.manual_seed(seed)
    crop = T.RandomResizedCrop(224)
    for w, h in zip(sizes[::2], sizes[1::2]):
        img = Image.new("L", (w, h))
        for _ in range(n):
            i, j, hh, ww = crop.get_params(img, crop.scale, crop.ratio)
            print(w, h, i, j, hh, ww)


def geometry(args):
    """geometry RESIZE:SIZE[,RESIZE:SIZE...] W H [W H ...]: for each pair and shape, torchvision's
    Resize(RESIZE) output size and where CenterCrop(SIZE) puts its output's corner in the resized
    image (negative where it pads), printed as 'RESIZE SIZE W H resized_w resized_h top left'."""
    pairs = [tuple(map(int, p.split(":"))) for p in args[0].split(",")]
    sizes = [int(a) for a in args[1:]]
    for resize, size in pairs:
        for w, h in zip(sizes[::2], sizes[1::2]):
            rh, rw = F._compute_resized_output_size((h, w), [resize])
            # Each pixel holds its own coordinates (+1, so that the padding's zeros stand out).
            img = Image.new("I", (rw, rh))
            img.putdata([y * 65536 + x + 1 for y in range(rh) for x in range(rw)])
            px = F.center_crop(img, [size, size]).load()
            y0 = next(y for y in range(size) if any(px[x, y] for x in range(size)))
            x0 = next(x for x in range(size) if px[x, y0])
            v = px[x0, y0] - 1
            print(resize, size, w, h, rw, rh, v // 65536 - y0, v % 65536 - x0)


if __name__ == "__main__":
    command, rest = sys.argv[1], sys.argv[2:]
    if command in ("decode", "transform"):
        with open(rest[0]) as f:
            globals()[command]([json.loads(line) for line in f if line.strip()])
    else:
        globals()[command](rest)
