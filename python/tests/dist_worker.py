"""One rank of test_distributed.py, run by torchrun: the Loader under torch.distributed (gloo).

Writes OUT/rank<R>.json: this rank's batches of one epoch, and of a run resumed after --resume-after
batches. With --other-pack, rank 1 opens that pack instead, and every rank must fail cleanly.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

import torch.distributed as dist

import imgpack
from imgpack.torch import Loader

p = argparse.ArgumentParser()
p.add_argument("--pack", required=True)
p.add_argument("--other-pack")
p.add_argument("--out", required=True)
p.add_argument("--resume-after", type=int, default=3)
args = p.parse_args()

# A short timeout: a rank left waiting for another fails instead of hanging the test.
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=30))
rank = dist.get_rank()
path = args.other_pack if args.other_pack and rank == 1 else args.pack


def make():
    return Loader(path, "train", batch_size=4, size=16, seed=5, threads=1)


def summary(loader):
    return [(b.indices.tolist(), b.valid, hashlib.sha1(b.images.numpy().tobytes()).hexdigest()) for b in loader]


try:
    loader = make()
except imgpack.Error as e:
    print(f"rank {rank} failed cleanly: {e}", file=sys.stderr, flush=True)
    sys.exit(3)
loader.set_epoch(1)
full = summary(loader)

first = make()
first.set_epoch(1)
for k, _ in enumerate(first):
    if k + 1 == args.resume_after:
        break
state = first.state_dict()
resumed = make()
resumed.load_state_dict(state)
rest = summary(resumed)

with open(os.path.join(args.out, f"rank{rank}.json"), "w") as f:
    json.dump({"rank": rank, "world_size": dist.get_world_size(), "len": len(loader), "loader_rank": loader.rank,
               "loader_world_size": loader.world_size, "full": full, "state": state, "rest": rest}, f)
dist.barrier()
dist.destroy_process_group()
