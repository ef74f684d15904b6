"""Self-describing checkpoints.

A checkpoint is one ``torch.save`` file holding ``{"format", "name", "args", "state_dict", "meta", "training"}``:

* ``name`` / ``args``: the registry spec; :func:`load_checkpoint` rebuilds the model without any config file.
* ``meta``: what is needed to *use* the model: ``wavelengths`` (nm), ``srf`` (3, C) camera response and its
  ``response`` name, ``input`` normalisation, ``rgb_stats`` of the training inputs, the ``split``, ``hsinr_version``.
* ``training`` (optional): optimiser, scheduler and RNG states, epoch and step, used by ``--resume``.

Files are written atomically: to a temporary file in the same folder, flushed and fsynced, then renamed over the
target, so an interruption never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

from . import __version__
from .errors import ConfigError
from .models import make

FORMAT = "hsinr-checkpoint-1"


def atomic_torch_save(obj: object, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(
    path: str | os.PathLike, model: nn.Module, spec: dict, meta: dict, training: dict | None = None
) -> None:
    """Write ``model`` with its registry ``spec`` (``{"name", "args"}``) and ``meta`` atomically to ``path``."""
    module = model.module if hasattr(model, "module") else model  # unwrap DistributedDataParallel
    payload = {
        "format": FORMAT,
        "name": spec["name"],
        "args": dict(spec.get("args") or {}),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "meta": {**meta, "hsinr_version": __version__},
    }
    if training is not None:
        payload["training"] = training
    atomic_torch_save(payload, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load the raw checkpoint dictionary; :class:`ConfigError` naming the file when it is missing or not ours."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file: report it, never a traceback
        raise ConfigError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path}: not an hsinr checkpoint (expected format {FORMAT!r})")
    return payload


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint in eval mode on ``device``; returns ``(model, meta)``."""
    payload = read_checkpoint(path)
    model = make({"name": payload["name"], "args": payload["args"]})
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ConfigError(f"{path}: weights do not match model {payload['name']!r}: {exc}") from None
    model.eval().to(device)
    meta = dict(payload["meta"])
    meta["spec"] = {"name": payload["name"], "args": payload["args"]}
    return model, meta
