"""imgpack (the module): packs, splits, subsets and records against the C++ CLI; zero copy; decode."""
import gc
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import imgpack
from conftest import ls_json, run_cli, runs_other_threads


@pytest.fixture(scope="module")
def pack(pack_path):
    return imgpack.open(pack_path)


def test_info_is_what_the_cli_says(pack, pack_path):
    cli = json.loads(run_cli("info", pack_path, "--json"))
    info = pack.info
    for key in cli:
        assert info[key] == cli[key], key
    assert info["id"] == pack.id and len(pack.id) == 32 and int(pack.id, 16) >= 0
    assert pack.splits == ["train", "validation", "test"]
    assert set(pack.subsets) == {"1pct", "10pct", "half"}
    assert pack.path == os.path.abspath(pack_path)
    assert len(pack.classes) == 6 and all(w.startswith("n") for w, _ in pack.classes)
    assert pack.find_class(pack.classes[3][0]) == 3 and pack.find_class("n99999999") is None
    assert info["provenance"] is None  # converted, not exported


def test_an_export_has_the_provenance_the_cli_shows(pack, pack_path, tmp_path):
    out = str(tmp_path / "shard.imgpack")
    run_cli("export", pack_path, "--split", "train=10pct", "--shard", "1/2", "-q", "-o", out)
    shard = imgpack.open(out)
    cli = json.loads(run_cli("info", out, "--json"))
    assert shard.info["provenance"] == cli["provenance"]
    assert shard.info["provenance"]["source_id"] == pack.id
    assert shard.info["provenance"]["shard"] == {"index": 1, "count": 2}
    assert shard.info["provenance"]["splits"] == [{"name": "train", "source_split": "train", "source_subset": "10pct"}]


@pytest.mark.parametrize("split,subset", [("train", None), ("validation", None), ("test", None),
                                          ("train", "10pct"), ("train", "half")])
def test_records_are_what_imgpack_ls_lists(pack, pack_path, split, subset):
    view = pack.subset(subset) if subset else pack[split]
    listed = ls_json(pack_path, split, subset)
    assert len(view) == len(listed) > 0
    for r, want in zip(view, listed):
        got = {"index": r.index, "name": r.name, "label": r.label, "wnid": r.wnid, "size": r.size,
               "width": r.width, "height": r.height, "xxh3": f"{r.xxh3:016x}", "flags": r.flags,
               "repaired": r.repaired}
        assert got == want
        assert r.split == split and len(r.data) == r.size and r.verify()
        if r.label >= 0:
            assert pack.classes[r.label][0] == r.wnid


def test_bytes_are_what_imgpack_cat_writes(pack, pack_path):
    for split in ("train", "validation", "test"):
        s = pack[split]
        for i in (0, len(s) // 2, len(s) - 1):
            r = s[i]
            assert bytes(r.data) == run_cli("cat", pack_path, "--split", split, "--index", i)
            assert bytes(r.data) == run_cli("cat", pack_path, "--split", split, "--name", r.name)


def test_sequences(pack):
    train = pack["train"]
    n = len(train)
    assert train[-1].index == n - 1 and train[-n].index == 0
    with pytest.raises(IndexError):
        train[n]
    with pytest.raises(IndexError):
        train[-n - 1]
    assert [r.index for r in train[3:9:2]] == [3, 5, 7]
    assert [r.index for r in train[::-1]] == list(range(n - 1, -1, -1))
    assert [r.index for r in train] == list(range(n))
    assert train.find(train[5].name).index == 5 and train.find("nope.JPEG") is None
    sub = pack.subset("half")
    assert sub.split.name == "train" and [r.index for r in sub] == sub.indices
    assert [r.index for r in sub[1:3]] == sub.indices[1:3] and sub[-1].index == sub.indices[-1]
    inside = train[sub.indices[0]].name
    outside = next(r.name for r in train if r.index not in set(sub.indices))
    assert sub.find(inside).index == sub.indices[0] and sub.find(outside) is None
    assert "train" in pack and "nope" not in pack


def test_errors_carry_the_cpp_message(tmp_path, pack):
    with pytest.raises(imgpack.Error, match="no-such.imgpack"):
        imgpack.open(tmp_path / "no-such.imgpack")
    bad = tmp_path / "bad.imgpack"
    bad.write_bytes(b"not a pack" * 100)
    with pytest.raises(imgpack.Error, match="bad.imgpack"):
        imgpack.open(bad)
    with pytest.raises(KeyError, match="no split 'nope'"):
        pack["nope"]
    with pytest.raises(imgpack.Error, match="nope"):
        pack.subset("nope")
    with pytest.raises(ValueError, match="transform"):
        pack["train"][0].decode(transform="sideways")


def mapping_of(path):
    """The address ranges of this process's mappings of `path`, from /proc/self/maps."""
    ranges = []
    for line in pathlib.Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == path:
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((lo, hi, int(fields[2], 16)))
    return ranges


def test_data_is_a_read_only_view_into_the_mapping(pack_path):
    pack = imgpack.open(pack_path)
    ranges = mapping_of(pack.path)
    assert ranges, "the pack is not mapped"
    for r in pack["validation"]:
        view = r.data
        assert view.readonly and view.format == "B" and view.nbytes == r.size
        address = np.frombuffer(view, dtype=np.uint8).ctypes.data
        # Inside the mapping, at the record's own offset in the file: no copy was made.
        assert any(lo <= address and address + r.size <= hi and address - lo + off == r.offset
                   for lo, hi, off in ranges)
        with pytest.raises(TypeError):
            view[0] = 0
        assert bytes(view) == bytes(memoryview(r))


def test_data_keeps_the_pack_mapped(pack_path):
    r = imgpack.open(pack_path)["train"][7]
    expected = bytes(r.data)
    view = r.data
    del r
    gc.collect()  # nothing else refers to the pack now but the memoryview
    assert mapping_of(os.path.abspath(pack_path))
    assert bytes(view) == expected
    del view
    gc.collect()


def pil_decode(data):
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))


