"""Tasks: what a training run learns — its data, loss, validation and the metadata its checkpoints carry.

The trainer (:mod:`hsinr.train`) is the same for every model; a task adapts it to one problem. This module holds the
spectral super-resolution task (RGB → HSI, the INR-HSISR paper) and the registry of tasks; fusion and synthesis tasks
live beside their models and register here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .cube import default_wavelengths
from .data import PatchDataset, SceneCache, discover, save_split, split_for
from .errors import ConfigError
from .infer import reconstruct
from .spectral import resolve_response

_TASKS: dict[str, Callable[..., "SpectralSRTask"]] = {}


def register_task(name: str):
    """Decorator registering a task class under ``name`` (the ``task:`` key of a config)."""

    def wrap(cls):
        _TASKS[name] = cls
        return cls

    return wrap


def make_task(config: dict, run_dir: Path):
    """The task object named by ``config["task"]``."""
    name = config.get("task", "spectral_sr")
    if name not in _TASKS:
        import importlib

        for module in ("hsinr.fusion", "hsinr.inss_losses"):  # tasks registered beside their models
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    if name not in _TASKS:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(_TASKS))}")
    return _TASKS[name](config, run_dir)


@dataclass
class EvalCase:
    """One whole test image of a task: its ground truth and how a model predicts it.

    Attributes:
        name: scene name.
        truth: ``(H, W, C)`` ground-truth cube.
        wavelengths: band centres (nm).
        predict: ``predict(model) -> (H, W, C)`` prediction (tiled inference inside).
        metric_args: extra keyword arguments of :func:`hsinr.metrics.evaluate_all` (``rgb``/``srf`` or ``ratio``).
    """

    name: str
    truth: np.ndarray
    wavelengths: np.ndarray
    predict: Callable
    metric_args: dict = field(default_factory=dict)


def config_wavelengths(data_config: dict) -> np.ndarray:
    """Band centres (nm) of a ``data.wavelengths`` section: ``{start, stop, count}`` or an explicit list."""
    spec = data_config.get("wavelengths") or {}
    if isinstance(spec, (list, tuple)):
        return np.asarray(spec, dtype=np.float64)
    return default_wavelengths(int(spec.get("count", 31)), float(spec.get("start", 400)), float(spec.get("stop", 700)))


def resolve_split(data_config: dict, run_dir: Path, names: list[str]) -> dict[str, list[str]]:
    """The run's split: explicit lists from the config, else seeded ratios; written to ``run_dir/split.json``."""
    spec = data_config.get("split") or {}
    if any(key in spec for key in ("train", "val", "test")):
        split = {key: list(spec.get(key) or []) for key in ("train", "val", "test")}
        unknown = sorted({n for subset in split.values() for n in subset} - set(names))
        if unknown:
            raise ConfigError(f"split names scenes that are not in the dataset: {', '.join(unknown)}")
        if not split["train"]:
            raise ConfigError("the split's train subset is empty")
        path = run_dir / "split.json"
        if not path.exists():
            run_dir.mkdir(parents=True, exist_ok=True)
            save_split(path, split, explicit=True)
        return split_for(run_dir, names)
    return split_for(run_dir, names, tuple(spec.get("ratios", (0.6, 0.2, 0.2))), int(spec.get("seed", 0)))


def prepare_data_root(data_config: dict, run_dir: Path) -> tuple[str, Path]:
    """``(kind, root)`` of the dataset; for ``kind: synthetic`` the scenes are generated once into the run folder."""
    kind = data_config.get("kind", "folder")
    if kind != "synthetic":
        if not data_config.get("root"):
            raise ConfigError(f"data.root is required for a {kind!r} dataset")
        return kind, Path(data_config["root"])
    from .data.synthetic import write_synthetic_dataset

    synth = data_config.get("synthetic") or {}
    root = Path(data_config.get("root") or run_dir / "synthetic")
    if not (root / "meta.json").exists():
        write_synthetic_dataset(
            root,
            count=int(synth.get("count", 20)),
            size=int(synth.get("size", 128)),
            seed=int(synth.get("seed", 0)),
            wavelengths=config_wavelengths(data_config),
            srf_spec=data_config.get("response") or "cie1964_xyz",
            kind=synth.get("kind", "natural"),
        )
    return "folder", root


def rgb_statistics(rgbs: list[np.ndarray]) -> dict:
    """Summary of training inputs used to warn about a different camera later: per-scene mean chromaticity range."""
    chroma = []
    for rgb in rgbs:
        mean = rgb.reshape(-1, 3).mean(axis=0).astype(np.float64)
        chroma.append(mean / max(mean.sum(), 1e-12))
    chroma = np.asarray(chroma)
    return {
        "chromaticity_min": chroma.min(axis=0).tolist(),
        "chromaticity_max": chroma.max(axis=0).tolist(),
        "mean_level": float(np.mean([rgb.mean() for rgb in rgbs])),
    }


