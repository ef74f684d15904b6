"""Averaging the predictions of several trained models: does an ensemble beat its members on the test scenes?

Usage::

    python benchmarks/ensemble.py CHECKPOINT [CHECKPOINT ...] [--dihedral] [--blend-prior [--band-weights]]
        [--gate THRESHOLD FLOOR] [--out FILE.json]

The checkpoints must come from runs of one benchmark (the first one's run folder gives the configuration,
``method_config.yaml``, and the split, ``split.json``), e.g. the three seeds of ``configs/recipe_seeds.yaml``::

    python benchmarks/ensemble.py runs/recipe_seeds/runs/recipe/seed{0,1,2}/best.pt

Every test scene of that split is reconstructed by each model (the benchmark's whole-image evaluation, tiles of
``train.val_tile`` px) and by the mean of their predictions; it prints and writes the mean PSNR (peak 1, mean over
bands) and SAM (degrees) over the test scenes, and the PSNR of each scene (:func:`hsinr.metrics.evaluate_all`).

``--dihedral`` makes every model a self-ensemble (Lim et al., EDSR, CVPR-W 2017): each RGB image is reconstructed in
its 8 flips and transposes (:func:`hsinr.data.patches.dihedral`), each result turned back, and the 8 averaged; the
rows then compare each model alone (identity only), its self-ensemble, and the mean of the self-ensembles.

``--blend-prior`` (``prior_residual`` models) also averages each prediction with the model's own least-squares prior
(:meth:`~hsinr.models.prior_residual.PriorResidual.prior_prediction`): ``prior + α (prediction − prior)`` for every α
of :data:`RESIDUAL_WEIGHTS`, i.e. the learned residual shrunk by α. α is chosen per row on the *validation* scenes
(whole images, the same evaluation), and the test scenes report every α and the chosen one, so the choice never
sees a test number.

``--band-weights`` (with ``--blend-prior``) shrinks or stretches the residual band by band instead:
``prior + α_b (prediction − prior)``, each ``α_b`` of :data:`BAND_RESIDUAL_WEIGHTS` chosen on the validation scenes
to maximise that band's mean PSNR (the metric is a mean over bands of per-band PSNR, so the bands can be chosen one by
one). A per-band weight on the projected residual leaves ``P ŷ = x`` only approximately: the row reports the
back-projection error.

``--gate THRESHOLD FLOOR`` (``prior_residual`` models) also scores every row with the chromaticity gate of
:mod:`hsinr.models.chromaticity_gate` at that setting, its histogram counted over the run's training images:
``prior + g(x) (prediction − prior)`` per pixel (the mean of gated members is the gated mean, as they share the
training images). The models' own gates, if they were trained with one, are switched off, so every row is scored as
trained and gated alike. The setting is fixed beforehand (runs trained on every non-test scene have no validation
scenes to choose it on).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

RESIDUAL_WEIGHTS = (0.5, 0.625, 0.75, 0.875, 1.0)
"""The weights α of the learned residual that ``--blend-prior`` tries (1 = the model as trained)."""
BAND_RESIDUAL_WEIGHTS = tuple(float(w) for w in np.linspace(0.0, 1.5, 13))
"""The weights α_b that ``--band-weights`` tries for each band (0 = the prior, 1 = the model as trained)."""


def blend_with_prior(prior: np.ndarray, prediction: np.ndarray, weight) -> np.ndarray:
    """``prior + weight · (prediction − prior)``: the prediction with its learned residual scaled by ``weight`` (a
    number, or one per band: ``(C,)``)."""
    return prior + weight * (prediction - prior)


def prior_prediction(model, rgb: np.ndarray) -> np.ndarray:
    """The ``prior_residual`` model's prediction with its residual at zero, ``(H, W, 3)`` → ``(H, W, C)``."""
    from benchmark_runs import per_pixel  # benchmarks/, beside this script (imported here: tests load this file)

    return per_pixel(model.prior_prediction, rgb)


