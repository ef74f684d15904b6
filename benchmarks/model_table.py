"""Size and cost of the RGB→HSI baselines (docs/models.md), and the colour-recovery quantisation error.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/model_table.py [--out benchmarks/results/model_table.json]``

Prints one Markdown row per model: parameters (``hsinr.complexity.count_parameters``) and multiply-accumulates per
output pixel for a 64×64 input (``hsinr.complexity.macs_per_pixel``). When ``../shared/data`` holds the CAVE
``balloons_256`` scene and the Nikon D700 response, it also recovers the scene with ``otsu2018`` at 6 bits and at
12 bits on a 64×64 crop and prints the difference (the quantisation error) and the PSNR of the 6-bit recovery of the
whole scene against the ground truth.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from hsinr.complexity import count_parameters, macs_per_pixel
from hsinr.models import make

LEARNED = ["cnn_fu2018", "unet_nie2018", "hscnn_r", "mscnn_yan2018", "prinet", "prinet_plus", "mst_plus_plus"]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def size_rows() -> list[dict]:
    rows = []
    for name in LEARNED:
        model = make({"name": name})
        rows.append({"model": name, "parameters": count_parameters(model), "macs_per_pixel": macs_per_pixel(model)})
    rng = np.random.default_rng(0)
    for name, args in [("linear_ls", {}), ("root_polynomial_ls", {"degree": 2}), ("root_polynomial_ls", {"degree": 3})]:
        model = make({"name": name, "args": args}).fit(rng.random((100, 3)), rng.random((100, 31)))
        label = name if not args else f"{name} (degree {args['degree']})"
        rows.append(
            {
                "model": label,
                "parameters": 0,
                "matrix_entries": model.matrix.numel(),
                "macs_per_pixel": macs_per_pixel(model),
            }
        )
    return rows


def per_band_psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean over bands of ``10 log10(1 / MSE_band)`` (peak 1)."""
    mse = ((estimate - truth) ** 2).reshape(-1, truth.shape[-1]).mean(axis=0)
    return float(np.mean(10 * np.log10(1.0 / mse)))


def colour_quantisation() -> dict | None:
    import scipy.io

    cube_path = SHARED / "cave" / "balloons_256.mat"
    srf_path = SHARED / "srf" / "nikon_d700_cave.mat"
    if not (cube_path.is_file() and srf_path.is_file()):
        return None
    cube = scipy.io.loadmat(cube_path)["Omsi"] / 65535.0
    srf = scipy.io.loadmat(srf_path)["P"]
    args = {"srf": srf.tolist(), "wavelengths": np.arange(400.0, 701.0, 10.0).tolist()}
    rgb = torch.tensor(cube @ srf.T, dtype=torch.float32).permute(2, 0, 1)[None]
    coarse = make({"name": "otsu2018", "args": {**args, "bits": 6}})
    start = time.perf_counter()
    whole = coarse(rgb)[0].permute(1, 2, 0).double().numpy()
    seconds = time.perf_counter() - start
    crop = rgb[..., 64:128, 64:128]
    fine = make({"name": "otsu2018", "args": {**args, "bits": 12}})(crop)
    difference = (coarse(crop) - fine).abs()
    return {
        "scene": "balloons_256 (CAVE, Nikon D700 response)",
        "codes_6bit_whole_scene": len(coarse._cache),
        "seconds_6bit_whole_scene": round(seconds, 2),
        "psnr_6bit_vs_truth_db": round(per_band_psnr(whole, cube), 2),
        "crop_mean_abs_difference_6_vs_12_bits": float(difference.mean()),
        "crop_relative_difference_6_vs_12_bits": float(difference.sum() / fine.abs().sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    options = parser.parse_args()
    torch.set_num_threads(1)
    rows = size_rows()
    print("| model | parameters | MACs / pixel (64×64 input) |")
    print("| --- | ---: | ---: |")
    for row in rows:
        print(f"| `{row['model']}` | {row['parameters']:,} | {row['macs_per_pixel']:,.0f} |")
    quantisation = colour_quantisation()
    if quantisation is not None:
        for key, value in quantisation.items():
            print(f"{key}: {value}")
    if options.out is not None:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps({"models": rows, "colour_quantisation": quantisation}, indent=2))


if __name__ == "__main__":
    main()
