"""Self-describing checkpoints, loaded safely.

A checkpoint is one ``torch.save`` file holding ``{"format", "name", "args", "state_dict", "meta", "training"}``:

* ``name`` / ``args``: the registry spec; :func:`load_checkpoint` rebuilds the model without any config file.
* ``meta``: what is needed to *use* the model: ``wavelengths`` (nm), ``srf`` (3, C) camera response and its
  ``response`` name, ``input`` normalisation, ``rgb_stats`` of the training inputs, the ``split``, ``hsinr_version``.
* ``training`` (optional, ``last.pt`` only): optimiser, scheduler and RNG states, epoch and step, used by
  ``--resume``.

**Safe loading.** Files are read with ``torch.load(weights_only=True)``: only tensors and plain data (numbers,
strings, ``None``, lists, tuples, dicts) are rebuilt, so a file carrying a pickle payload (a model shared by someone
else, a ``meta`` with a hidden object) is refused with one line and never runs code. Everything we save is therefore
plain: :func:`plain` turns numpy arrays and scalars, paths and tuples in ``args``/``meta`` into lists and Python
numbers, and the random generators' states are stored as tensors and ints (:func:`rng_state_tensors`).

Files are written atomically: to a temporary file in the same folder, flushed and fsynced, then renamed over the
target, so an interruption never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from . import __version__
from .errors import ConfigError, DataError
from .io.atomic import atomic_path
from .models import make

FORMAT = "hsinr-checkpoint-1"
TRAINING_KEYS = ("optimizer", "scheduler", "rng", "epoch", "step", "best_score")
"""What ``training`` must hold for ``--resume``."""


def plain(value):
    """``value`` with numpy arrays/scalars → lists/numbers and paths → strings, recursively (tensors, lists and
    tuples are kept): what ``torch.load(weights_only=True)`` rebuilds."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Mapping):
        return {str(k) if isinstance(k, Path) else k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


# ---------------------------------------------------------------------------------------------------- RNG states


def rng_state_tensors() -> dict:
    """The states of Python's ``random``, numpy's global generator and torch's generators as tensors and ints.

    Returns ``{"python": {"version", "state" (625,) int64, "gauss"}, "numpy": {"keys" (624,) int64, "pos",
    "has_gauss", "cached_gaussian"}, "torch": uint8 tensor, "cuda": [uint8 tensors]}`` — loadable with
    ``weights_only=True``; :func:`set_rng_state_tensors` restores it exactly.
    """
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    if name != "MT19937":
        raise ConfigError(f"cannot save numpy's random state of kind {name!r}")
    state = {
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": None if gauss is None else float(gauss),
        },
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state_tensors(state: dict) -> None:
    """Restore the generators saved by :func:`rng_state_tensors` (CUDA states only when as many GPUs are present)."""
    try:
        py = state["python"]
        random.setstate((int(py["version"]), tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
        nps = state["numpy"]
        np.random.set_state(
            (
                "MT19937",
                nps["keys"].numpy().astype(np.uint32),
                int(nps["pos"]),
                int(nps["has_gauss"]),
                float(nps["cached_gaussian"]),
            )
        )
        torch.set_rng_state(state["torch"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
        raise ConfigError(f"the checkpoint's random-generator state is not one hsinr wrote ({exc})") from None
    cuda = state.get("cuda")
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)


# ---------------------------------------------------------------------------------------------------- writing


def atomic_torch_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename (see :mod:`hsinr.io.atomic`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as temporary:
            with open(temporary, "wb") as handle:
                torch.save(obj, handle)
    except RuntimeError as exc:  # torch's zip writer reports a full disk as "[enforce fail …] unexpected pos"
        free = shutil.disk_usage(path.parent).free / 2**20
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        raise DataError(
            f"{path}: cannot write the checkpoint ({first}); {free:.1f} MiB free in {path.parent} — is the disk full?"
        ) from None


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, spec: dict, meta: dict, training: dict | None = None
) -> None:
    """Write ``model`` with its registry ``spec`` (``{"name", "args"}``) and ``meta`` atomically to ``path``."""
    module = model.module if hasattr(model, "module") else model  # unwrap DistributedDataParallel
    payload = {
        "format": FORMAT,
        "name": spec["name"],
        "args": plain(dict(spec.get("args") or {})),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "meta": plain({**meta, "hsinr_version": __version__}),
    }
    if training is not None:
        payload["training"] = plain(training)
    atomic_torch_save(payload, path)


# ---------------------------------------------------------------------------------------------------- reading


def _refusal(path: Path, exc: pickle.UnpicklingError) -> ConfigError:
    """One line for a file that needs more than tensors and plain data to load."""
    found = re.search(r"(?:Unsupported global|Unsupported operand|GLOBAL)[:\s]+([\w.]+(?:\s[\w.]+)?)", str(exc))
    what = f" (it asks for {found.group(1)})" if found else ""
    return ConfigError(
        f"{path}: refused: the file holds Python objects other than tensors and plain data{what}; "
        "hsinr loads checkpoints with weights_only=True and never runs code stored in a file"
    )


def read_checkpoint(path: str | os.PathLike, training: bool = False) -> dict:
    """Load and validate the raw checkpoint dictionary with ``torch.load(weights_only=True)``.

    Args:
        path: a ``.pt`` file written by :func:`save_checkpoint`.
        training: also require the ``training`` state that ``--resume`` needs (``last.pt``, not ``best.pt``).

    Raises:
        ConfigError: (one line, naming the file) missing, unreadable or truncated file, a file that needs more than
            tensors and plain data (a pickle payload), or a dictionary that lacks or mistypes ``format``, ``name``,
            ``args``, ``state_dict``, ``meta`` (or ``training``).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _refusal(path, exc) from None
    except Exception as exc:  # a truncated or foreign file: report it, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an hsinr checkpoint (expected format {FORMAT!r})")
    expected = {"name": str, "args": dict, "state_dict": dict, "meta": dict}
    for key, kind in expected.items():
        if key not in payload:
            raise ConfigError(f"{path}: damaged checkpoint: no {key!r} entry")
        if not isinstance(payload[key], kind):
            raise ConfigError(
                f"{path}: damaged checkpoint: {key!r} is a {type(payload[key]).__name__}, not a {kind.__name__}"
            )
    bad = [k for k, v in payload["state_dict"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ConfigError(f"{path}: damaged checkpoint: state_dict entry {bad[0]!r} is not a named tensor")
    if training:
        state = payload.get("training")
        if not isinstance(state, dict):
            raise ConfigError(
                f"{path}: holds no training state (a best.pt or an exported model?); --resume needs "
                "the last.pt that the run wrote"
            )
        missing = [key for key in TRAINING_KEYS if key not in state]
        if missing:
            raise ConfigError(f"{path}: damaged training state: no {', '.join(missing)}")
    return payload


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode on ``device``; returns ``(model, meta)``."""
    payload = read_checkpoint(path)
    try:
        model = make({"name": payload["name"], "args": payload["args"]})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot build model {payload['name']!r} from its stored arguments ({exc})") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{path}: weights do not match model {payload['name']!r}: {first}") from None
    model.eval().to(device)
    meta = dict(payload["meta"])
    meta["spec"] = {"name": payload["name"], "args": payload["args"]}
    return model, meta