def test_decode_is_pixel_identical_to_pil(pack):
    seen = set()
    for split in ("train", "validation", "test"):
        for r in pack[split]:
            pixels = r.decode()
            assert pixels.dtype == np.uint8 and pixels.shape == (r.height, r.width, 3)
            np.testing.assert_array_equal(pixels, pil_decode(r.data), err_msg=r.name)
            seen.add(Image.open(io.BytesIO(bytes(r.data))).mode)
    assert {"RGB", "L"} <= seen  # colour and grayscale JPEGs both checked


@pytest.mark.parametrize("transform", ["train", "eval"])
def test_transformed_decode_is_imgpack_decode(tmp_path, pack, pack_path, transform):
    for i in (0, 11, 30):
        r = pack["train"][i]
        out = tmp_path / f"{transform}{i}.ppm"
        run_cli("decode", pack_path, "--split", "train", "--index", i, "--transform", transform, "--size", 40, "--resize", 45,
                "--seed", 5, "--epoch", 2, "-o", out)
        np.testing.assert_array_equal(r.decode(transform, size=40, resize=45, seed=5, epoch=2),
                                      np.asarray(Image.open(out)))


def test_decode_releases_the_gil(pack):
    records = list(pack["validation"])
    # The probe can fail: copying the bytes holds the GIL throughout, and no other thread runs.
    assert not runs_other_threads(lambda: [bytes(r.data) for r in records])
    assert runs_other_threads(lambda: [r.decode() for r in records])
    assert runs_other_threads(lambda: [r.decode("train", size=32) for r in records])
    assert runs_other_threads(lambda: [r.example() for r in records])


def test_verify_sees_a_changed_byte(tmp_path, pack_path):
    copy = tmp_path / "copy.imgpack"
    shutil.copy(pack_path, copy)
    r = imgpack.open(copy)["train"][4]
    offset, size = r.offset, r.size
    del r
    with open(copy, "r+b") as f:  # a blob byte: open's metadata checks do not read the blobs
        f.seek(offset + size // 2)
        b = f.read(1)
        f.seek(offset + size // 2)
        f.write(bytes([b[0] ^ 0x40]))
    changed = imgpack.open(copy)["train"]
    assert not changed[4].verify() and changed[3].verify() and changed[5].verify()


def test_example_is_tfds_shaped(pack):
    r = pack["validation"][3]
    ex = r.example()
    assert set(ex) == {"image", "label", "file_name"}
    assert ex["file_name"] == r.name and ex["label"] == r.label and isinstance(ex["label"], int)
    np.testing.assert_array_equal(ex["image"], r.decode())
    assert pack["test"][0].example()["label"] == -1
    source = imgpack.Examples(pack["validation"])
    assert len(source) == len(pack["validation"]) and source[3]["file_name"] == r.name
    assert [e["file_name"] for e in source[1:3]] == [pack["validation"][i].name for i in (1, 2)]


def test_pickle_round_trips_by_path_identity_and_position(pack):
    import pickle
    for obj in (pack, pack["validation"], pack.subset("10pct"), pack["train"][9]):
        state = obj.__reduce__()
        assert pack.path in repr(state) and pack.id in repr(state)
        back = pickle.loads(pickle.dumps(obj))
        assert type(back) is type(obj)
    assert pickle.loads(pickle.dumps(pack)).id == pack.id
    assert [r.name for r in pickle.loads(pickle.dumps(pack.subset("10pct")))] == [r.name for r in pack.subset("10pct")]
    r = pickle.loads(pickle.dumps(pack["train"][9]))
    assert (r.index, r.name, bytes(r.data)) == (9, pack["train"][9].name, bytes(pack["train"][9].data))


UNPICKLE = "import pickle, sys, imgpack; v = pickle.loads(sys.stdin.buffer.read()); print(len(v), v[0].name)"


def test_unpickling_another_pack_at_the_path_fails_clearly(tmp_path, pack_path, other_pack_path):
    import pickle
    path = tmp_path / "moving.imgpack"
    shutil.copy(pack_path, path)
    pickled = pickle.dumps(imgpack.open(path)["train"])
    # Another process, the same file: reopens it.
    ok = subprocess.run([sys.executable, "-c", UNPICKLE], input=pickled, capture_output=True, timeout=60)
    assert ok.returncode == 0, ok.stderr.decode()
    # Another pack renamed over the path (as on a node that holds another one): a clear error.
    shutil.copy(other_pack_path, tmp_path / "tmp.imgpack")
    os.rename(tmp_path / "tmp.imgpack", path)
    bad = subprocess.run([sys.executable, "-c", UNPICKLE], input=pickled, capture_output=True, timeout=60)
    assert bad.returncode != 0
    err = bad.stderr.decode()
    assert "imgpack.Error" in err and str(path) in err and imgpack.open(path).id in err and "pickled" in err


def test_import_imgpack_needs_no_torch():
    code = "import sys, imgpack; imgpack.open; print('torch' in sys.modules, 'PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
