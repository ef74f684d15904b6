"""The task contract: what a training run learns — its data, loss, validation, evaluation and checkpoint metadata.

The trainer (:mod:`hsinr.train`), the evaluator and the benchmark runner are the same for every task; a task adapts
them to one problem. Every task module (:mod:`.spectral_sr`, :mod:`.fusion`, :mod:`.synthesis`) has the shape of
:class:`Task` and registers itself with :func:`register_task`; :func:`make_task` imports them explicitly (no lazy,
silenced imports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .. import metrics
from ..cube import default_wavelengths
from ..data import save_split, split_for
from ..errors import ConfigError
from ..spectral.encoding import image_level


class Task(Protocol):
    """What every task provides (``config`` is the resolved config, ``run_dir`` the run folder).

    * ``train_dataset(seed)``: the training dataset (an :class:`~hsinr.data.patches.EpochPatchSampler`).
    * ``train_pairs()``: the training examples for closed-form models (least squares), as numpy arrays.
    * ``loss(model, batch) -> (loss, parts)``: the training objective on one batch.
    * ``eval_cases(subset)``: whole test images (:class:`EvalCase`) of ``"val"`` or ``"test"``.
    * ``validate(model, subset)``: mean metrics over :meth:`eval_cases`.
    * ``complete_spec(spec)``: the model spec with arguments that come from the data filled in.
    * ``meta()``: what a checkpoint needs to be used without the config.
    * ``protocol_lines()``: the lines every table of this task prints (data, response, loss, PSNR definition).

    Optional hooks, for tasks whose objective trains more than the model (the trainer uses them when present, see
    :func:`task_extra_state`):

    * ``discriminator_step(model, batch) -> dict``: called after every optimiser step (INSS's discriminators).
    * ``extra_state() -> dict`` and ``load_extra_state(state)``: that objective's own weights and optimiser, saved
      in ``last.pt`` (tensors, numbers, lists and dicts only) and restored on ``--resume``.
    """

    split: dict

    def train_dataset(self, seed: int): ...
    def train_pairs(self): ...
    def loss(self, model, batch: dict) -> tuple[torch.Tensor, dict]: ...
    def eval_cases(self, subset: str = "val") -> list[EvalCase]: ...
    def validate(self, model, subset: str = "val") -> dict: ...
    def complete_spec(self, spec: dict) -> dict: ...
    def meta(self) -> dict: ...
    def protocol_lines(self) -> list[str]: ...


def task_extra_state(task) -> dict:
    """The task's ``extra_state()`` (see :class:`Task`), or ``{}`` for a task without that hook."""
    hook = getattr(task, "extra_state", None)
    return hook() if hook is not None else {}


def load_task_extra_state(task, state: dict) -> None:
    """Hand ``state`` (what :func:`task_extra_state` returned when the checkpoint was written) to the task's
    ``load_extra_state``; nothing for a task without that hook."""
    hook = getattr(task, "load_extra_state", None)
    if hook is not None:
        hook(state)


_TASKS: dict[str, Callable[..., Task]] = {}


def register_task(name: str):
    """Decorator registering a task class under ``name`` (the ``task:`` key of a config)."""

    def wrap(cls):
        _TASKS[name] = cls
        return cls

    return wrap


#: Module that registers each task; :func:`make_task` imports exactly the one a config names.
TASK_MODULES = {
    "spectral_sr": "hsinr.tasks.spectral_sr",
    "fusion": "hsinr.tasks.fusion",
    "inss": "hsinr.tasks.synthesis",
}


def make_task(config: dict, run_dir: Path):
    """The task object named by ``config["task"]``."""
    import importlib

    name = config.get("task", "spectral_sr")
    if name not in TASK_MODULES:
        raise ConfigError(f"unknown task {name!r}; available: {', '.join(sorted(TASK_MODULES))}")
    importlib.import_module(TASK_MODULES[name])
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
    from ..data.synthetic import write_synthetic_dataset

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
    """Summary of training inputs: per-scene mean chromaticity range (to warn about a different camera later) and
    their mean and white exposure levels (:func:`hsinr.spectral.encoding.image_level`, averaged over the images; what
    ``hsinr reconstruct`` scales an input to)."""
    chroma = []
    for rgb in rgbs:
        mean = rgb.reshape(-1, 3).mean(axis=0).astype(np.float64)
        chroma.append(mean / max(mean.sum(), 1e-12))
    chroma = np.asarray(chroma)
    return {
        "chromaticity_min": chroma.min(axis=0).tolist(),
        "chromaticity_max": chroma.max(axis=0).tolist(),
        "mean_level": float(np.mean([rgb.mean() for rgb in rgbs])),
        "white_level": float(np.mean([image_level(rgb, "white") for rgb in rgbs])),
    }


def mean_metrics(model, cases: list[EvalCase]) -> dict:
    """Mean of :func:`hsinr.metrics.evaluate_all` over evaluation cases (empty dict for no cases)."""
    if not cases:
        return {}
    rows = [metrics.evaluate_all(case.truth, case.predict(model), **case.metric_args) for case in cases]
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def model_input_keys(model) -> tuple[str, ...]:
    """The batch keys a (possibly DDP-wrapped) model's forward takes (see :mod:`hsinr.models.contract`)."""
    from ..models.contract import input_keys

    return input_keys(model)


def complete_spec_from_response(spec: dict, srf: np.ndarray | None, wavelengths: np.ndarray) -> dict:
    """Fill the builder arguments ``srf`` (3, C) and ``wavelengths`` (nm) from the task's camera response when the
    model takes them and the config leaves them out (training-free colour-science recoveries, the prior/residual
    model's consistency projection), so the checkpoint's spec holds them and stays self-describing."""
    import inspect

    from ..models.registry import builder

    if srf is None:
        return spec
    wanted = inspect.signature(builder(spec["name"])).parameters
    args = dict(spec["args"])
    if "srf" in wanted and "srf" not in args:
        args["srf"] = np.asarray(srf).tolist()
    if "wavelengths" in wanted and "wavelengths" not in args:
        args["wavelengths"] = np.asarray(wavelengths).tolist()
    return {"name": spec["name"], "args": args}
