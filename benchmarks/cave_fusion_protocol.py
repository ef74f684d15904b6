"""The CAVE ×4 fusion protocol of the fusion benchmark scripts: their arguments, the seeded split, simulated pairs.

The split is ``configs/fusion_cave_bench.yaml``'s (``make_split(ratios=(0.6, 0.2, 0.2), seed=0)`` over the scenes
of ``--root``); each scene's (LR-HSI, HR-MSI) pair is simulated with the protocol
(:func:`hsinr.spectral.degradation.simulate_pair`: Gaussian blur and decimation by ``--scale``, the HR-MSI rendered
with ``--response``, the Nikon D700 by default).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def argument_parser(description: str, default_out: Path) -> argparse.ArgumentParser:
    """``--root`` (CAVE scenes), ``--response``, ``--scale`` and ``--out`` (JSON), with the protocol's defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "cave_256"))
    parser.add_argument("--response", default=str(ROOT.parent / "shared" / "data" / "srf" / "nikon_d700_cave.mat"))
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--out", default=str(default_out))
    return parser


def seeded_split(args: argparse.Namespace) -> dict[str, list[str]]:
    """The seeded 60/20/20 split of the scenes under ``args.root``: ``{"train", "val", "test": [names]}``."""
    from hsinr.data import discover
    from hsinr.data.split import make_split

    return make_split(sorted(item.name for item in discover("cave", args.root)), (0.6, 0.2, 0.2), seed=0)


def simulated_pairs(
    args: argparse.Namespace, names: list[str], dtype: type = np.float32
) -> Iterator[tuple[str, tuple[np.ndarray, np.ndarray], np.ndarray]]:
    """``(name, (lr (h, w, C), msi (H, W, M)), cube (H, W, C))`` for each scene of ``names``, read one at a time."""
    from hsinr.data import discover
    from hsinr.io import read_cube
    from hsinr.spectral import load_response
    from hsinr.spectral.degradation import simulate_pair

    items = {item.name: item for item in discover("cave", args.root)}
    srf = load_response(args.response).srf
    for name in names:
        cube = read_cube(items[name].cube_path).data.astype(dtype)
        yield name, simulate_pair(cube, srf, args.scale), cube
