"""How many synthetic scenes per second :func:`hsinr.data.synthetic.generate_scene` makes, on one CPU core.

Usage::

    python benchmarks/synthetic_speed.py [OUT.json] [--count 20] [--size 256] [--bands 31] [--kinds natural remote]

Prints a table and writes JSON (default ``benchmarks/results/synthetic_speed.json``). The first scene of each kind
(loading the photos and spectral libraries, a one-off cost per process) is timed separately and left out of the
rate. Numerical libraries are limited to one thread unless ``OMP_NUM_THREADS`` etc. are already set. Wall-clock
scenes/s and scenes per CPU-second of this process are both reported: on a busy machine the second is the one to
compare.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from hsinr.cube import default_wavelengths  # noqa: E402
from hsinr.data.synthetic import GENERATOR_VERSION, generate_scene  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "synthetic_speed.json"


def measure(kind: str, count: int, size: int, bands: int) -> dict:
    """Time one warm-up scene, then ``count`` scenes of seeds 1..count, each with an sRGB rendering."""
    wavelengths = default_wavelengths(bands)
    start = time.perf_counter()
    generate_scene(size, wavelengths, seed=0, kind=kind, srf="srgb")
    first = time.perf_counter() - start
    start, start_cpu = time.perf_counter(), time.process_time()
    for seed in range(1, count + 1):
        generate_scene(size, wavelengths, seed=seed, kind=kind, srf="srgb")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return {
        "kind": kind,
        "size": size,
        "bands": bands,
        "scenes": count,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "scenes_per_second": count / elapsed,
        "scenes_per_cpu_second": count / cpu,
        "ms_per_scene": 1000.0 * elapsed / count,
        "first_scene_seconds": first,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="JSON file to write")
    parser.add_argument("--count", type=int, default=20, help="timed scenes per kind")
    parser.add_argument("--size", type=int, default=256, help="scene height = width in pixels")
    parser.add_argument("--bands", type=int, default=31, help="bands evenly spaced over 400-700 nm")
    parser.add_argument("--kinds", nargs="+", default=["natural", "remote"], choices=["natural", "remote"])
    args = parser.parse_args()

    rows = [measure(kind, args.count, args.size, args.bands) for kind in args.kinds]
    print(
        f"{'kind':<8} {'size':>5} {'bands':>5} {'scenes':>6} {'scenes/s':>9} {'scenes/cpu-s':>12} "
        f"{'ms/scene':>9} {'first (s)':>9}"
    )
    for row in rows:
        print(
            f"{row['kind']:<8} {row['size']:>5} {row['bands']:>5} {row['scenes']:>6} "
            f"{row['scenes_per_second']:>9.2f} {row['scenes_per_cpu_second']:>12.2f} {row['ms_per_scene']:>9.1f} "
            f"{row['first_scene_seconds']:>9.2f}"
        )
    result = {
        "benchmark": "synthetic_speed",
        "generator_version": GENERATOR_VERSION,
        "results": rows,
        "threads": {name: os.environ[name] for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "command": "python benchmarks/synthetic_speed.py "
        + " ".join([f"--count {args.count}", f"--size {args.size}", f"--bands {args.bands}", "--kinds", *args.kinds]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
