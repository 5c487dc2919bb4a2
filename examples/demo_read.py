"""Read a pack from Python: what it holds, one record, and one decoded training batch.

    PYTHONPATH=build/python /usr/bin/python3 examples/demo_read.py build/demo/imagenet.imgpack [BATCH.png]

`import imgpack` needs numpy only; the batch at the end needs PyTorch (imgpack.torch). With
BATCH.png, the batch is also saved as one picture to look at: its images in a 4-wide grid
(PIL writes it; torchvision brings PIL).
"""
import sys

import imgpack


def save_grid(images, path, columns=4):
    """Tiles an (N, 3, H, W) uint8 batch into one RGB picture, `columns` wide, 2-pixel gaps."""
    import numpy as np
    from PIL import Image
    n, _, h, w = images.shape
    rows = (n + columns - 1) // columns
    grid = np.full((rows * (h + 2) - 2, columns * (w + 2) - 2, 3), 255, np.uint8)
    for k, image in enumerate(images.numpy()):
        y, x = (k // columns) * (h + 2), (k % columns) * (w + 2)
        grid[y:y + h, x:x + w] = image.transpose(1, 2, 0)  # CHW -> HWC
    Image.fromarray(grid).save(path)
    return grid.shape


def main(path, grid_path=None):
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
    loader = Loader(pack, split.name, batch_size=min(16, len(split)), size=96, seed=0)
    images, labels = next(iter(loader))  # RandomResizedCrop(96) + flip, as torchvision's
    print(f"one batch from imgpack.torch.Loader ({loader.threads} threads, {len(loader)} batches an epoch): "
          f"images {tuple(images.shape)} {images.dtype}, labels {labels.tolist()}")
    if grid_path:
        h, w, _ = save_grid(images, grid_path)
        print(f"the batch as one picture: {grid_path} ({w}x{h})")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(f"usage: {sys.argv[0]} PACK [BATCH.png]")
    try:
        main(*sys.argv[1:])
    except imgpack.Error as e:
        sys.exit(str(e))
