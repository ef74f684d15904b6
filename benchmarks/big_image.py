"""Peak memory and wall time of ``hsinr reconstruct`` on one large RGB image, streamed to an ``.h5`` cube.

Usage::

    python benchmarks/big_image.py [--size 4096] [--tile 256] [--preview] [--threads 1] [--work DIR] [--keep]
                                   [--config configs/inr_hsisr_efficient.yaml]
                                   [--out benchmarks/results/big_image.json]

Steps: write a smooth random ``size``×``size`` RGB image as a 16-bit PNG (:func:`hsinr.io.write_rgb`), save a randomly
initialised checkpoint of the model of ``--config`` (default the efficient configuration
``configs/inr_hsisr_efficient.yaml``; weights do not change time or memory; a closed-form prior is fitted to random
data) with :func:`hsinr.checkpoint.save_checkpoint`, then run::

    python -m hsinr.cli reconstruct IMAGE.png --model CKPT.pt -o CUBE.h5 --quiet --tile TILE [--preview PREVIEW.png]

under ``/usr/bin/time -v`` (peak RSS = "Maximum resident set size", wall = "Elapsed (wall clock) time"), or, where
that program is missing, as a child whose ``ru_maxrss`` is read with ``os.wait4``. The cube's shape is checked and a
corner of it compared with an in-memory reconstruction of the same crop. Results are printed and stored in ``--out``
under the key ``"<size>"`` (other sizes already in the file are kept). The work folder (default: a temporary one,
removed unless ``--keep``) needs about ``size² × 124`` bytes for the float32 31-band cube: 2.1 GB at 4096².
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from untrained_model import spec_of_config, untrained_model  # benchmarks/, beside this script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "big_image.json"
CONFIG = ROOT / "configs" / "inr_hsisr_efficient.yaml"
TIME_PROGRAM = Path("/usr/bin/time")
CHECK_CROP = 96


def smooth_rgb(size: int, seed: int = 0) -> np.ndarray:
    """``(size, size, 3)`` float32 in [0, 1]: per channel, three random low-frequency sinusoids (built row-wise
    separable so a 4096² image needs no float64 grids)."""
    rng = np.random.default_rng(seed)
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    image = np.empty((size, size, 3), dtype=np.float32)
    for channel in range(3):
        plane = np.full((size, size), 0.5, dtype=np.float32)
        for _ in range(3):
            fy, fx, phase = rng.uniform(0.5, 3), rng.uniform(0.5, 3), rng.uniform(0, 6)
            # sin(a + b) = sin a cos b + cos a sin b with a = 2π fy y + phase, b = 2π fx x
            a, b = 2 * np.pi * fy * axis + phase, 2 * np.pi * fx * axis
            plane += 0.15 * (np.outer(np.sin(a), np.cos(b)) + np.outer(np.cos(a), np.sin(b))).astype(np.float32)
        image[..., channel] = np.clip(plane, 0, 1)
    return image


def write_inputs(work: Path, size: int, config: Path = CONFIG) -> tuple[Path, Path, dict]:
    """The 16-bit PNG and a random checkpoint of ``config``'s model (a closed-form prior fitted to random data);
    returns their paths and the model spec."""
    import torch

    from hsinr.checkpoint import save_checkpoint
    from hsinr.cube import default_wavelengths
    from hsinr.io import write_rgb

    image = work / f"rgb_{size}.png"
    write_rgb(image, smooth_rgb(size), bits=16)
    spec = spec_of_config(config)
    torch.manual_seed(0)
    checkpoint = work / "model_random.pt"
    meta = {
        "wavelengths": default_wavelengths(31).tolist(),
        "srf": None,
        "response": None,
        "input": "linear RGB in [0, 1]",
    }
    model = untrained_model(spec)
    save_checkpoint(checkpoint, model, spec, meta)
    return image, checkpoint, spec


def run_measured(command: list[str], env: dict) -> dict:
    """Run ``command``; peak RSS (MiB) and wall time (s) from ``/usr/bin/time -v``, else from ``os.wait4``."""
    if TIME_PROGRAM.is_file():
        done = subprocess.run([str(TIME_PROGRAM), "-v", *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"reconstruct failed ({done.returncode}):\n{done.stderr[-3000:]}")
        peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
        clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
        wall = sum(float(part) * 60**power for power, part in enumerate(reversed(clock.split(":"))))
        user = float(re.search(r"User time \(seconds\): ([\d.]+)", done.stderr).group(1))
        system = float(re.search(r"System time \(seconds\): ([\d.]+)", done.stderr).group(1))
        return {"peak_rss_mb": peak_kib / 1024, "wall_s": wall, "cpu_s": user + system, "measured_with": "time -v"}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"reconstruct failed ({process.returncode}):\n{process.stderr.read().decode()[-3000:]}")
    peak = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 2**10
    return {"peak_rss_mb": peak, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "measured_with": "wait4"}


def check_cube(cube_path: Path, image: Path, checkpoint: Path, size: int) -> float:
    """Shape check, and ``max |streamed − direct|`` on the top-left ``CHECK_CROP``² pixels, the direct pass being
    one forward pass on a crop that extends ``receptive_radius`` pixels beyond them (their whole context)."""
    import h5py

    from hsinr.checkpoint import load_checkpoint
    from hsinr.infer import reconstruct
    from hsinr.io import read_rgb

    with h5py.File(cube_path, "r") as handle:
        cube = handle["cube"]
        if cube.shape != (size, size, 31):
            raise RuntimeError(f"{cube_path}: shape {cube.shape}, expected {(size, size, 31)}")
        corner = cube[:CHECK_CROP, :CHECK_CROP, :]
    model, _ = load_checkpoint(checkpoint)
    radius = model.receptive_radius()
    rgb = read_rgb(image)[: CHECK_CROP + radius, : CHECK_CROP + radius]
    direct = reconstruct(np.ascontiguousarray(rgb), model, tile=4096, progress=False)[:CHECK_CROP, :CHECK_CROP]
    return float(np.abs(direct - corner).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="image height = width in pixels")
    parser.add_argument("--tile", type=int, default=256, help="reconstruct --tile (core tile size)")
    parser.add_argument("--preview", action="store_true", help="also write the false-colour preview PNG")
    parser.add_argument("--config", type=Path, default=CONFIG, help="YAML whose model section is measured")
    parser.add_argument("--threads", type=int, default=1, help="OMP/torch threads of the reconstruct process")
    parser.add_argument("--work", type=Path, help="folder for the image, checkpoint and cube (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON file to update")
    options = parser.parse_args()

    work = options.work or Path(tempfile.mkdtemp(prefix="hsinr_big_image_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        image, checkpoint, spec = write_inputs(work, options.size, options.config)
        prepare_s = time.perf_counter() - start
        cube = work / f"cube_{options.size}.h5"
        command = [
            sys.executable,
            "-m",
            "hsinr.cli",
            "reconstruct",
            str(image),
            "--model",
            str(checkpoint),
            "-o",
            str(cube),
            "--quiet",
            "--tile",
            str(options.tile),
        ]
        if options.preview:
            command += ["--preview", str(work / f"preview_{options.size}.png")]
        env = {
            **os.environ,
            **{name: str(options.threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        }
        measured = run_measured(command, env)
        record = {
            "size": options.size,
            "tile": options.tile,
            "preview": options.preview,
            "threads": options.threads,
            "model": spec,
            **measured,
            "megapixels_per_s": options.size**2 / 1e6 / measured["wall_s"],
            "input_png_mb": image.stat().st_size / 2**20,
            "cube_h5_mb": cube.stat().st_size / 2**20,
            "rgb_float32_mb": options.size**2 * 3 * 4 / 2**20,
            "corner_max_abs_diff_vs_direct": check_cube(cube, image, checkpoint, options.size),
            "prepare_s": prepare_s,
            "load_average": os.getloadavg(),
            "command": " ".join(["hsinr", *command[3:]]),
        }
    finally:
        if options.work is None and not options.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"{options.size}x{options.size} (tile {options.tile}{', preview' if options.preview else ''}): "
        f"peak RSS {record['peak_rss_mb']:.0f} MiB, wall {record['wall_s']:.1f} s, CPU {record['cpu_s']:.1f} s, "
        f"{record['megapixels_per_s']:.3f} MP/s; cube {record['cube_h5_mb']:.0f} MiB; corner check "
        f"{record['corner_max_abs_diff_vs_direct']:.2g}"
    )
    results = json.loads(options.out.read_text()) if options.out.is_file() else {}
    key = f"{options.size}_tile{options.tile}" + ("_preview" if options.preview else "")
    if options.config != CONFIG:
        key = f"{options.config.stem}_{key}"
    results[key] = record
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {options.out} [{key}]")


if __name__ == "__main__":
    main()
