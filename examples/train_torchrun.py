"""Train a small CNN on a pack with imgpack.torch.Loader, on one process or many under torchrun.

    # a synthetic pack of 4 learnable classes (stripes and checks), made with PIL and imgpack convert:
    torchrun --standalone --nproc_per_node 2 examples/train_torchrun.py --make-pack --pack /tmp/shapes.imgpack
    # any pack, e.g. ImageNet (size 224, more steps, a real model):
    torchrun --nproc_per_node 8 examples/train_torchrun.py --pack imagenet.imgpack --size 224 --steps 100000

Each rank reads its own share of every epoch (the Loader takes rank and world size from
torch.distributed and checks that every rank holds the same pack); DistributedDataParallel
averages the gradients. Rank 0 prints the mean loss of every --print-every steps.
"""
import argparse
import datetime
import os
import pathlib
import random
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.nn as nn

import imgpack
from imgpack.torch import Loader


def make_pack(path, cli, per_class=48, seed=0):
    """Four classes a small CNN learns in a few hundred steps, as JPEGs of 48-80 px at quality 90:
    horizontal stripes, vertical stripes, checks, and plain noise, in random colours."""
    from PIL import Image
    import numpy as np
    rng = np.random.default_rng(seed)
    train = pathlib.Path(str(path) + ".train")
    for label in range(4):
        wnid = f"n{label + 1:08d}"
        (train / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = rng.integers(48, 81, size=2)
            period = int(rng.integers(4, 9))
            y, x = np.mgrid[0:h, 0:w]
            pattern = [(y // period) % 2, (x // period) % 2, ((y // period) + (x // period)) % 2,
                       np.zeros((h, w), dtype=np.int64)][label]
            a, b = rng.integers(0, 256, size=(2, 3))
            pixels = np.where(pattern[..., None] == 1, a, b) + rng.normal(0, 12, size=(h, w, 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                train / wnid / f"{wnid}_{i}.JPEG", quality=90)
    subprocess.run([cli, "convert", "--train", str(train), "-o", str(path), "-q", "-f"], check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pack", required=True)
    p.add_argument("--make-pack", action="store_true", help="make the synthetic pack at --pack first")
    p.add_argument("--cli", default="build/imgpack", help="the imgpack command (for --make-pack)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16, help="per rank")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--print-every", type=int, default=20)
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:  # torchrun sets RANK, WORLD_SIZE, MASTER_ADDR/PORT
        dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank = dist.get_rank() if distributed else 0
    torch.manual_seed(0)
    random.seed(0)
    torch.set_num_threads(1)

    if args.make_pack and rank == 0:
        make_pack(args.pack, args.cli)
    if distributed:
        dist.barrier()

    loader = Loader(args.pack, "train", batch_size=args.batch_size, size=args.size, seed=1, threads=1)
    classes = len(loader.pack.classes)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255

    step, epoch, window = 0, 0, []
    while step < args.steps:
        loader.set_epoch(epoch)  # a new order and new crops each epoch, the same on every rank
        for images, labels in loader:  # uint8 (B, 3, size, size): the loader's buffer, no copy
            x = (images.float() - mean) / std
            loss = nn.functional.cross_entropy(model(x), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            window.append(loss.item())
            if step % args.print_every == 0 and rank == 0:
                print(f"step {step} loss {sum(window) / len(window):.4f} (epoch {epoch}, "
                      f"{len(loader)} batches per rank per epoch)", flush=True)
                window = []
            if step == args.steps:
                break
        epoch += 1
    if rank == 0:
        print(f"done: {step} steps, resume point {loader.state_dict()}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
