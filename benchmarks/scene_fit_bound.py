"""How much of least squares' error could a pixel-wise map remove if it knew the scene?

Usage::

    python benchmarks/scene_fit_bound.py [--config configs/recipe_seeds.yaml] [--out FILE.json]

On the test scenes of the config's split (Table I's by default: the 26 CAVE scenes, seeded 60/20/20, Nikon D700),
root-polynomial least squares (degrees 1–3, :mod:`hsinr.models.least_squares`) is fitted twice: on the training
scenes, as in Table I, and on each test scene *itself* (an oracle: it sees the answer). The gap between the two is
the error that is specific to a scene (its materials' metamerism, its illuminant): a model that inferred the scene
from the RGB image alone could remove it, a map fitted on other scenes cannot.

Two more oracles (degree 2) ask how much of that gap the training scenes could close if one knew how to use them:
each training scene gets its own map, and each test scene is predicted by the best of those maps (chosen on the test
scene's truth) or by their best linear combination (one weight per training scene, least squares on the test scene's
truth). A model that recognises a scene from its RGB image and borrows from similar training scenes can at most
reach the second. Prints and writes the PSNR (peak 1, mean over bands) and SAM (degrees) of each fit, per test scene
and on average.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/recipe_seeds.yaml", help="a benchmark config (its data section)")
    parser.add_argument("--out", type=Path, help="JSON file for the results (default: print only)")
    args = parser.parse_args(argv)

    from hsinr.config import load_config
    from hsinr.metrics import evaluate_all
    from hsinr.models.least_squares import RootPolynomialLeastSquares, fit_from_pairs
    from hsinr.tasks import make_task

    with tempfile.TemporaryDirectory() as scratch:  # the task writes its split.json there
        task = make_task(load_config(args.config), Path(scratch))
        train = [(pair.rgb, pair.cube) for pair in task.scenes.pairs(task.split["train"])]
        test = task.scenes.pairs(task.split["test"])

    def predict(model: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0].permute(1, 2, 0).numpy()

    rows = []
    for degree in (1, 2, 3):
        on_training = fit_from_pairs(RootPolynomialLeastSquares(31, degree), train)
        for fitted_on in ("training scenes", "the test scene itself"):
            scores = []
            for pair in test:
                model = on_training
                if fitted_on != "training scenes":
                    model = fit_from_pairs(RootPolynomialLeastSquares(31, degree), [(pair.rgb, pair.cube)])
                scores.append(evaluate_all(pair.cube, predict(model, pair.rgb)))
            rows.append(
                {
                    "degree": degree,
                    "fitted_on": fitted_on,
                    "psnr": float(np.mean([s["psnr"] for s in scores])),
                    "sam": float(np.mean([s["sam"] for s in scores])),
                    "psnr_per_scene": [round(float(s["psnr"]), 3) for s in scores],
                }
            )
            print(f"degree {degree}, fitted on {fitted_on:22s} {rows[-1]['psnr']:.2f} dB  SAM {rows[-1]['sam']:.2f}")
    per_scene_maps = [fit_from_pairs(RootPolynomialLeastSquares(31, 2), [pair]) for pair in train]
    best_single, best_combination = [], []
    for pair in test:
        predictions = [predict(model, pair.rgb) for model in per_scene_maps]
        scores = [evaluate_all(pair.cube, prediction) for prediction in predictions]
        best_single.append(max(scores, key=lambda s: s["psnr"]))
        design = np.stack([prediction.ravel() for prediction in predictions], axis=1).astype(np.float64)
        weights = np.linalg.lstsq(design, pair.cube.ravel().astype(np.float64), rcond=None)[0]
        combined = (design @ weights).reshape(pair.cube.shape).astype(np.float32)
        best_combination.append(evaluate_all(pair.cube, combined))
    for fitted_on, scores in (
        ("the best single training scene (oracle choice)", best_single),
        ("a combination of the training scenes' maps (oracle weights)", best_combination),
    ):
        rows.append(
            {
                "degree": 2,
                "fitted_on": fitted_on,
                "psnr": float(np.mean([s["psnr"] for s in scores])),
                "sam": float(np.mean([s["sam"] for s in scores])),
                "psnr_per_scene": [round(float(s["psnr"]), 3) for s in scores],
            }
        )
        print(f"degree 2, fitted on {fitted_on}: {rows[-1]['psnr']:.2f} dB  SAM {rows[-1]['sam']:.2f}")
    result = {"config": args.config, "scenes": [pair.name for pair in test], "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
