"""Does averaging the learned recipe with anchored regression (A+) beat either on scenes neither has seen?

Usage::

    python benchmarks/anchored_blend.py CHECKPOINT [CHECKPOINT ...] [--gate THRESHOLD FLOOR]
        [--weights W ...] [--anchors K ...] [--out FILE.json]

Each checkpoint is a ``prior_residual`` model of a benchmark run (its folder's ``method_config.yaml`` and
``split.json`` give the data and the split, as in ``benchmarks/ensemble.py``). On the run's *training* scenes the
script fits anchored regression (:mod:`hsinr.models.anchored_regression`, the recipe's setting: 128 anchors, 4,096
neighbours, shrinkage 0.01, or each anchor count of ``--anchors``; a model built with ``blend`` uses its own fitted
one), then scores on the validation and test scenes, for every anchor count and every weight ``w`` of ``--weights``,

    ŷ = (1 − w) · model(x) + w · P_x(A⁺(x)),

where ``P_x`` is the model's projection onto ``P ŷ = x`` when it has ``consistency`` (so the blend re-renders to the
input RGB exactly, as ``prior_residual`` with ``blend`` does). ``model(x)`` is the model without its own blend, gated
as it was built, or with the chromaticity gate ``--gate THRESHOLD FLOOR`` when it was trained without one (the
benchmark's recipe runs predate the gate in the config). Prints one line per checkpoint and, over all checkpoints,
the setting (anchor count, weight) with the best mean *validation* PSNR and what each does on the test scenes;
writes every number to ``--out`` (settings named ``"K:w"``). PSNR is :func:`hsinr.metrics.psnr` (peak 1, mean over
bands of whole images), SAM :func:`hsinr.metrics.sam` (degrees), as in the benchmark tables.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from benchmark_runs import (  # benchmarks/, beside this script
    add_common_options,
    add_gate_setting,
    fitted_gate,
    per_pixel,
    run_task,
    write_json,
)

WEIGHTS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
"""The anchored regression's shares of the output tried (0 = the model alone)."""
RECIPE_ANCHORED = {"anchors": 128, "neighbours": 4096, "shrinkage": 0.01}
"""Anchored regression as ``configs/inr_hsisr_cave.yaml`` sets it."""


def name(setting: tuple[int, float]) -> str:
    """``"K:w"``: the JSON key of an (anchor count, weight) setting."""
    return f"{setting[0]}:{setting[1]}"


def mean_over(rows: list[dict], part: str, setting: str, key: str = "psnr") -> float | None:
    """The mean over ``rows`` of their ``part`` scores at ``setting`` (``None`` when a row lacks the part)."""
    values = [row[part][setting][key] for row in rows if part in row]
    return float(np.mean(values)) if len(values) == len(rows) else None


def scene_mean(rows: list[dict], setting: str, key: str = "psnr") -> float:
    """The mean test ``key`` (PSNR or SAM) over every test scene of ``rows`` (each scene once per checkpoint; folds of
    different sizes weigh by their scenes, as a cross-validation's "over the 26 scenes" does)."""
    scores = [row["test"][setting] for row in rows]
    scenes = np.array([len(score["psnr_per_scene"]) for score in scores])
    return float(np.dot([score[key] for score in scores], scenes) / scenes.sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(parser)
    add_gate_setting(parser, "--gate", "the chromaticity gate for models trained without one")
    parser.add_argument("--weights", nargs="+", type=float, default=list(WEIGHTS), help="the blend weights w tried")
    parser.add_argument(
        "--anchors", nargs="+", type=int, default=[RECIPE_ANCHORED["anchors"]], help="the anchor counts tried"
    )
    args = parser.parse_args(argv)
    if any(not 0.0 <= w <= 1.0 for w in args.weights):
        parser.error("--weights must lie in [0, 1]")

    from hsinr.checkpoint import load_checkpoint
    from hsinr.metrics import psnr, sam
    from hsinr.models.anchored_regression import AnchoredLeastSquares

    settings = [(k, w) for k in args.anchors for w in args.weights]
    rows = []
    for path in args.checkpoints:
        model = load_checkpoint(path, "cpu")[0]
        if not hasattr(model, "prior_prediction"):
            parser.error(f"{path}: not a prior_residual model")
        own, model.blend = model.blend, None  # the model alone; its own blend model, if any, below
        with run_task(path.parent) as task:
            cases = {part: task.eval_cases(part) for part in ("val", "test")}
            gate = fitted_gate(task, *args.gate) if args.gate and model.gate is None else None
            classical_models = {}
            for count in args.anchors:
                if own is not None and len(args.anchors) == 1:
                    classical_models[count] = own
                    continue
                classical_models[count] = AnchoredLeastSquares(
                    out_bands=model.out_bands, **{**RECIPE_ANCHORED, "anchors": count}
                )
                classical_models[count].fit_prior(task.train_pairs())
        row: dict = {"checkpoint": str(path), "scenes": [case.name for case in cases["test"]]}
        for part, part_cases in cases.items():
            scores: dict = {setting: [] for setting in settings}
            for case in part_cases:
                rgb = case.metric_args["rgb"]
                prediction = np.asarray(case.predict(model))
                if gate is not None:
                    prior = per_pixel(model.prior_prediction, rgb)
                    prediction = prior + per_pixel(gate, rgb) * (prediction - prior)
                for count, anchored in classical_models.items():
                    classical = per_pixel(lambda x, a=anchored, m=model: m.project(a(x), x), rgb)
                    for w in args.weights:
                        blended = (1 - w) * prediction + w * classical
                        scores[count, w].append((psnr(case.truth, blended), sam(case.truth, blended)))
            if part_cases:
                row[part] = {
                    name(setting): {
                        "psnr": float(np.mean([scene_psnr for scene_psnr, _ in per_scene])),
                        "sam": float(np.mean([scene_sam for _, scene_sam in per_scene])),
                        "psnr_per_scene": [round(float(scene_psnr), 4) for scene_psnr, _ in per_scene],
                    }
                    for setting, per_scene in scores.items()
                }
        line = f"{path}: " + ", ".join(f"{name(s)} {row['test'][name(s)]['psnr']:.3f} dB" for s in settings)
        if "val" in row:
            row["chosen_on_validation"] = name(max(settings, key=lambda s: row["val"][name(s)]["psnr"]))
            line += f" (validation chooses {row['chosen_on_validation']})"
        rows.append(row)
        print(line, flush=True)

    summary = {
        name(s): {
            "val_psnr": mean_over(rows, "val", name(s)),
            "psnr": mean_over(rows, "test", name(s)),
            "psnr_over_scenes": scene_mean(rows, name(s)),
            "sam": mean_over(rows, "test", name(s), "sam"),
            "sam_over_scenes": scene_mean(rows, name(s), "sam"),
        }
        for s in settings
    }
    result: dict = {"rows": rows, "mean_over_checkpoints": summary}
    for key, mean in summary.items():
        val = f", validation {mean['val_psnr']:.3f} dB" if mean["val_psnr"] is not None else ""
        print(
            f"anchors:w {key}: test {mean['psnr']:.3f} dB / SAM {mean['sam']:.2f} (mean over checkpoints), "
            f"{mean['psnr_over_scenes']:.3f} dB / SAM {mean['sam_over_scenes']:.2f} (over every test scene){val}"
        )
    if all("val" in row for row in rows):
        result["one_setting_for_all"] = max(summary, key=lambda key: summary[key]["val_psnr"] or 0.0)
        print(f"one setting for all {len(rows)} models (best mean validation PSNR): {result['one_setting_for_all']}")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