@register_task("spectral_sr")
class SpectralSRTask:
    """RGB → HSI (INR-HSISR and its baselines): L1 loss (eq. 1/11), whole-image validation with the metric contract.

    The RGB of every scene is rendered from its cube with the configured camera response (``data.response``;
    ``rgb = cube @ srf.T``, eq. 4) unless ``data.response`` is ``null``, in which case the dataset's paired RGB files
    are used.
    """

    def __init__(self, config: dict, run_dir: Path):
        self.config, self.run_dir = config, Path(run_dir)
        data = config["data"]
        kind, root = prepare_data_root(data, self.run_dir)
        self.items = discover(kind, root)
        if data.get("scenes"):  # restrict to the listed scenes (e.g. to keep overlapping crops out)
            wanted = set(data["scenes"])
            unknown = sorted(wanted - {item.name for item in self.items})
            if unknown:
                raise ConfigError(f"data.scenes names scenes not found in {root}: {', '.join(unknown)}")
            self.items = [item for item in self.items if item.name in wanted]
        self.wavelengths = config_wavelengths(data)
        self.response = resolve_response(data["response"], self.wavelengths) if data.get("response") else None
        self.scenes = SceneCache(self.items, srf=self.response)
        self.split = resolve_split(data, self.run_dir, [item.name for item in self.items])

    def train_dataset(self, seed: int) -> PatchDataset:
        data = self.config["data"]
        return PatchDataset(
            self.scenes.pairs(self.split["train"]),
            patch_size=int(data.get("patch_size", 64)),
            patches_per_epoch=int(data.get("patches_per_epoch", 1000)),
            augment=bool(data.get("augment", True)),
            seed=seed,
        )

    def train_pairs(self):
        """(RGB, cube) numpy pairs of the training scenes (closed-form models fit on these)."""
        return [(pair.rgb, pair.cube) for pair in self.scenes.pairs(self.split["train"])]

    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]:
        pred = model(*(batch[key] for key in model_input_keys(model)))
        loss = F.l1_loss(pred, batch["cube"])
        return loss, {"l1": float(loss.detach())}

    def eval_cases(self, subset: str = "val") -> list[EvalCase]:
        """Whole images of ``subset``: RGB → cube with :func:`hsinr.infer.reconstruct` (``train.val_tile``)."""
        tile = int(self.config["train"].get("val_tile", 512))
        srf = self.srf_array()
        cases = []
        for pair in self.scenes.pairs(self.split.get(subset) or []):
            cases.append(EvalCase(pair.name, pair.cube, pair.wavelengths,
                                  lambda model, rgb=pair.rgb: reconstruct(rgb, model, tile=tile, progress=False),
                                  {"rgb": pair.rgb, "srf": srf}))
        return cases

    def validate(self, model, subset: str = "val") -> dict:
        """Mean metrics over the whole images of ``subset`` (empty dict when the subset is empty)."""
        return mean_metrics(model, self.eval_cases(subset))

    def srf_array(self) -> np.ndarray | None:
        return None if self.response is None else np.asarray(self.response.srf, dtype=np.float64)

    def meta(self) -> dict:
        """What a checkpoint needs to be used later without the config (see :mod:`hsinr.checkpoint`)."""
        train_rgbs = [pair.rgb for pair in self.scenes.pairs(self.split["train"])]
        return {
            "task": "spectral_sr",
            "wavelengths": self.wavelengths.tolist(),
            "srf": None if self.response is None else np.asarray(self.response.srf).tolist(),
            "response": None if self.response is None else self.response.name,
            "input": "linear RGB in [0, 1], rgb = cube @ srf.T (eq. 4), no gamma",
            "rgb_stats": rgb_statistics(train_rgbs),
            "split": self.split,
            "data": {"kind": self.config["data"].get("kind"), "root": str(self.config["data"].get("root"))},
        }


def mean_metrics(model, cases: list[EvalCase]) -> dict:
    """Mean of :func:`hsinr.metrics.evaluate_all` over evaluation cases (empty dict for no cases)."""
    if not cases:
        return {}
    rows = [metrics.evaluate_all(case.truth, case.predict(model), **case.metric_args) for case in cases]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def model_input_keys(model) -> tuple[str, ...]:
    """The batch keys a (possibly DDP-wrapped) model's forward takes."""
    module = model.module if hasattr(model, "module") else model
    return tuple(getattr(module, "input_keys", ("rgb",)))