def undo_dihedral(image: np.ndarray, op: int) -> np.ndarray:
    """The inverse of ``dihedral(·, op)``: every op is its own inverse except the two quarter turns (5 and 6)."""
    from hsinr.data.patches import dihedral

    return dihedral(image, {5: 6, 6: 5}.get(op, op))


def main(argv: list[str] | None = None) -> int:
    from benchmark_runs import add_common_options, add_gate_setting, write_json  # benchmarks/, beside this script

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_options(parser)
    parser.add_argument("--dihedral", action="store_true", help="also average each model over the 8 dihedral views")
    parser.add_argument(
        "--blend-prior", action="store_true", help="also shrink each learned residual, its weight chosen on validation"
    )
    parser.add_argument(
        "--band-weights",
        action="store_true",
        help="with --blend-prior: one residual weight per band, chosen on validation",
    )
    add_gate_setting(parser, "--gate", "also score every row with the chromaticity gate at this setting")
    args = parser.parse_args(argv)
    if args.band_weights and not args.blend_prior:
        parser.error("--band-weights needs --blend-prior")

    from benchmark_runs import fitted_gate, per_pixel, run_task  # benchmarks/, beside this script
    from hsinr.checkpoint import load_checkpoint
    from hsinr.data.patches import DIHEDRAL_OPS, dihedral
    from hsinr.infer import reconstruct
    from hsinr.metrics import band_psnr, evaluate_all

    run_dir = args.checkpoints[0].parent
    models = [load_checkpoint(path, "cpu")[0] for path in args.checkpoints]
    with_priors = bool(args.blend_prior or args.gate)
    if with_priors and not all(hasattr(model, "prior_prediction") for model in models):
        parser.error("--blend-prior and --gate need prior_residual models")
    for model in models if args.gate else ():
        model.gate = None  # scored as trained, then with the script's gate
    with run_task(run_dir) as task:
        parts = ("val", "test") if args.blend_prior else ("test",)
        cases = {part: task.eval_cases(part) for part in parts}
        gate = fitted_gate(task, *args.gate) if args.gate else None
    if args.blend_prior and not cases["val"]:
        parser.error("--blend-prior chooses the residual's weight on validation scenes; this run's split has none")
    if (args.dihedral or with_priors) and any("rgb" not in case.metric_args for case in cases["test"]):
        parser.error("--dihedral, --blend-prior and --gate need an RGB -> HSI run (its test cases have no RGB image)")
    tile = int(task.config["train"].get("val_tile", 512))
    labels = [str(path) for path in args.checkpoints] + ["mean of the predictions"]
    if args.dihedral:
        labels += [f"{path}, 8 dihedral views" for path in args.checkpoints] + ["mean of the dihedral means"]
    weights = RESIDUAL_WEIGHTS if args.blend_prior else (1.0,)

    def outputs_of(case) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Every row's prediction of one case, and the prior each row is blended with."""
        predictions = [case.predict(model) for model in models]
        outputs = [*predictions, np.mean(predictions, axis=0)]
        priors = [prior_prediction(model, case.metric_args["rgb"]) for model in models] if with_priors else []
        priors = [*priors, np.mean(priors, axis=0)] if priors else []
        if args.dihedral:
            views = [[predictions[k]] for k in range(len(models))]
            for op in range(1, DIHEDRAL_OPS):
                rgb = np.ascontiguousarray(dihedral(case.metric_args["rgb"], op))
                for k, model in enumerate(models):
                    view = reconstruct(rgb, model, tile=tile, progress=False)
                    views[k].append(undo_dihedral(np.asarray(view), op))
            self_ensembles = [np.mean(v, axis=0) for v in views]
            outputs += [*self_ensembles, np.mean(self_ensembles, axis=0)]
            priors += priors  # the prior is pixel-wise: the mean of its 8 views is itself
        return outputs, priors

    # scores[part][label][α] = one metrics dict per scene
    scores = {part: {label: {w: [] for w in weights} for label in labels} for part in parts}
    # band_scores[part][label]: per scene, (len(BAND_RESIDUAL_WEIGHTS), C) band PSNRs; kept: the test blends' inputs
    band_scores: dict = {part: {label: [] for label in labels} for part in parts}
    kept: dict = {label: [] for label in labels}
    gated: dict = {label: [] for label in labels}  # --gate: one metrics dict per test scene
    for part in parts:
        for case in cases[part]:
            outputs, priors = outputs_of(case)
            for row, (label, prediction) in enumerate(zip(labels, outputs, strict=True)):
                for w in weights:
                    blended = prediction if w == 1.0 else blend_with_prior(priors[row], prediction, w)
                    scores[part][label][w].append(evaluate_all(case.truth, blended, **case.metric_args))
                if args.band_weights:
                    grid = [
                        band_psnr(case.truth, blend_with_prior(priors[row], prediction, w))
                        for w in BAND_RESIDUAL_WEIGHTS
                    ]
                    band_scores[part][label].append(np.stack(grid))
                    if part == "test":
                        kept[label].append((case, priors[row], prediction))
                if gate and part == "test":
                    weight = per_pixel(gate, case.metric_args["rgb"])  # (H, W, 1)
                    blended = blend_with_prior(priors[row], prediction, weight)
                    gated[label].append(evaluate_all(case.truth, blended, **case.metric_args))

    def mean(rows: list[dict], key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    result: dict = {"scenes": [case.name for case in cases["test"]], "rows": []}
    for label in labels:
        test = scores["test"][label]
        row = {
            "model": label,
            "psnr": mean(test[1.0], "psnr"),
            "sam": mean(test[1.0], "sam"),
            "psnr_per_scene": [round(float(s["psnr"]), 4) for s in test[1.0]],
        }
        if args.blend_prior:
            val = scores["val"][label]
            chosen = max(weights, key=lambda w: mean(val[w], "psnr"))
            row["residual_weight"] = {
                "chosen_on_validation": chosen,
                "psnr": mean(test[chosen], "psnr"),
                "sam": mean(test[chosen], "sam"),
                "psnr_per_scene": [round(float(s["psnr"]), 4) for s in test[chosen]],
                "every_weight": {
                    str(w): {part: {k: mean(scores[part][label][w], k) for k in ("psnr", "sam")} for part in parts}
                    for w in weights
                },
            }
        if args.band_weights:
            chosen_index = np.mean(band_scores["val"][label], axis=0).argmax(axis=0)  # (C,): best α_b on validation
            alphas = np.asarray(BAND_RESIDUAL_WEIGHTS)[chosen_index]
            blended_scores = [
                evaluate_all(case.truth, blend_with_prior(prior, prediction, alphas), **case.metric_args)
                for case, prior, prediction in kept[label]
            ]
            row["band_weights"] = {
                "chosen_on_validation": [round(float(a), 3) for a in alphas],
                **{key: mean(blended_scores, key) for key in ("psnr", "sam", "backprojection_mrae")},
                "psnr_per_scene": [round(float(s["psnr"]), 4) for s in blended_scores],
            }
        if gate:
            row["gated"] = {
                "threshold": gate.threshold,
                "floor": gate.floor,
                **{key: mean(gated[label], key) for key in ("psnr", "sam")},
                "psnr_per_scene": [round(float(s["psnr"]), 4) for s in gated[label]],
            }
        result["rows"].append(row)
    for row in result["rows"]:
        print(f"{row['psnr']:.3f} dB  SAM {row['sam']:.2f}  {row['model']}")
        if "residual_weight" in row:
            blend = row["residual_weight"]
            print(
                f"{blend['psnr']:.3f} dB  SAM {blend['sam']:.2f}  {row['model']}, "
                f"residual × {blend['chosen_on_validation']} (chosen on validation)"
            )
        if "band_weights" in row:
            bands = row["band_weights"]
            print(
                f"{bands['psnr']:.3f} dB  SAM {bands['sam']:.2f}  {row['model']}, residual × α_b (chosen on validation)"
            )
        if "gated" in row:
            print(f"{row['gated']['psnr']:.3f} dB  SAM {row['gated']['sam']:.2f}  {row['model']}, gated {args.gate}")
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
