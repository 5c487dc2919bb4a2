"""Read a pack from Python: what it holds, one record, and one decoded training batch.

    PYTHONPATH=build/python /usr/bin/python3 examples/demo_read.py build/demo/imagenet.imgpack

`import imgpack` needs numpy only; the batch at the end needs PyTorch (imgpack.torch).
"""
import sys

import imgpack


def main(path):
    pack = imgpack.open(path)  # maps and validates the whole pack; imgpack.Error names the problem
    print(f"pack {pack.path}")
    print(f"  identity {pack.id} (as `imgpack info` prints it)")
    for split in pack.splits:
        print(f"  split {split}: {len(pack[split])} records")
    for name in pack.subsets:
        subset = pack.subset(name)
        print(f"  subset {name}: {len(subset)} records of {subset.split.name} ({subset.origin})")
    wnids = ", ".join(wnid for wnid, _ in pack.classes[:3])
    print(f"  {len(pack.classes)} classes: {wnids}, ...")

    split = pack["train"] if "train" in pack else pack[pack.splits[0]]
    r = split[0]
    pixels = r.decode()  # numpy uint8 (H, W, 3); r.data is the JPEG, a view into the mapping
    print(f"{split.name}[0]: {r.name}, label {r.label} ({r.wnid}), {len(r.data)} bytes, "
          f"decoded {pixels.shape} {pixels.dtype}")

    from imgpack.torch import Loader  # PyTorch from here on
    loader = Loader(pack, split.name, batch_size=min(8, len(split)), size=64, seed=0)
    images, labels = next(iter(loader))  # RandomResizedCrop(64) + flip, as torchvision's
    print(f"one batch from imgpack.torch.Loader ({loader.threads} threads, {len(loader)} batches an epoch): "
          f"images {tuple(images.shape)} {images.dtype}, labels {labels.tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} PACK")
    try:
        main(sys.argv[1])
    except imgpack.Error as e:
        sys.exit(str(e))
