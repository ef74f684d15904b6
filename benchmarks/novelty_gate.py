"""Does the learned residual fail where the training scenes never showed the pixel's colour?

Usage::

    python benchmarks/novelty_gate.py CHECKPOINT [CHECKPOINT ...] [--out FILE.json]

Each checkpoint is a ``prior_residual`` model of a benchmark run (its folder's ``method_config.yaml`` and
``split.json`` give the data and the split, as in ``benchmarks/ensemble.py``). On the run's *training* scenes the
script counts how often each chromaticity ``(r, g) / (r + g + b)`` occurs (:mod:`hsinr.models.chromaticity_gate`: a
64 × 64 histogram over [0, 1]², pixels of mean RGB above 0.01, smoothed by a Gaussian of one bin, normalised to sum 1:
the share of training pixels per bin). It then shrinks the learned residual of each pixel by how familiar its
chromaticity is,

    ŷ = prior + g · (prediction − prior),   g = clip(density(chromaticity) / threshold, floor, 1),

so that a colour the training scenes hold at least ``threshold`` of their pixels in keeps the whole residual, and a
colour they never showed falls back towards the least-squares prior (down to ``floor``). ``prediction`` and ``prior``
both re-render to the input RGB when the model has ``consistency``, and so does every per-pixel blend of the two: the
gate keeps the exact RGB consistency (unlike ``ensemble.py --band-weights``). A model built with
``chromaticity_gate: {threshold, floor}`` applies the same gate itself.

``threshold`` and ``floor`` are chosen on the run's *validation* scenes (whole images, mean PSNR), and so is the
best uniform shrink (``g = floor`` everywhere, ``ensemble.py --blend-prior``) for comparison; the test scenes report
the model as trained, the uniform shrink and the gate, each at its validation choice, and ``--fixed THRESHOLD FLOOR``
(a setting chosen beforehand, e.g. from the cross-validation; runs trained without validation scenes need it).
Prints one line per checkpoint and writes every number, every setting's included, to ``--out`` (a run without
validation scenes is scored as trained and with ``--fixed`` only).
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

THRESHOLDS = (1e-3, 2e-3, 3e-3, 5e-3, 1e-2)
"""Shares of the training pixels per bin above which a chromaticity keeps the whole residual."""
FLOORS = (0.0, 0.25, 0.5, 0.625, 0.75, 1.0)
"""The smallest residual weights tried (1 = the model as trained); without a gate, the uniform weights."""


def on_test(psnr: dict, sam: dict, setting: tuple) -> dict:
    """The test scenes' scores of one ``(threshold, floor)`` setting (``psnr[part][setting]``: one value per scene)."""
    return {
        "threshold": setting[0],
        "floor": setting[1],
        "val_psnr": float(np.mean(psnr["val"][setting])) if "val" in psnr else None,
        "psnr": float(np.mean(psnr["test"][setting])),
        "sam": float(np.mean(sam["test"][setting])),
        "psnr_per_scene": [round(float(v), 4) for v in psnr["test"][setting]],
    }


def best_on_validation(psnr: dict, candidates: list) -> tuple:
    """The setting of ``candidates`` with the highest mean validation PSNR."""
    return max(candidates, key=lambda setting: np.mean(psnr["val"][setting]))


