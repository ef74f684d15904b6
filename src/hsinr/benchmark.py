"""Benchmarks: several methods, one dataset, one protocol → a Table-I-style table, figures and JSON.

A benchmark config is a training config (``data``, ``train``, ``seed``) plus::

    methods:                          # trained one after the other with the same data, split and budget
      - label: Linear LS
        model: {name: linear_ls}
      - label: INR-HSISR
        model: {name: inr_hsisr, args: {cell_size: 4, frequencies: 5}}
        train: {lr: 1.0e-4}            # optional per-method overrides
    folds:                            # optional: explicit splits, e.g. leave-one-scene-out; else data.split
      - {train: [a, b], val: [], test: [c]}
    seeds: [0, 1, 2]                  # optional: train every method once per seed (replaces ``seed``)
    evaluate: {tile: 512, figures: true}

Every method of a fold trains on the same scenes with the same patches (same seed) and the same budget
(``train.epochs`` and/or ``train.max_minutes``) and is evaluated on the fold's whole test images. The table reports,
per method, the mean over all test scenes of all folds (each scene is tested exactly once), the parameter count,
multiply-accumulates per pixel, inference milliseconds per megapixel and training seconds.

With ``seeds`` each method is trained once per seed (run folders ``runs/<label>/seed<k>``; the seed sets the model's
initialisation, the order of the patches and any random draws of the objective; the split is the same for all), every
run is evaluated, and the table gives the mean over seeds and scenes with ``<metric>_seed_std``: the sample standard
deviation (n − 1) over seeds of the per-seed mean over scenes, for PSNR, SSIM, SAM, RMSE and MRAE.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from .checkpoint import load_checkpoint
from .complexity import count_macs, count_parameters, macs_per_pixel
from .config import deep_merge, save_config
from .data import save_split
from .data.datasets import shared_cube_reads
from .data.split import SUBSETS
from .errors import ConfigError
from .evaluate import evaluate_models, mean_by_method
from .io.atomic import prepare_output_folder, write_bytes_atomic, write_text_atomic
from .models.registry import check_spec
from .report import band_grid_figure, spectra_figure, write_table
from .tasks import make_task
from .train import train

logger = logging.getLogger(__name__)


def slug(text: str) -> str:
    """A file-name-safe version of a label ("PriNET+" → "prinetplus", so it differs from "PriNET")."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text.replace("+", "plus")).strip("_").lower() or "method"


def run_benchmark(
    config: dict,
    out_dir: str | Path,
    *,
    progress: bool = True,
    reuse: bool = True,
    only: list[str] | None = None,
    device: str = "cpu",
) -> dict:
    """Train and evaluate every method of ``config`` into ``out_dir``; returns ``{"rows", "per_scene", ...}``.

    With ``reuse`` a method whose ``best.pt`` already exists in its run folder, made with the same configuration
    (``method_config.yaml``), is not trained again: an interrupted benchmark continues where it stopped, and a changed
    config retrains. ``only`` trains just the methods of those labels and evaluates nothing (run several such
    processes side by side, e.g. on one GPU, then once without ``only`` to evaluate and write the table).
    ``device`` is used for training (``train.device`` of the config) and evaluation. Each cube file is read once
    for all methods (:func:`~hsinr.data.datasets.shared_cube_reads`).
    """
    with shared_cube_reads():
        return _run_benchmark(config, out_dir, progress=progress, reuse=reuse, only=only, device=device)


