"""Evaluation: models × whole test images → per-scene and mean metric tables, timings and Fig. 5-style figures.

The split and the camera response come from the checkpoint's metadata by default, so evaluation sees exactly the
scenes and the RGB rendering the model was trained with.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch.nn as nn

from . import metrics
from .checkpoint import load_checkpoint
from .data import SceneCache, discover, load_split
from .errors import ConfigError
from .infer import reconstruct
from .report import band_grid_figure, spectra_figure, write_table
from .spectral import resolve_response


def evaluate_models(
    models: dict[str, nn.Module],
    pairs,
    srf: np.ndarray | None,
    out_dir: str | Path | None = None,
    *,
    tile: int = 512,
    figures: bool = True,
    protocol: dict | None = None,
    stem: str = "metrics",
) -> dict:
    """Run every model on every scene pair and tabulate :func:`hsinr.metrics.evaluate_all`.

    Args:
        models: display name → model (eval mode, on its device).
        pairs: :class:`hsinr.data.ScenePair` list (name, rgb, cube, wavelengths).
        srf: ``(3, C)`` response used for the back-projection error (``None`` skips it).
        out_dir: where ``<stem>_per_scene.*``, ``<stem>.*`` (means) and figures go; ``None`` writes nothing.
        tile: tile size of :func:`hsinr.infer.reconstruct`.
        figures: write ``fig5_<scene>.png`` and ``spectra_<scene>.png``.
        protocol: printed above the tables.

    Returns:
        ``{"per_scene": rows, "mean": rows, "predictions": {scene: {model: cube}}}`` (predictions of the first scene
        only, to bound memory).
    """
    per_scene, predictions = [], {}
    for index, pair in enumerate(pairs):
        preds = {}
        for name, model in models.items():
            started = time.perf_counter()
            pred = reconstruct(pair.rgb, model, tile=tile, progress=False)
            seconds = time.perf_counter() - started
            row = {"scene": pair.name, "method": name}
            row.update(metrics.evaluate_all(pair.cube, pred, rgb=pair.rgb, srf=srf))
            row["ms_per_mpix"] = 1000.0 * seconds / (pair.rgb.shape[0] * pair.rgb.shape[1] / 1e6)
            per_scene.append(row)
            preds[name] = pred
        if out_dir is not None and figures:
            band_grid_figure(Path(out_dir) / f"fig5_{pair.name}.png", pair.cube, preds, pair.wavelengths,
                             title=f"{pair.name}: ground truth and |error|")
            spectra_figure(Path(out_dir) / f"spectra_{pair.name}.png", pair.cube, preds, pair.wavelengths,
                           title=pair.name)
        if index == 0:
            predictions[pair.name] = preds
    mean_rows = mean_by_method(per_scene)
    if out_dir is not None:
        write_table(per_scene, out_dir, f"{stem}_per_scene", "Per scene", protocol)
        write_table(mean_rows, out_dir, stem, "Mean over scenes", protocol)
    return {"per_scene": per_scene, "mean": mean_rows, "predictions": predictions}


def mean_by_method(rows: list[dict]) -> list[dict]:
    """Mean (and standard deviation of PSNR) of each numeric column per method, in first-seen method order."""
    methods = list(dict.fromkeys(row["method"] for row in rows))
    out = []
    for method in methods:
        mine = [row for row in rows if row["method"] == method]
        mean = {"method": method, "scenes": len(mine)}
        for key, value in mine[0].items():
            if isinstance(value, float):
                mean[key] = float(np.mean([row[key] for row in mine]))
        mean["psnr_std"] = float(np.std([row["psnr"] for row in mine]))
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
) -> dict:
    """Evaluate one checkpoint on ``subset`` of a dataset; the split and response default to the checkpoint's."""
    model, meta = load_checkpoint(checkpoint, device)
    items = discover(kind, root)
    split = load_split(split_file) if split_file else meta.get("split")
    names = [item.name for item in items]
    if split is None:
        raise ConfigError(f"{checkpoint}: has no split; pass --split split.json")
    chosen = names if subset == "all" else split.get(subset, [])
    missing = sorted(set(chosen) - set(names))
    if missing:
        raise ConfigError(f"{root}: the {subset} scenes {', '.join(missing)} of the split are not in this dataset")
    if not chosen:
        raise ConfigError(f"the split's {subset!r} subset is empty")
    wavelengths = np.asarray(meta.get("wavelengths"), dtype=np.float64)
    if response is not None:
        srf = np.asarray(resolve_response(response, wavelengths).srf, dtype=np.float64)
    elif meta.get("srf") is not None:
        srf = np.asarray(meta["srf"], dtype=np.float64)
    else:
        srf = None
    pairs = SceneCache([i for i in items if i.name in chosen], srf=srf).pairs(chosen)
    protocol = {
        "checkpoint": str(checkpoint),
        "model": meta["spec"]["name"],
        "data": f"{kind} at {root}, subset {subset} ({len(chosen)} scenes: {', '.join(chosen)})",
        "RGB": f"rendered with response {meta.get('response') if response is None else response}" if srf is not None else "paired files",
        "PSNR": "psnr = PSNR-peak1 (peak 1.0, per band, mean); psnr_max = eq. 12 (peak max(gt))",
        "crop": "whole images, no border crop",
    }
    return evaluate_models({meta["spec"]["name"]: model}, pairs, srf, out_dir, tile=tile, figures=figures,
                           protocol=protocol)
