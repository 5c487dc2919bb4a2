"""imgpack.torch: ImageNetDataset in DataLoader workers (fork, spawn), and the C++ Loader."""
import pickle

import numpy as np
import pytest
import torch
import torchvision.transforms as T
from torch.utils.data import DataLoader, DistributedSampler

import imgpack
from imgpack.torch import ImageNetDataset, Loader

from conftest import runs_other_threads


@pytest.fixture(scope="module")
def pack(pack_path):
    return imgpack.open(pack_path)


def collate_records(records):
    """Records cross the worker boundary pickled as (path, identity, split, index)."""
    return [(r.name, r.label, bytes(r.data)) for r in records]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_split_is_a_data_source_for_dataloader_workers(pack, context):
    view = pack["validation"]
    loader = DataLoader(view, batch_size=5, num_workers=2, multiprocessing_context=context,
                        collate_fn=collate_records)
    got = [item for batch in loader for item in batch]
    assert got == [(r.name, r.label, bytes(r.data)) for r in view]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataset_with_torchvision_transforms_in_workers(pack_path, pack, context):
    transform = T.Compose([T.RandomResizedCrop(24), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = ImageNetDataset(pack_path, "train", subset="half", transform=transform)
    loader = DataLoader(ds, batch_size=8, num_workers=2, multiprocessing_context=context, shuffle=False)
    images, labels = [], []
    for x, y in loader:
        images.append(x)
        labels.append(y)
    assert torch.cat(images).shape == (len(ds), 3, 24, 24) and torch.cat(images).dtype == torch.float32
    assert torch.cat(labels).tolist() == [r.label for r in pack.subset("half")]


def test_dataset_gives_pil_images_with_the_pixels_of_decode(pack):
    ds = ImageNetDataset(pack, "validation")
    img, label = ds[2]
    r = pack["validation"][2]
    assert img.mode == "RGB" and img.size == (r.width, r.height) and label == r.label
    np.testing.assert_array_equal(np.asarray(img), r.decode())
    assert ImageNetDataset(pack, "test", image="numpy")[0][1] == -1
    t, _ = ImageNetDataset(pack, "validation", image="tensor")[2]
    assert t.shape == (3, r.height, r.width) and torch.equal(t.permute(1, 2, 0), torch.from_numpy(r.decode()))
    back = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(np.asarray(back[2][0]), np.asarray(img))
    with pytest.raises(imgpack.Error, match="subset 'half' is a subset of split 'train', not of 'validation'"):
        ImageNetDataset(pack, "validation", subset="half")


def test_dataset_with_distributed_sampler(pack):
    ds = ImageNetDataset(pack, "train", image="numpy")
    seen = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=True, seed=1)
        sampler.set_epoch(2)
        seen.append(list(sampler))
        assert len(seen[-1]) == len(sampler)
    everything = [i for share in seen for i in share]
    assert set(everything) == set(range(len(ds)))  # padded to a multiple of 3, covering all
    assert ds[seen[1][0]][1] == pack["train"][seen[1][0]].label


def batches(loader):
    """(indices, labels, images copy, valid) of each batch of one pass."""
    return [(b.indices.tolist(), b.labels.tolist(), b.images.clone(), b.valid) for b in loader]


def test_loader_batches_are_the_records_decoded(pack):
    loader = Loader(pack, "train", batch_size=8, size=32, seed=11, threads=2)
    loader.set_epoch(3)
    split = pack["train"]
    n = 0
    for b in loader:
        images, labels = b
        assert images.dtype == torch.uint8 and images.shape == (8, 3, 32, 32)
        assert labels.dtype == torch.int64 and b.epoch == 3 and b.number == n
        for k, i in enumerate(b.indices.tolist()):
            r = split[i]
            assert labels[k] == r.label
            want = r.decode("train", size=32, seed=11, epoch=3)
            assert torch.equal(images[k].permute(1, 2, 0), torch.from_numpy(want))
        n += 1
    assert n == len(loader) == -(-len(split) // 8)  # padded: every record, whole batches


def test_loader_nhwc_eval_and_subset(pack):
    loader = Loader(pack, subset="10pct", batch_size=2, train=False, size=20, layout="NHWC", threads=1)
    got = batches(loader)
    sub = pack.subset("10pct")
    order = [i for idx, _, _, valid in got for i in idx[:valid]]
    assert order == sub.indices  # eval: in order, every record once
    images = got[0][2]
    assert images.shape == (2, 20, 20, 3)
    want = pack["train"][got[0][0][0]].decode("eval", size=20, resize=20 * 8 // 7)
    assert torch.equal(images[0], torch.from_numpy(want))


def test_loader_epoch_order(pack):
    loader = Loader(pack, "train", batch_size=7, size=16, seed=1, threads=2)
    first = batches(loader)
    again = batches(loader)
    assert [b[0] for b in first] == [b[0] for b in again]  # same epoch, same batches
    assert all(torch.equal(a[2], b[2]) for a, b in zip(first, again))
    n = len(pack["train"])
    real = [i for idx, _, _, valid in first for i in idx[:valid]]
    assert sorted(real) == list(range(n)) and real != list(range(n))  # a permutation, shuffled
    loader.set_epoch(1)
    other = batches(loader)
    assert [b[0] for b in other] != [b[0] for b in first]
    dropped = Loader(pack, "train", batch_size=7, size=16, seed=1, threads=2, drop_last=True)
    assert len(dropped) == n // 7 and all(b.valid == 7 for b in dropped)


def test_loader_does_not_depend_on_threads(pack):
    one = batches(Loader(pack, "validation", batch_size=5, size=24, seed=4, threads=1))
    three = batches(Loader(pack, "validation", batch_size=5, size=24, seed=4, threads=3))
    assert [b[0] for b in one] == [b[0] for b in three]
    assert all(torch.equal(a[2], b[2]) for a, b in zip(one, three))


def test_loader_tensors_wrap_its_buffers_and_hold_them(pack):
    loader = Loader(pack, "train", batch_size=4, size=16, threads=2, buffers=3)
    it = iter(loader)
    kept = next(it)
    kept_copy = kept.images.clone()
    addresses = {kept.images.data_ptr()}
    for b in it:  # released at once: the ring's other two buffers take turns
        addresses.add(b.images.data_ptr())
        assert b.images.data_ptr() != kept.images.data_ptr()
    assert len(addresses) == 3  # no copy: the batches live in the loader's 3 buffers only
    assert torch.equal(kept.images, kept_copy)  # the batch held was never written again

    # Holding every buffer: a clear error, not a hang.
    del kept, b, it
    held = []
    with pytest.raises(imgpack.LoaderError, match="buffers=5"):
        for b in loader:
            held.append(b)
    assert len(held) == 3


def test_loader_resume_gives_the_remaining_batches(pack):
    full = Loader(pack, "train", batch_size=6, size=16, seed=9, threads=2)
    full.set_epoch(2)
    uninterrupted = batches(full)
    first = Loader(pack, "train", batch_size=6, size=16, seed=9, threads=2)
    first.set_epoch(2)
    for k, b in enumerate(first):
        if k == 4:
            break
    state = first.state_dict()
    assert state["epoch"] == 2 and state["batches_done"] == 5
    resumed = Loader(pack, "train", batch_size=6, size=16, seed=9, threads=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # a training loop's set_epoch of the same epoch keeps the position
    rest = batches(resumed)
    assert [b[0] for b in rest] == [b[0] for b in uninterrupted[5:]]
    assert all(torch.equal(a[2], b[2]) for a, b in zip(rest, uninterrupted[5:]))
    assert resumed.state_dict()["batches_done"] == len(resumed)
    with pytest.raises(ValueError, match="seed"):
        Loader(pack, "train", batch_size=6, size=16, seed=8).load_state_dict(state)


def test_loader_ranks_partition_the_epoch(pack):
    shares = []
    for rank in range(3):
        loader = Loader(pack, "train", batch_size=4, size=16, seed=2, rank=rank, world_size=3, threads=1)
        loader.set_epoch(1)
        shares.append(batches(loader))
    assert len({len(s) for s in shares}) == 1
    real = [i for s in shares for idx, _, _, valid in s for i in idx[:valid]]
    assert sorted(real) == list(range(len(pack["train"])))


def test_loader_waits_release_the_gil(pack):
    # The decoding is the loader's threads'; this thread only waits for batches, without the GIL.
    # Probed on the module's own loader: torch.from_numpy in Loader.__iter__ lets other threads
    # run by itself, so a probe of the whole loop would pass even if the waits held the GIL.
    loader = Loader(pack, "train", batch_size=8, size=32, threads=1)._loader

    def epoch():
        loader.start_epoch(0, 0)
        while loader.next() is not None:
            pass

    assert runs_other_threads(epoch, attempts=50)


def test_a_loader_in_a_forked_child_raises(pack):
    import multiprocessing
    loader = Loader(pack, "validation", batch_size=4, size=16, threads=1)

    def child(queue):
        try:
            next(iter(loader))
            queue.put("no error")
        except imgpack.LoaderError as e:
            queue.put(str(e))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=child, args=(queue,))
    p.start()
    message = queue.get(timeout=60)
    p.join(timeout=60)
    assert "made in another process" in message
    assert next(iter(loader)).images.shape == (4, 3, 16, 16)  # the parent's still works


def test_the_demo_reads_a_pack(pack_path, pack, tmp_path):
    import pathlib
    import subprocess
    import sys
    demo = pathlib.Path(__file__).resolve().parents[2] / "examples" / "demo_read.py"
    grid = tmp_path / "batch.png"
    out = subprocess.run([sys.executable, str(demo), pack_path, str(grid)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert f"identity {pack.id}" in out
    for split in pack.splits:
        assert f"split {split}: {len(pack[split])} records" in out
    assert f"subset 10pct: {len(pack.subset('10pct'))} records of train" in out
    r = pack["train"][0]
    assert f"train[0]: {r.name}, label {r.label} ({r.wnid}), {r.size} bytes, decoded ({r.height}, {r.width}, 3)" in out
    assert "images (16, 3, 96, 96) torch.uint8" in out
    # The picture holds the batch the loader gives for the same seed: 4 x 4 tiles, 2-pixel gaps.
    from PIL import Image
    from imgpack.torch import Loader
    picture = np.asarray(Image.open(grid))
    assert picture.shape == (4 * 98 - 2, 4 * 98 - 2, 3)
    first = next(iter(Loader(pack, "train", batch_size=16, size=96, seed=0))).images
    for k in (0, 5, 15):
        y, x = (k // 4) * 98, (k % 4) * 98
        assert np.array_equal(picture[y:y + 96, x:x + 96], first[k].numpy().transpose(1, 2, 0))
    bad = subprocess.run([sys.executable, str(demo), pack_path + ".missing"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and pack_path + ".missing" in bad.stderr
