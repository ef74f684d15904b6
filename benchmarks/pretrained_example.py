"""The reconstructed example of docs/pretrained.md: an 8-bit sRGB photo rendered from a held-out real CAVE scene,
reconstructed by the `srgb` recipe trained without that scene, beside root-polynomial least squares fitted on the
same training scenes.

    python benchmarks/pretrained_example.py runs/heldout_srgb --scene beads_256 -o docs/images

``runs/heldout_srgb`` is the output folder of
``hsinr benchmark configs/pretrained/heldout.yaml -o runs/heldout_srgb --set data.response=srgb
--set data.camera_encoding=srgb8`` (docs/pretrained.md). Writes ``pretrained_srgb_example.png`` (input photo,
spectra at four pixels) and prints the scene's PSNR / SAM for both methods.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hsinr.checkpoint import load_checkpoint
from hsinr.data.augment import QuantizeSRGB
from hsinr.infer import reconstruct
from hsinr.io import read_cube, write_rgb
from hsinr.metrics import evaluate_all
from hsinr.report import spectra_figure
from hsinr.spectral import render_rgb, resolve_response
from hsinr.spectral.encoding import srgb_encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark_dir", type=Path, help="output folder of the held-out srgb benchmark")
    parser.add_argument("--scene", default="beads_256", help="a test scene of the split")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/cave_256"))
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()

    runs = args.benchmark_dir / "runs"
    inr, meta = load_checkpoint(runs / "inr_hsisr_recipe_prior_plus_residual" / "best.pt")
    ls, _ = load_checkpoint(runs / "root_poly_ls_deg_2" / "best.pt")
    if args.scene not in meta["split"]["test"]:
        raise SystemExit(f"{args.scene} is not a test scene of this run: {meta['split']['test']}")
    cube = read_cube(args.data / f"{args.scene}.mat")
    srf = resolve_response("srgb", cube.wavelengths)
    photo, _ = QuantizeSRGB(8)(render_rgb(cube.data, srf.srf), cube.data, np.random.default_rng(0))
    predictions = {
        "INR-HSISR recipe (srgb)": reconstruct(photo, inr, progress=False),
        "root-poly LS": reconstruct(photo, ls, progress=False),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_rgb(args.out / "pretrained_srgb_example_input.png", srgb_encode(np.clip(photo, 0, 1)))
    spectra_figure(
        args.out / "pretrained_srgb_example.png",
        cube.data,
        predictions,
        cube.wavelengths,
        title=f"{args.scene}: 8-bit sRGB photo -> 31 bands (held-out scene)",
    )
    for name, pred in predictions.items():
        scores = evaluate_all(cube.data, pred)
        print(f"{name}: {scores['psnr']:.2f} dB PSNR, SAM {scores['sam']:.2f} deg")


if __name__ == "__main__":
    main()
