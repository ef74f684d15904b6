"""Evaluation: models × whole test images → per-scene and mean metric tables, timings and Fig. 5-style figures.

The split and the camera response come from the checkpoint's metadata by default, so evaluation sees exactly the
scenes and the RGB rendering the model was trained with.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch.nn as nn

from . import metrics
from .checkpoint import load_checkpoint
from .data import load_split
from .errors import ConfigError
from .io.atomic import prepare_output_folder
from .progress import progress_bar
from .report import band_grid_figure, spectra_figure, write_table
from .tasks import EvalCase, make_task


def evaluate_models(
    models: dict[str, nn.Module],
    cases: list[EvalCase],
    out_dir: str | Path | None = None,
    *,
    figures: bool = True,
    protocol: dict | None = None,
    stem: str = "metrics",
    progress: bool = False,
) -> dict:
    """Run every model on every evaluation case and tabulate :func:`hsinr.metrics.evaluate_all`.

    Args:
        models: display name → model (eval mode, on its device).
        cases: the task's whole test images (:class:`hsinr.tasks.EvalCase`: truth, how to predict, metric options).
        out_dir: where ``<stem>_per_scene.*``, ``<stem>.*`` (means) and figures go; ``None`` writes nothing.
        figures: write ``fig5_<scene>.png`` and ``spectra_<scene>.png``.
        protocol: printed above the tables.
        progress: show a progress bar over the scenes (one line per scene when stderr is not a terminal).

    Returns:
        ``{"per_scene": rows, "mean": rows, "predictions": {scene: {model: cube}}}`` (predictions of the first scene
        only, to bound memory).
    """
    per_scene, predictions = [], {}
    bar = progress_bar(
        cases,
        desc=f"evaluate {len(models)} model(s) on {len(cases)} scene(s)",
        unit="scene",
        enabled=progress,
        line_every=1,
    )
    for index, case in enumerate(bar):
        preds = {}
        for name, model in models.items():
            started = time.perf_counter()
            pred = case.predict(model)
            seconds = time.perf_counter() - started
            row = {"scene": case.name, "method": name}
            row.update(metrics.evaluate_all(case.truth, pred, **case.metric_args))
            row["ms_per_mpix"] = 1000.0 * seconds / (case.truth.shape[0] * case.truth.shape[1] / 1e6)
            per_scene.append(row)
            preds[name] = pred
        if out_dir is not None and figures:
            band_grid_figure(
                Path(out_dir) / f"fig5_{case.name}.png",
                case.truth,
                preds,
                case.wavelengths,
                title=f"{case.name}: ground truth and |error|",
            )
            spectra_figure(
                Path(out_dir) / f"spectra_{case.name}.png", case.truth, preds, case.wavelengths, title=case.name
            )
        if index == 0:
            predictions[case.name] = preds
    mean_rows = mean_by_method(per_scene)
    if out_dir is not None:
        write_table(per_scene, out_dir, f"{stem}_per_scene", "Per scene", protocol)
        write_table(mean_rows, out_dir, stem, "Mean over scenes", protocol)
    return {"per_scene": per_scene, "mean": mean_rows, "predictions": predictions}


def mean_by_method(rows: list[dict]) -> list[dict]:
    """Mean of each numeric column per method (and the standard deviation over scenes of PSNR, SSIM, SAM and ERGAS),
    in first-seen method order."""
    methods = list(dict.fromkeys(row["method"] for row in rows))
    out = []
    for method in methods:
        mine = [row for row in rows if row["method"] == method]
        mean = {"method": method, "scenes": len(mine)}
        for key, value in mine[0].items():
            if isinstance(value, float):
                mean[key] = float(np.mean([row[key] for row in mine]))
        for key in ("psnr", "ssim", "sam", "ergas"):  # mean ± std over scenes, like the fusion paper's Table 1
            if key in mine[0]:
                mean[f"{key}_std"] = float(np.std([row[key] for row in mine]))
        out.append(mean)
    return out


def evaluate_checkpoint(
    checkpoint: str | Path,
    kind: str,
    root: str | Path,
    out_dir: str | Path,
    *,
    subset: str = "test",
    split_file: str | Path | None = None,
    response: str | None = None,
    tile: int = 512,
    figures: bool = True,
    device: str = "cpu",
    progress: bool = False,
) -> dict:
    """Evaluate one checkpoint on ``subset`` of a dataset.

    The task, split, wavelengths and camera response are the checkpoint's (``meta``), so evaluation sees exactly the
    scenes and inputs the model was trained with; ``split_file`` and ``response`` override them. The split used is
    written to ``out_dir/split.json``. ``out_dir`` is checked (and created) first: a file in its place or a folder
    that cannot be written in is a one-line :class:`~hsinr.errors.DataError` before anything runs.
    """
    out_dir = prepare_output_folder(out_dir)
    model, meta = load_checkpoint(checkpoint, device)
    config = json.loads(json.dumps(meta.get("config") or {}))  # a deep copy
    if not config:
        raise ConfigError(f"{checkpoint}: has no training configuration in its metadata")
    split = load_split(split_file) if split_file else meta.get("split")
    if split is None:
        raise ConfigError(f"{checkpoint}: has no split; pass --split split.json")
    if subset == "all":
        split = {"train": [], "val": [], "test": sorted({n for names in split.values() for n in names})}
        subset = "test"
    if not split.get(subset):
        raise ConfigError(f"the split's {subset!r} subset is empty")
    config["data"].update(kind=kind, root=str(root), split=split, scenes=None)
    if response is not None:
        config["data"]["response"] = response
    config["train"]["val_tile"] = tile
    (out_dir / "split.json").unlink(missing_ok=True)
    task = make_task(config, out_dir)
    cases = task.eval_cases(subset)
    protocol = {
        "checkpoint": str(checkpoint),
        "model": meta["spec"]["name"],
        "data": f"{kind} at {root}, subset {subset} ({len(cases)} scenes: {', '.join(c.name for c in cases)})",
        "inputs": f"task {config.get('task', 'spectral_sr')}, response {config['data'].get('response')}",
        "PSNR": "psnr = PSNR-peak1 (peak 1.0, per band, mean); psnr_max = eq. 12 (peak max(gt))",
        "crop": "whole images, no border crop",
    }
    return evaluate_models(
        {meta["spec"]["name"]: model}, cases, out_dir, figures=figures, protocol=protocol, progress=progress
    )