def _run_benchmark(
    config: dict, out_dir: str | Path, *, progress: bool, reuse: bool, only: list[str] | None, device: str
) -> dict:
    out_dir = prepare_output_folder(out_dir)
    methods = config.get("methods") or []
    if not methods:
        raise ConfigError("the benchmark config lists no methods")
    labels = [m.get("label") or m["model"]["name"] for m in methods]
    unknown = sorted(set(only or []) - set(labels))
    if unknown:
        raise ConfigError(f"--only names methods that are not in the config: {', '.join(unknown)}")
    if len({slug(label) for label in labels}) != len(labels):
        raise ConfigError(f"method labels must be unique (also as folder names): {labels}")
    for label, method in zip(labels, methods, strict=True):  # every method's spec, before the first one trains
        try:
            check_spec(method["model"])
        except ConfigError as exc:
            raise ConfigError(f"method {label!r}: {exc}") from None
    base = {k: v for k, v in config.items() if k not in ("methods", "folds", "seeds", "evaluate")}
    folds = config.get("folds") or [None]
    seeds = [int(seed) for seed in config.get("seeds") or []]
    eval_cfg = config.get("evaluate") or {}
    if not only:
        save_config(config, out_dir / "benchmark.yaml")

    per_scene: list[dict] = []
    extras: dict[str, dict] = {}
    figures_done = False
    seed_runs: list[int | None] = [*seeds] or [None]  # None: the config's own seed, run folders without seed<k>
    for (fold_index, fold), seed in itertools.product(enumerate(folds), seed_runs):
        fold_dir = out_dir / (f"fold{fold_index}" if len(folds) > 1 else "")
        seed_part = f"seed{seed}" if seed is not None else ""
        models, train_seconds = {}, {}
        for label, method in zip(labels, methods, strict=True):
            if only and label not in only:
                continue
            run_dir = fold_dir / "runs" / slug(label) / seed_part
            mconfig = deep_merge(base, {"model": method["model"], "train": method.get("train") or {}})
            if method.get("data"):
                mconfig = deep_merge(mconfig, {"data": method["data"]})
            if fold is not None:
                run_dir.mkdir(parents=True, exist_ok=True)
                save_split(run_dir / "split.json", {k: list(fold.get(k) or []) for k in SUBSETS})
            elif not only and (out_dir / "split.json").exists():  # every method shares the first one's split
                run_dir.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(run_dir / "split.json", (out_dir / "split.json").read_bytes())
            mconfig = deep_merge(mconfig, {"train": {"device": device}, **({"seed": seed} if seed is not None else {})})
            stored = run_dir / "method_config.yaml"
            previous = _without_nulls(yaml.safe_load(stored.read_text())) if stored.exists() else None
            same = previous == _without_nulls(_comparable(mconfig))
            if not (reuse and same and (run_dir / "best.pt").exists()):
                for stale in ("best.pt", "last.pt", "history.jsonl", "train_summary.json"):
                    (run_dir / stale).unlink(missing_ok=True)
                run_dir.mkdir(parents=True, exist_ok=True)
                save_config(_comparable(mconfig), stored)
                if progress:
                    logger.info("fold %d/%d: training %s → %s", fold_index + 1, len(folds), label, run_dir)
                started = time.monotonic()
                summary = train(mconfig, run_dir, progress=progress, overwrite=True)
                train_seconds[label] = summary.get("seconds", time.monotonic() - started)
                write_text_atomic(run_dir / "train_summary.json", json.dumps(summary, indent=2))
            else:
                train_seconds[label] = (
                    json.loads((run_dir / "train_summary.json").read_text()).get("seconds")
                    if (run_dir / "train_summary.json").exists()
                    else None
                )
            if only:
                continue
            if fold is None and not (out_dir / "split.json").exists():
                write_bytes_atomic(out_dir / "split.json", (run_dir / "split.json").read_bytes())
            model, meta = load_checkpoint(run_dir / "best.pt", device)
            models[label] = model
            extras.setdefault(label, {"train_seconds": [], "train_steps": []})
            extras[label]["train_seconds"].append(train_seconds[label] or 0.0)
            extras[label]["train_steps"].append(last_step(run_dir))
            # closed-form maps hold their fitted coefficients as buffers, not parameters
            fitted = sum(b.numel() for b in model.buffers()) if getattr(model, "closed_form", False) else 0
            extras[label].setdefault("params", count_parameters(model) or fitted)
            extras[label].setdefault("macs_per_pixel", _macs_per_pixel(model))
        if only:
            continue
        task = make_task(
            deep_merge(base, {"model": methods[0]["model"]}), fold_dir / "runs" / slug(labels[0]) / seed_part
        )
        task.config["train"]["val_tile"] = int(eval_cfg.get("tile", 512))
        cases = task.eval_cases("test")
        if not cases:
            raise ConfigError("the test subset of the split is empty")
        result = evaluate_models(
            models,
            cases,
            fold_dir / "figures" / seed_part,
            figures=bool(eval_cfg.get("figures", True)) and (seed is None or seed == seeds[0]),
            stem="fold_metrics",
            progress=progress,
        )
        per_scene += [{"fold": fold_index, **({"seed": seed} if seeds else {}), **row} for row in result["per_scene"]]
        if not figures_done:
            _summary_figures(out_dir, cases[0], result["predictions"][cases[0].name])
            figures_done = True

    if only:
        return {"rows": [], "per_scene": [], "protocol": {}, "out_dir": str(out_dir)}
    rows = []
    for mean in mean_by_method(per_scene):
        label = mean["method"]
        info = extras[label]
        mean.pop("fold", None)
        if seeds:
            mean = seed_spread(mean, [row for row in per_scene if row["method"] == label], seeds)
        rows.append(
            {
                **mean,
                "params": info["params"],
                "macs_per_pixel": info["macs_per_pixel"],
                "train_seconds": float(np.mean(info["train_seconds"])),
                "train_steps": float(np.mean(info["train_steps"])),
            }
        )
    protocol = protocol_of(config, task.protocol_lines())
    write_table(per_scene, out_dir, "per_scene", "Per scene", protocol)
    write_table(rows, out_dir, "table", config.get("name", "benchmark"), protocol)
    return {"rows": rows, "per_scene": per_scene, "protocol": protocol, "out_dir": str(out_dir)}


