"""Cost of exact halo tiling for the recipe model: tiled reconstruction against plain forward passes, in one run.

Usage::

    python benchmarks/tiling_speed.py [--size 2048] [--tiles 256 512 1024] [--threads 2] [--repeats 1]
                                      [--config configs/inr_hsisr_cave.yaml] [--out FILE.json]

The model is the ``model`` section of ``--config`` (default: the recipe, root-polynomial prior + efficient INR-HSISR
residual, receptive radius 152 px), randomly initialised (weights change neither time nor memory). On one smooth
random ``size``×``size`` RGB image it measures, with ``--threads`` threads, the median over ``--repeats`` of:

* ``plain``: forward passes over the same pixels without any context, i.e. the image cut into non-overlapping
  ``tile``×``tile`` pieces, each passed through the model once (what the model costs per pixel);
* ``exact``: :func:`hsinr.infer.reconstruct` with ``tile`` — every core computed from its window grown by the
  receptive radius, the model asked for the core's output only (``core_output``: the halo feeds the hypernetwork's
  trunk, but its head and pixel-wise MLPs are skipped);
* ``exact_full_window``: the same tiling when the whole window's output is computed and cropped (what the tiler
  did before ``core_output``), to show what skipping the halo's output saves.

It reports wall and process-CPU seconds and the ratios ``exact / plain`` per tile size, checks that a corner of the
exact result equals a whole-window pass, and writes JSON to ``--out``. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from untrained_model import spec_of_config, untrained_model  # benchmarks/, beside this script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "tiling_speed.json"


def smooth_rgb(size: int, seed: int = 0) -> np.ndarray:
    """``(size, size, 3)`` float32 in [0, 1]: a few random low-frequency sinusoids per channel."""
    rng = np.random.default_rng(seed)
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    image = np.full((size, size, 3), 0.5, dtype=np.float32)
    for channel in range(3):
        for _ in range(3):
            fy, fx, phase = rng.uniform(0.5, 3), rng.uniform(0.5, 3), rng.uniform(0, 6)
            image[..., channel] += 0.15 * np.sin(2 * np.pi * (fy * axis[:, None] + fx * axis[None, :]) + phase)
    return np.clip(image, 0, 1)


def timed(function, repeats: int) -> dict:
    """Median wall and CPU seconds of ``repeats`` calls of ``function()``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3)}


class _FullWindow:
    """The model without ``core_output``: the tiler computes whole windows and crops them."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name == "core_output":
            return False
        return getattr(self.model, name)

    def __call__(self, *args, **kwargs):
        return self.model(*args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image height = width in pixels")
    parser.add_argument("--tiles", type=int, nargs="+", default=[256, 512, 1024], help="core tile sizes")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=1, help="timed repetitions (median)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "inr_hsisr_cave.yaml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    args = parser.parse_args()

    import torch

    from hsinr.infer import reconstruct
    from hsinr.models.contract import receptive_radius

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = untrained_model(spec_of_config(args.config)).eval()
    rgb = smooth_rgb(args.size)
    radius = receptive_radius(model)

    def plain(tile: int) -> None:
        with torch.no_grad():
            for y in range(0, args.size, tile):
                for x in range(0, args.size, tile):
                    piece = torch.from_numpy(np.ascontiguousarray(rgb[y : y + tile, x : x + tile].transpose(2, 0, 1)))
                    model(piece[None])

    reconstruct(rgb[:256, :256], model, tile=256, progress=False)  # warm-up
    rows = []
    for tile in args.tiles:
        row: dict = {"tile": tile, "plain": timed(lambda t=tile: plain(t), args.repeats)}
        row["exact"] = timed(lambda t=tile: reconstruct(rgb, model, tile=t, progress=False), args.repeats)
        row["exact_full_window"] = timed(
            lambda t=tile: reconstruct(rgb, _FullWindow(model), tile=t, progress=False), args.repeats
        )
        for key in ("exact", "exact_full_window"):
            row[f"{key}_over_plain_cpu"] = round(row[key]["cpu_s"] / row["plain"]["cpu_s"], 3)
            row[f"{key}_over_plain_wall"] = round(row[key]["wall_s"] / row["plain"]["wall_s"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)

    crop = min(args.size, 2 * radius + 64)  # the corner's output depends only on this window
    corner = reconstruct(rgb[:crop, :crop], model, tile=min(args.tiles), progress=False)[:64, :64]
    with torch.no_grad():
        direct = model(torch.from_numpy(np.ascontiguousarray(rgb[:crop, :crop].transpose(2, 0, 1)))[None])
    error = float(np.abs(corner - direct[0, :, :64, :64].permute(1, 2, 0).numpy()).max())

    result = {
        "command": "python benchmarks/tiling_speed.py " + " ".join(sys.argv[1:]),
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "size": args.size,
        "receptive_radius": radius,
        "threads": args.threads,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}",
        "corner_max_abs_diff_vs_window_pass": error,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}; corner max |tiled - direct| = {error:.2e}")


if __name__ == "__main__":
    main()