def one_setting_for_all(rows: list[dict]) -> dict:
    """The gate setting with the best validation PSNR averaged over every row (e.g. all folds and seeds of a
    cross-validation), and what it does on each row's test scenes."""
    settings = [(s["threshold"], s["floor"]) for s in rows[0]["every_setting"]]
    gated = [i for i, (threshold, _) in enumerate(settings) if threshold is not None]
    best = max(gated, key=lambda i: np.mean([row["every_setting"][i]["val_psnr"] for row in rows]))
    gains = [row["every_setting"][best]["psnr"] - row["as_trained"]["psnr"] for row in rows]
    return {
        "threshold": settings[best][0],
        "floor": settings[best][1],
        "psnr": [row["every_setting"][best]["psnr"] for row in rows],
        "mean_gain_db": float(np.mean(gains)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(parser)
    add_gate_setting(
        parser, "--fixed", "also report this setting, chosen beforehand (runs without validation scenes need it)"
    )
    args = parser.parse_args(argv)

    from hsinr.checkpoint import load_checkpoint
    from hsinr.metrics import evaluate_all

    settings = [(None, floor) for floor in FLOORS] + [(t, floor) for t in THRESHOLDS for floor in FLOORS[:-1]]
    fixed = tuple(args.fixed) if args.fixed else None
    if fixed and fixed not in settings:
        settings.append(fixed)
    rows = []
    for path in args.checkpoints:
        model = load_checkpoint(path, "cpu")[0]
        if not hasattr(model, "prior_prediction"):
            parser.error(f"{path}: not a prior_residual model")
        model.gate = None  # a model trained with its own gate: score its ungated residual, gated below
        with run_task(path.parent) as task:
            gate = fitted_gate(task)  # the settings are set below, one by one
            cases = {part: task.eval_cases(part) for part in ("val", "test")}
        tried = settings
        if not cases["val"]:  # nothing to choose on: only the model as trained and the fixed setting
            if not fixed:
                parser.error(f"{path}: the run has no validation scenes to choose the gate on; give --fixed")
            del cases["val"]
            tried = [(None, 1.0), fixed]
        psnr: dict = {part: {setting: [] for setting in tried} for part in cases}
        sam: dict = {part: {setting: [] for setting in tried} for part in cases}
        for part, part_cases in cases.items():
            for case in part_cases:
                rgb = case.metric_args["rgb"]
                prediction = np.asarray(case.predict(model))
                prior = per_pixel(model.prior_prediction, rgb)
                for threshold, floor in tried:
                    gate.threshold, gate.floor = threshold or 1.0, floor
                    weight = floor if threshold is None else per_pixel(gate, rgb)
                    scores = evaluate_all(case.truth, prior + weight * (prediction - prior), **case.metric_args)
                    psnr[part][(threshold, floor)].append(scores["psnr"])
                    sam[part][(threshold, floor)].append(scores["sam"])

        row = {
            "checkpoint": str(path),
            "scenes": [case.name for case in cases["test"]],
            "as_trained": on_test(psnr, sam, (None, 1.0)),
            "every_setting": [on_test(psnr, sam, setting) for setting in tried],
        }
        line = f"{path}: as trained {row['as_trained']['psnr']:.3f} dB"
        if "val" in cases:
            uniform = on_test(psnr, sam, best_on_validation(psnr, settings[: len(FLOORS)]))
            chosen = on_test(psnr, sam, best_on_validation(psnr, settings[len(FLOORS) :]))
            row.update(uniform_chosen_on_validation=uniform, gate_chosen_on_validation=chosen)
            line += f", uniform shrink {uniform['psnr']:.3f} dB, chromaticity gate {chosen['psnr']:.3f} dB"
            line += f" (threshold {chosen['threshold']}, floor {chosen['floor']}, chosen on validation)"
        if fixed:
            row["gate_fixed"] = on_test(psnr, sam, fixed)
            line += f", gate {fixed} {row['gate_fixed']['psnr']:.3f} dB"
        rows.append(row)
        print(line, flush=True)
    result: dict = {"rows": rows}
    if all("gate_chosen_on_validation" in row for row in rows):
        result["one_setting_for_all"] = one_setting_for_all(rows)
        common = result["one_setting_for_all"]
        print(
            f"one gate for all {len(rows)} models (threshold {common['threshold']}, floor {common['floor']}, best mean "
            f"validation PSNR over them): {common['mean_gain_db']:+.3f} dB over the models as trained"
        )
    for key in ("gate_chosen_on_validation", "gate_fixed"):
        if all(key in row for row in rows):
            result[f"mean_gain_db_{key}"] = float(np.mean([r[key]["psnr"] - r["as_trained"]["psnr"] for r in rows]))
            print(f"mean gain over the models as trained, {key}: {result[f'mean_gain_db_{key}']:+.3f} dB")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
