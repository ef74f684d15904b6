"""Averaging the predictions of several trained models: does an ensemble beat its members on the test scenes?

Usage::

    python benchmarks/ensemble.py CHECKPOINT [CHECKPOINT ...] [--dihedral] [--out FILE.json]

The checkpoints must come from runs of one benchmark (the first one's run folder gives the configuration,
``method_config.yaml``, and the split, ``split.json``), e.g. the three seeds of ``configs/recipe_seeds.yaml``::

    python benchmarks/ensemble.py runs/recipe_seeds/runs/recipe/seed{0,1,2}/best.pt

Every test scene of that split is reconstructed by each model (the benchmark's whole-image evaluation, tiles of
``train.val_tile`` px) and by the mean of their predictions; it prints and writes the mean PSNR (peak 1, mean over
bands) and SAM (degrees) over the test scenes, and the PSNR of each scene (:func:`hsinr.metrics.evaluate_all`).

``--dihedral`` makes every model a self-ensemble (Lim et al., EDSR, CVPR-W 2017): each RGB image is reconstructed in
its 8 flips and transposes (:func:`hsinr.data.patches.dihedral`), each result turned back, and the 8 averaged; the
rows then compare each model alone (identity only), its self-ensemble, and the mean of the self-ensembles.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np


def undo_dihedral(image: np.ndarray, op: int) -> np.ndarray:
    """The inverse of ``dihedral(·, op)``: every op is its own inverse except the two quarter turns (5 and 6)."""
    from hsinr.data.patches import dihedral

    return dihedral(image, {5: 6, 6: 5}.get(op, op))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--dihedral", action="store_true", help="also average each model over the 8 dihedral views")
    parser.add_argument("--out", type=Path, help="JSON file for the results (default: print only)")
    args = parser.parse_args(argv)

    from hsinr.checkpoint import load_checkpoint
    from hsinr.config import load_config
    from hsinr.data.patches import DIHEDRAL_OPS, dihedral
    from hsinr.infer import reconstruct
    from hsinr.metrics import evaluate_all
    from hsinr.tasks import make_task

    run_dir = args.checkpoints[0].parent
    with tempfile.TemporaryDirectory() as scratch:  # the task may write into its folder; the runs stay untouched
        shutil.copy(run_dir / "split.json", Path(scratch) / "split.json")
        task = make_task(load_config(str(run_dir / "method_config.yaml")), Path(scratch))
        cases = task.eval_cases("test")
        models = [load_checkpoint(path, "cpu")[0] for path in args.checkpoints]
        if args.dihedral and any("rgb" not in case.metric_args for case in cases):
            parser.error("--dihedral needs an RGB -> HSI run (its test cases have no RGB image)")
        tile = int(task.config["train"].get("val_tile", 512))
        labels = [str(path) for path in args.checkpoints] + ["mean of the predictions"]
        if args.dihedral:
            labels += [f"{path}, 8 dihedral views" for path in args.checkpoints] + ["mean of the dihedral means"]
        scores: dict[str, list[dict]] = {label: [] for label in labels}
        for case in cases:
            predictions = [case.predict(model) for model in models]
            outputs = [*predictions, np.mean(predictions, axis=0)]
            if args.dihedral:
                views = [[predictions[k]] for k in range(len(models))]
                for op in range(1, DIHEDRAL_OPS):
                    rgb = np.ascontiguousarray(dihedral(case.metric_args["rgb"], op))
                    for k, model in enumerate(models):
                        view = reconstruct(rgb, model, tile=tile, progress=False)
                        views[k].append(undo_dihedral(np.asarray(view), op))
                self_ensembles = [np.mean(v, axis=0) for v in views]
                outputs += [*self_ensembles, np.mean(self_ensembles, axis=0)]
            for label, prediction in zip(labels, outputs, strict=True):
                scores[label].append(evaluate_all(case.truth, prediction, **case.metric_args))
    result = {
        "scenes": [case.name for case in cases],
        "rows": [
            {
                "model": label,
                "psnr": float(np.mean([s["psnr"] for s in rows])),
                "sam": float(np.mean([s["sam"] for s in rows])),
                "psnr_per_scene": [round(float(s["psnr"]), 4) for s in rows],
            }
            for label, rows in scores.items()
        ],
    }
    for row in result["rows"]:
        print(f"{row['psnr']:.3f} dB  SAM {row['sam']:.2f}  {row['model']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
