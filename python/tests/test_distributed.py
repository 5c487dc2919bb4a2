"""imgpack.torch.Loader under torchrun: 2 processes on CPU (gloo)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def torchrun(*args, timeout=240):
    """torchrun --standalone with 2 processes (imgpack.torchrun: Debian 12's torchrun needs its fix); a run
    that hangs fails the test at `timeout`."""
    cmd = [sys.executable, "-m", "imgpack.torchrun", "--standalone", "--nnodes", "1", "--nproc_per_node", "2",
           *map(str, args)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_two_ranks_share_one_epoch_and_resume(tmp_path, pack_path):
    done = torchrun(HERE / "dist_worker.py", "--pack", pack_path, "--out", tmp_path, "--resume-after", 3)
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for r, got in enumerate(ranks):  # rank and world size came from torch.distributed
        assert (got["rank"], got["world_size"], got["loader_rank"], got["loader_world_size"]) == (r, 2, r, 2)
    assert ranks[0]["len"] == ranks[1]["len"] == len(ranks[0]["full"]) == len(ranks[1]["full"])
    shares = [[i for idx, valid, _ in got["full"] for i in idx[:valid]] for got in ranks]
    assert not set(shares[0]) & set(shares[1])
    import imgpack
    assert sorted(shares[0] + shares[1]) == list(range(len(imgpack.open(pack_path)["train"])))
    for got in ranks:  # resumed after 3 batches: the same remaining batches, pixels included
        assert got["state"]["batches_done"] == 3 and got["state"]["epoch"] == 1
        assert got["rest"] == got["full"][3:]


def test_a_rank_with_another_pack_fails_cleanly(tmp_path, pack_path, other_pack_path):
    done = torchrun(HERE / "dist_worker.py", "--pack", pack_path, "--other-pack", other_pack_path, "--out", tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    import imgpack
    ids = imgpack.open(pack_path).id, imgpack.open(other_pack_path).id
    for rank in (0, 1):  # every rank says why, naming both packs; none waits for the other
        assert f"rank {rank} failed cleanly: imgpack: the ranks hold different packs" in out, out
    assert ids[0] in out and ids[1] in out and "rank 1: " + ids[1] in out
    assert not list(tmp_path.glob("rank*.json"))


def test_the_example_trains_under_torchrun(tmp_path, cli):
    done = torchrun(ROOT / "examples" / "train_torchrun.py", "--make-pack", "--cli", cli,
                    "--pack", tmp_path / "shapes.imgpack", "--steps", 240)
    assert done.returncode == 0, done.stdout + done.stderr
    losses = [float(line.split()[3]) for line in done.stdout.splitlines() if line.startswith("step ")]
    assert len(losses) >= 8, done.stdout
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.5 * first, done.stdout  # it learned: the loss fell by more than half
