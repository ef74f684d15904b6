"""What does ``hsinr reconstruct``'s exposure normalisation cost on held-out scenes, by the level it normalises?

Usage::

    python benchmarks/exposure_normalisation.py CHECKPOINT [CHECKPOINT ...] [--out FILE.json]

Each checkpoint is an RGB → HSI model of a benchmark run (its folder's ``method_config.yaml`` and ``split.json`` give
the data and the split, as in ``benchmarks/ensemble.py``). Every test scene is reconstructed three ways with
:func:`hsinr.spectral.encoding.reconstruct_at_exposure`, the function behind ``hsinr reconstruct``: as it is
(``--keep-exposure``), scaled to the training images' mean level, and scaled to their white level (the 99th
percentile of each pixel's largest channel; :func:`~hsinr.spectral.encoding.image_level`), the cube scaled back each
time. The references are computed from the run's training images as training records them
(:func:`hsinr.tasks.rgb_statistics`). Prints the mean PSNR (peak 1, mean over bands) of each way per checkpoint and
over all, and writes every scene's PSNR and gain ``k`` to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial

import numpy as np

from benchmark_runs import add_common_options, run_task, write_json  # benchmarks/, beside this script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(parser)
    args = parser.parse_args(argv)

    from hsinr.checkpoint import load_checkpoint
    from hsinr.infer import reconstruct
    from hsinr.metrics import psnr
    from hsinr.spectral.encoding import ExposureReference, reconstruct_at_exposure
    from hsinr.tasks import rgb_statistics

    ways = ("as_is", "mean", "white")
    rows = []
    for path in args.checkpoints:
        model = load_checkpoint(path, "cpu")[0]
        with run_task(path.parent) as task:
            stats = rgb_statistics([rgb for rgb, _ in task.train_pairs()])
            cases = task.eval_cases("test")
        references = {
            "as_is": None,
            "mean": ExposureReference("mean", stats["mean_level"]),
            "white": ExposureReference("white", stats["white_level"]),
        }
        tile = int(task.config["train"].get("val_tile", 512))
        predict = partial(reconstruct, model=model, tile=tile, progress=False)
        scenes = []
        for case in cases:
            scene: dict = {"scene": case.name}
            for way in ways:
                cube, gain = reconstruct_at_exposure(case.metric_args["rgb"], predict, references[way])
                scene[way] = {"psnr": psnr(case.truth, cube), "gain": gain}
            scenes.append(scene)
        row = {
            "checkpoint": str(path),
            "references": stats,
            "scenes": scenes,
            **{way: float(np.mean([s[way]["psnr"] for s in scenes])) for way in ways},
        }
        rows.append(row)
        print(f"{path}: " + ", ".join(f"{way} {row[way]:.3f} dB" for way in ways), flush=True)
    overall = {way: float(np.mean([s[way]["psnr"] for row in rows for s in row["scenes"]])) for way in ways}
    print("over all test scenes: " + ", ".join(f"{way} {overall[way]:.3f} dB" for way in ways))
    write_json(args.out, {"rows": rows, "over_all_scenes": overall})
    return 0


if __name__ == "__main__":
    sys.exit(main())