#: Metrics whose spread over seeds a multi-seed table reports.
SEED_SPREAD_METRICS = ("psnr", "ssim", "sam", "rmse", "mrae")


def seed_spread(mean: dict, rows: list[dict], seeds: list[int]) -> dict:
    """A method's mean row of a multi-seed benchmark: the mean over seeds and scenes (``mean``, as
    :func:`~hsinr.evaluate.mean_by_method` gives it), ``scenes`` counted once, ``seeds``, and ``<metric>_seed_std``
    = sample standard deviation (n − 1; 0 for one seed) over seeds of the per-seed mean over scenes, for
    :data:`SEED_SPREAD_METRICS`. The over-rows ``<metric>_std`` columns (which would mix scenes and seeds) are dropped.

    Args:
        mean: the method's row of ``mean_by_method``.
        rows: that method's per-scene rows, each with a ``seed`` key.
        seeds: the benchmark's seeds.
    """
    out = {k: v for k, v in mean.items() if not k.endswith("_std")}
    out["scenes"] = len(rows) // len(seeds)
    out["seeds"] = len(seeds)
    for key in SEED_SPREAD_METRICS:
        if key in mean:
            per_seed = [np.mean([row[key] for row in rows if row["seed"] == seed]) for seed in seeds]
            out[f"{key}_seed_std"] = float(np.std(per_seed, ddof=1)) if len(seeds) > 1 else 0.0
    return out


def _comparable(config: dict) -> dict:
    """The part of a method's config that decides its result (the device, threads, the benchmark's name and its
    YAML anchors excluded), so identical methods of two benchmarks can share a run."""
    train = {k: v for k, v in config.get("train", {}).items() if k not in ("device", "threads")}
    return {**{k: v for k, v in config.items() if k not in ("name", "anchors")}, "train": train}


def _without_nulls(value):
    """``value`` with null entries of mappings dropped, recursively: a key added later with a null (off) default
    leaves the runs made before it reusable."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def last_step(run_dir: Path) -> int:
    """Optimiser steps a run took (0 for closed-form fits), from the last line of its ``history.jsonl``."""
    lines = (run_dir / "history.jsonl").read_text().splitlines() if (run_dir / "history.jsonl").exists() else []
    return int(json.loads(lines[-1]).get("step", 0)) if lines else 0


def method_overrides(methods: list[dict]) -> str:
    """``"label: train.loss=psnr; label2: data.augment={...}"``: the ``train`` and ``data`` settings each method of a
    benchmark sets over the benchmark's own (empty when none does)."""
    parts = []
    for method in methods:
        settings = [
            f"{section}.{key}={value}"
            for section in ("train", "data")
            for key, value in (method.get(section) or {}).items()
        ]
        if settings:
            parts.append(f"{method.get('label') or method['model']['name']}: {', '.join(settings)}")
    return "; ".join(parts)


