"""Data-parallel training with ``torchrun`` on 2 CPU processes (gloo): ranks stay in sync, the result equals one
process on the same global batches, and ``--resume`` continues exactly.

Why the single-process comparison is exact up to rounding: the patches of an epoch depend only on (seed, epoch,
index), the epoch's batches are consecutive chunks of one seeded permutation, and rank ``r`` of ``K`` takes batches
``r, r + K, …``. A step of 2 ranks with batch ``B`` therefore sees batches ``2k`` and ``2k + 1``, which together are
exactly batch ``k`` of one process with batch ``2B``; DDP averages the two ranks' mean-L1 gradients, which is the
gradient of the mean L1 over all ``2B`` patches. Only the summation order differs (≈1e-7 relative).

The model uses ``norm="none"``: with a mean-subtracting normalisation the bias of the convolution before it has an
exactly zero gradient, and Adam turns the rounding noise of that zero into steps of size ~lr that differ between the
two summation orders (harmless: the bias cancels in the output, but it would make a weight comparison meaningless).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hsinr.checkpoint import read_checkpoint
from hsinr.config import load_config, save_config
from hsinr.cube import Cube, default_wavelengths
from hsinr.io import write_cube
from hsinr.models import make
from hsinr.train import train

TINY_MODEL = {
    "name": "inr_hsisr",
    "args": {
        "hyper_width": 16,
        "hyper_blocks": 1,
        "stem_width": 8,
        "mlp_width": 16,
        "mlp_hidden_layers": 2,
        "frequencies": 2,
        "norm": "none",
    },
}

# Runs hsinr.train.train under torchrun and saves this rank's final weights (the trainer keeps its model to itself,
# so the registry builder it calls is wrapped to keep a reference).
RANK_SCRIPT = """
import json, os, sys
import torch
import hsinr.train as training

config, run_dir, out_dir = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
built = []
build = training.make
training.make = lambda spec: built.append(build(spec)) or built[-1]
training.train(config, run_dir, progress=False)
torch.save(built[0].state_dict(), os.path.join(out_dir, f"rank{os.environ['RANK']}.pt"))
"""


def torchrun(args: list[str], cwd) -> None:
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 ARGS`` (free port chosen by torchrun)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        *args,
    ]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    """A folder of 4 smooth 32×32 cubes; 16 patches of 16×16 per epoch, batches of 4 (4 batches: 2 per rank)."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    wavelengths = default_wavelengths(31)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    for i in range(4):
        basis = np.stack([np.exp(-0.5 * ((wavelengths - c) / 60.0) ** 2) for c in (450, 550, 650)])
        weights = np.stack(
            [
                0.5 + 0.4 * np.sin(2 * np.pi * (f * xx + g * yy) + rng.uniform(0, 6))
                for f, g in ((1, 0), (0, 1), (1, 1))
            ],
            axis=-1,
        )
        write_cube(root / f"scene{i}.h5", Cube((weights @ basis * 0.6).astype(np.float32), wavelengths))
    cfg = load_config(
        None,
        [
            f"data.root={root}",
            "data.patch_size=16",
            "data.patches_per_epoch=16",
            "train.batch_size=4",
            "train.lr=3e-3",
            "train.val_tile=32",
            "train.epochs=2",
            "train.device=cpu",
        ],
    )
    cfg["model"] = json.loads(json.dumps(TINY_MODEL))
    return cfg


def weights(path) -> dict:
    return read_checkpoint(path)["state_dict"]


@pytest.fixture(scope="module")
def ddp_run(config, tmp_path_factory):
    """2 epochs on 2 ranks; each rank saves its final weights as ``rank<r>.pt``; rank 0 writes ``ddp/last.pt``."""
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "rank.py").write_text(RANK_SCRIPT)
    torchrun(["rank.py", "config.json", "ddp", "."], cwd=folder)
    return folder


def test_two_ranks_stay_identical_and_equal_one_process_on_the_same_global_batches(config, ddp_run, tmp_path):
    rank0, rank1 = torch.load(ddp_run / "rank0.pt"), torch.load(ddp_run / "rank1.pt")
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0)
        torch.testing.assert_close(weights(ddp_run / "ddp" / "last.pt")[key], rank0[key], rtol=0, atol=0)
    history = [json.loads(line) for line in (ddp_run / "ddp" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 4]  # 4 batches per epoch shared by 2 ranks: 2 steps each

    single = json.loads(json.dumps(config))
    single["train"]["batch_size"] = 8
    train(single, tmp_path / "single", progress=False)
    reference = weights(tmp_path / "single" / "last.pt")
    torch.manual_seed(int(config["seed"]))
    initial = make(TINY_MODEL).state_dict()  # the trainer's initial weights (same seed, same builder)
    moved = max(float((reference[k] - initial[k]).abs().max()) for k in reference)
    assert moved > 1e-3  # 4 Adam steps of lr 3e-3 really changed the weights...
    for key in reference:  # ...and 2 ranks × batch 4 changed them as 1 process × batch 8 (observed ≤ 1.2e-7)
        torch.testing.assert_close(rank0[key], reference[key], rtol=0, atol=1e-6)


def test_resume_under_ddp_continues_exactly(config, ddp_run, tmp_path):
    """1 epoch with the CLI under torchrun, then ``--resume`` to 2 epochs == the 2-epoch run, bit for bit."""
    save_config(config, tmp_path / "config.yaml")
    cli = ["-m", "hsinr.cli", "train", "config.yaml", "-o", "split", "--quiet"]
    torchrun([*cli, "--set", "train.epochs=1"], cwd=tmp_path)
    assert read_checkpoint(tmp_path / "split" / "last.pt")["training"]["epoch"] == 0
    torchrun([*cli, "--resume"], cwd=tmp_path)
    straight, resumed = weights(ddp_run / "ddp" / "last.pt"), weights(tmp_path / "split" / "last.pt")
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0)
    history = [json.loads(line) for line in (tmp_path / "split" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2] and history[-1]["step"] == 4
