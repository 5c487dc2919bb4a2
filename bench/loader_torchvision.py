#!/usr/bin/python3
"""The loader benchmark's baseline (d): PIL + torchvision 0.14's RandomResizedCrop(224) and
RandomHorizontalFlip on JPEGs held in memory, one thread. Reads the JPEGs from BLOB (their bytes
back to back) and INDEX (one 'offset size' line each), then for each line 'run' on stdin times
one pass over all of them and prints the seconds, wall-clock and the thread's CPU time; exits at end of input."""
import io
import sys
import time

import torch
from PIL import Image
import torchvision.transforms as T


def main(blob_path, index_path):
    torch.set_num_threads(1)
    with open(blob_path, "rb") as f:
        blob = f.read()
    images = []
    with open(index_path) as f:
        for line in f:
            offset, size = map(int, line.split())
            images.append(blob[offset:offset + size])
    transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip()])
    torch.manual_seed(0)
    print("ready", flush=True)
    for command in sys.stdin:
        if command.strip() != "run":
            break
        start, cpu = time.perf_counter(), time.thread_time()
        for data in images:
            img = Image.open(io.BytesIO(data)).convert("RGB")
            transform(img)
        print(time.perf_counter() - start, time.thread_time() - cpu, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