def protocol_of(config: dict, task_lines: list[str]) -> dict:
    """The protocol lines printed above a benchmark table: the split, seed and budget of the benchmark and the
    settings each method overrides, then the task's own lines (``Task.protocol_lines``: its data, inputs, objective
    and metric definitions, with the benchmark's base settings), so a table never states another task's protocol.
    The task's ``split`` line (the scenes it drew) is appended to the split line; a ``regions`` line (one cube cut
    into train/validation/test regions) replaces it, since ``data.split`` does not apply there; any other task line
    with a key of ours replaces ours."""
    data, tcfg = config["data"], config["train"]
    if tcfg.get("steps"):
        budget = f"{tcfg['steps']} optimiser steps per learned method"
    else:
        budget = f"{tcfg.get('epochs')} epochs × {data.get('patches_per_epoch')} patches"
    budget += f" (batch {tcfg.get('batch_size')} of {data.get('patch_size')}² patches; per-method overrides below)"
    if tcfg.get("max_minutes"):
        budget += f", capped at {tcfg['max_minutes']} min per method (wall clock): train_steps gives the steps run"
    folds = config.get("folds") or []
    if len(folds) > 1:  # the task's line would describe the last fold only: every fold's sizes instead
        sizes = ", ".join(f"{key} " + "/".join(str(len(fold.get(key) or [])) for fold in folds) for key in SUBSETS)
        split = f"{len(folds)} explicit folds (each scene tested once): {sizes} scenes"
    elif folds:
        split = "1 explicit fold"
    else:
        split = f"data.split = {data.get('split')}"
    protocol = {
        "split": split,
        "seed": (
            f"{config['seeds']}: each method trained once per seed; mean over seeds, <metric>_seed_std = sample std"
            if config.get("seeds")
            else config.get("seed", 0)
        ),
        "budget": budget + f", Adam lr {tcfg.get('lr')} ({tcfg.get('schedule') or 'step'} schedule, weight decay "
        f"{tcfg.get('weight_decay') or 0}), augment {data.get('augment', True)}",
    }
    overrides = method_overrides(config.get("methods") or [])
    if overrides:
        protocol["per-method overrides"] = overrides
    for line in task_lines:
        key, _, text = line.partition(": ")
        key, text = (key, text) if text else ("task", line)
        if key == "split":  # the scenes the task drew with the split above
            if len(folds) <= 1:
                protocol["split"] += f": {text}"
        elif key == "regions":  # the task splits one cube into regions: data.split does not apply
            protocol.pop("split")
            protocol[key] = text
        else:
            protocol[key] = text
    protocol["PSNR"] = "psnr = PSNR-peak1 (peak 1, per band, mean over bands); psnr_max = eq. 12 (peak max(gt))"
    protocol["timing"] = "ms_per_mpix: inference on the evaluation device, same run for all methods (compare ratios)"
    return protocol


def _macs_per_pixel(model) -> float:
    """MACs per output pixel on a 64×64 output: RGB models via :func:`macs_per_pixel`; fusion models
    (``input_keys == ("lr_hsi", "hr_msi")``) on zero inputs of ``(1, hsi_bands, 64/scale, 64/scale)`` and
    ``(1, msi_bands, 64, 64)``."""
    if tuple(getattr(model, "input_keys", ("rgb",))) != ("lr_hsi", "hr_msi"):
        return macs_per_pixel(model, 64, 64)
    side = 64 // model.scale
    lr_hsi = torch.zeros(1, model.hsi_bands, side, side)
    hr_msi = torch.zeros(1, model.msi_bands, side * model.scale, side * model.scale)
    model.eval()
    return count_macs(model, (lr_hsi, hr_msi)) / float(hr_msi.shape[-2] * hr_msi.shape[-1])


def _summary_figures(out_dir: Path, case, predictions: dict) -> None:
    band_grid_figure(
        out_dir / "fig5_methods.png",
        case.truth,
        predictions,
        case.wavelengths,
        title=f"{case.name}: ground truth (top) and |error| of each method",
    )
    spectra_figure(out_dir / "spectra_methods.png", case.truth, predictions, case.wavelengths, title=case.name)
