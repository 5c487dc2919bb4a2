"""./dev bench python: training batches from Python, four ways, on the same photographs, side by side.

  loader       imgpack.torch.Loader (the C++ loader: train transform, `threads` = the cores), its
               default layout NCHW (as torchvision's tensors and PyTorch's convolutions)
  loader_nhwc  the same with layout="NHWC", the layout `imgpack throughput` makes (same work as cpp)
  imagefolder  torchvision ImageFolder on the same images extracted as files (`imgpack extract`),
               in DataLoader(num_workers = the cores), RandomResizedCrop(224) + flip + PILToTensor
  dataset      imgpack.torch.ImageNetDataset in that same DataLoader, with the same transforms
  cpp          `imgpack throughput --transform train -j cores --epochs 1`: the C++ loader alone

Each variant makes one epoch of uint8 (batch, 3, 224, 224) batches (drop_last: whole batches
only). Rounds alternate the variants in an order that rotates by one each round; reported are
medians with min-max of images/s (wall clock) and images per CPU second (the process and its
children: user + system; on a shared machine that is the per-core rate), and each ratio per round.
Run by bench/python_bench.sh with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import time

import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

import imgpack
from imgpack.torch import ImageNetDataset, Loader


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def torchvision_transform(size):
    return T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.PILToTensor()])


def run_dataloader(dataset, args, seed):
    torch.manual_seed(seed)
    images = 0
    # Not persistent: the workers exit at the end of the epoch, so their CPU time is counted.
    for x, _ in DataLoader(dataset, batch_size=args.batch, shuffle=True, num_workers=args.cores, drop_last=True):
        assert x.dtype == torch.uint8 and x.shape[1:] == (3, args.size, args.size)
        images += x.shape[0]
    return images


def run_loader(pack, args, seed, layout="NCHW"):
    loader = Loader(pack, "train", batch_size=args.batch, size=args.size, seed=seed, threads=args.cores,
                    drop_last=True, layout=layout)
    images = 0
    for x, _ in loader:
        images += x.shape[0]
    return images


def run_cpp(args, seed):
    out = subprocess.run([args.cli, "throughput", args.pack, "--split", "train", "--transform", "train",
                          "--size", str(args.size), "-j", str(args.cores), "--epochs", "1", "--batch",
                          str(args.batch), "--seed", str(seed), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def summary(values):
    return statistics.median(values), min(values), max(values)


def fmt(values, digits=0):
    m, lo, hi = summary(values)
    return f"{m:,.{digits}f} [{lo:,.{digits}f}-{hi:,.{digits}f}]"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pack", required=True)
    p.add_argument("--files", required=True, help="the pack's train split extracted (imgpack extract)")
    p.add_argument("--cli", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = p.parse_args()

    pack = imgpack.open(args.pack)
    transform = torchvision_transform(args.size)
    folder = ImageFolder(args.files, transform=transform)
    dataset = ImageNetDataset(pack, "train", transform=transform)
    assert len(folder) == len(dataset) == len(pack["train"]), "the extracted files are not the pack's train split"
    print(f"{len(dataset)} photographs, batch {args.batch}, {args.cores} cores (loader threads = DataLoader "
          f"workers = {args.cores}), {args.rounds} rounds; load before: {os.getloadavg()[0]:.1f}", flush=True)

    variants = {
        "loader": lambda seed: run_loader(pack, args, seed),
        "loader_nhwc": lambda seed: run_loader(pack, args, seed, "NHWC"),
        "imagefolder": lambda seed: run_dataloader(folder, args, seed),
        "dataset": lambda seed: run_dataloader(dataset, args, seed),
    }
    names = ["loader", "imagefolder", "dataset", "cpp", "loader_nhwc"]
    wall = {n: [] for n in names}
    per_cpu = {n: [] for n in names}
    run_loader(pack, args, 0)  # warm: the page cache holds the pack and the files from here on
    run_dataloader(folder, args, 0)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            if name == "cpp":
                got = run_cpp(args, r)
                wall[name].append(got["images_per_s"])
                per_cpu[name].append(got["images_per_cpu_s"])
                continue
            c0, t0 = cpu_seconds(), time.perf_counter()
            images = variants[name](r)
            t, c = time.perf_counter() - t0, cpu_seconds() - c0
            wall[name].append(images / t)
            per_cpu[name].append(images / c)
        print(f"round {r + 1}: " + ", ".join(f"{n} {wall[n][-1]:,.0f}/s" for n in names), flush=True)

    print(f"\nload after: {os.getloadavg()[0]:.1f}\n")
    print("| variant | images/s (wall) | images per CPU second |")
    print("| --- | ---: | ---: |")
    for n in names:
        print(f"| {n} | {fmt(wall[n])} | {fmt(per_cpu[n])} |")
    print("\n| ratio (per round) | wall clock | per CPU second | target |")
    print("| --- | ---: | ---: | --- |")
    for a, b, target in [("loader", "imagefolder", ">= 3 per core"), ("loader", "dataset", ""),
                         ("dataset", "imagefolder", ""), ("loader_nhwc", "cpp", ">= 0.9 (same layout)"),
                         ("loader", "cpp", "")]:
        rw = [x / y for x, y in zip(wall[a], wall[b])]
        rc = [x / y for x, y in zip(per_cpu[a], per_cpu[b])]
        print(f"| {a} / {b} | {fmt(rw, 2)} | {fmt(rc, 2)} | {target} |")


if __name__ == "__main__":
    main()
