"""``load_model(name_or_path)``: a shipped weight by registry name, or any checkpoint by path, as ``(model, meta)``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import ConfigError
from .registry import read_registry, verified_weight_path

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def looks_like_path(spec: str | os.PathLike) -> bool:
    """Whether ``spec`` is meant as a file: a ``Path``, or text with a folder separator or a checkpoint suffix.

    ``"srgb"`` is a name, ``"./srgb"``, ``"runs/a/best.pt"`` and ``"best.pt"`` are paths.
    """
    if isinstance(spec, os.PathLike):
        return True
    text = str(spec)
    return "/" in text or os.sep in text or Path(text).suffix.lower() in CHECKPOINT_SUFFIXES


def resolve(name_or_path: str | os.PathLike | None, root: str | os.PathLike | None = None) -> tuple[str, str]:
    """``("name", registry name)`` or ``("path", checkpoint path)`` for what a user passed (``None`` → default).

    A registry name wins over a file of the same bare name in the working folder (write ``./srgb`` for the file).
    Anything that is neither a registry name nor an existing file raises :class:`ConfigError` naming both options.
    """
    registry = read_registry(root)
    if name_or_path is None:
        name = registry.get("default")
        if not name:
            raise ConfigError("no default pretrained model is registered; pass --model CHECKPOINT.pt")
        return "name", name
    if not looks_like_path(name_or_path) and str(name_or_path) in registry["models"]:
        return "name", str(name_or_path)
    if looks_like_path(name_or_path) or Path(name_or_path).is_file():
        return "path", str(name_or_path)
    known = ", ".join(sorted(registry["models"])) or "none"
    raise ConfigError(f"{name_or_path!r} is neither a pretrained model name (registry: {known}) nor a checkpoint file")


def load_model(
    name_or_path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    *,
    root: str | os.PathLike | None = None,
) -> tuple[nn.Module, dict]:
    """Load a model in eval mode on ``device``; returns ``(model, meta)``.

    Args:
        name_or_path: a registry name (``"srgb"``, ``"cie1964"``, ``"nikon_d700_cave"``; see ``hsinr models``), a
            checkpoint path written by ``hsinr train``, or ``None`` for the registry's default (``"srgb"``).
        device: where to put the model.
        root: registry folder (default: the package's, or ``$HSINR_PRETRAINED_DIR``).

    Returns:
        The model and its checkpoint ``meta`` (``wavelengths`` in nm, ``srf`` ``(3, C)``, ``response``, ``rgb_stats``,
        ``spec`` …). For a registry model ``meta["pretrained"]`` holds its registry entry (``name``, ``sha256``,
        ``heldout`` scores …) after the file's SHA-256 was verified.

    Raises:
        ConfigError: unknown name, weights not shipped, SHA-256 mismatch, or an unreadable checkpoint.
    """
    from ..checkpoint import load_checkpoint

    kind, value = resolve(name_or_path, root)
    if kind == "path":
        model, meta = load_checkpoint(value, device)
        meta["source"] = str(value)
        return model, meta
    path, entry = verified_weight_path(value, root)
    model, meta = load_checkpoint(path, device)
    meta["source"] = f"pretrained:{value}"
    meta["pretrained"] = entry
    return model, meta
