"""Helpers for scripts that re-evaluate the checkpoints of ``hsinr benchmark`` runs (``ensemble.py``,
``novelty_gate.py``, ``anchored_blend.py``, ``exposure_normalisation.py``): the run's task, a fitted chromaticity
gate, per-pixel maps, their command-line options and JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def run_task(run_dir: Path) -> Iterator:
    """The task of a benchmark run folder: its ``method_config.yaml`` with its ``split.json``, built in a scratch
    folder (the task may write there, e.g. synthetic ``extra_train`` scenes), so the run stays untouched."""
    from hsinr.config import load_config
    from hsinr.tasks import make_task

    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(run_dir / "split.json", Path(scratch) / "split.json")
        yield make_task(load_config(str(run_dir / "method_config.yaml")), Path(scratch))


def fitted_gate(task, threshold: float = 1.0, floor: float = 0.0):
    """A :class:`~hsinr.models.chromaticity_gate.ChromaticityGate` whose histogram is counted over the task's
    training images (what ``fit_prior`` counts when a model is trained with the gate)."""
    from hsinr.models.chromaticity_gate import ChromaticityGate

    gate = ChromaticityGate(threshold=threshold, floor=floor)
    for rgb, _ in task.train_pairs():
        gate.add(rgb)
    gate.finish()
    return gate


def per_pixel(function, rgb: np.ndarray) -> np.ndarray:
    """``function`` of an ``(N, 3, H, W)`` tensor applied to one ``(H, W, 3)`` image, returned as ``(H, W, K)``."""
    import torch

    with torch.no_grad():
        image = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].float()
        return function(image)[0].numpy().transpose(1, 2, 0)


def add_gate_setting(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A ``flag THRESHOLD FLOOR`` option: one setting of the chromaticity gate."""
    parser.add_argument(flag, nargs=2, type=float, metavar=("THRESHOLD", "FLOOR"), help=help)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The checkpoints to re-evaluate and ``--out``."""
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="JSON file for the results (default: print only)")


def write_json(path: Path | None, result: dict) -> None:
    """``result`` as indented JSON in ``path`` (its folder created); nothing when ``path`` is ``None``."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
