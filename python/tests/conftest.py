"""Shared fixtures: the build tree's module and CLI, and small packs made by the CLI."""
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("IMGPACK_BUILD_DIR", ROOT / "build"))
CLI = pathlib.Path(os.environ.get("IMGPACK_CLI", BUILD / "imgpack"))
PYTHONPATH = str(BUILD / "python")
# The tests run the module from the build tree unless an installed one is asked for.
if os.environ.get("IMGPACK_TEST_INSTALLED") != "1" and PYTHONPATH not in sys.path:
    sys.path.insert(0, PYTHONPATH)
    os.environ["PYTHONPATH"] = PYTHONPATH + os.pathsep + os.environ.get("PYTHONPATH", "")


def run_cli(*args, **kw):
    return subprocess.run([str(CLI), *map(str, args)], check=True, capture_output=True, **kw).stdout


def ls_json(pack, split, subset=None):
    args = ["ls", pack, "--split", split, "--json"] + (["--subset", subset] if subset else [])
    return [json.loads(line) for line in run_cli(*args).decode().splitlines()]


def make_synth_pack(directory, seed=3, classes=6, per_class=12, val=24, test=8):
    """A pack made the way the demo makes one: synthetic tarballs (with a CMYK and a PNG quirk
    in train, grayscale and progressive JPEGs), converted with both SimCLR subsets."""
    d = pathlib.Path(directory)
    run_cli("synth", d, "--classes", classes, "--per-class", per_class, "--val", val, "--test", test,
            "--seed", seed)
    out = d / "pack.imgpack"
    run_cli("convert", "--train", d / "ILSVRC2012_img_train.tar", "--val", d / "ILSVRC2012_img_val.tar",
            "--val-labels", d / "imagenet2012_validation_labels.txt", "--test", d / "ILSVRC2012_img_test.tar",
            "--subset", f"1pct={d / '1percent.txt'}", "--subset", f"10pct={d / '10percent.txt'}",
            "--subset", "half=0.5", "-o", out, "-q")
    return str(out)


def runs_other_threads(call, attempts=200):
    """Whether another Python thread runs while `call()` runs in this one, i.e. whether call()
    releases the GIL. The interpreter's forced switch is put off (switch interval 1000 s), so the
    ticker thread gets the GIL only when this thread gives it up of its own accord: a tick between
    before and after call() is proof. A short call may end before the ticker is scheduled, so it
    is repeated until a tick lands (or `attempts` run out: False). No timing is asserted."""
    state = {"ticks": 0, "stop": False}

    def ticker():
        while not state["stop"]:
            state["ticks"] += 1
            time.sleep(0.0002)  # hands the GIL back for long enough that the caller takes it

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000)  # before the ticker starts: every wait for the GIL uses it
    thread = threading.Thread(target=ticker, daemon=True)
    try:
        thread.start()
        for _ in range(attempts):
            before = state["ticks"]
            call()
            if state["ticks"] != before:
                return True
        return False
    finally:
        state["stop"] = True
        sys.setswitchinterval(interval)
        thread.join()


@pytest.fixture(scope="session")
def cli():
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: run ./dev build first")
    return str(CLI)


@pytest.fixture(scope="session")
def pack_path(tmp_path_factory, cli):
    return make_synth_pack(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="session")
def other_pack_path(tmp_path_factory, cli):
    """Another pack (another seed): the same shape, another identity."""
    return make_synth_pack(tmp_path_factory.mktemp("other"), seed=4)
