"""Pretrained weights shipped inside the package, their registry, and one-line loading.

- :mod:`.registry`: ``registry.json`` (name → file, SHA-256, camera response, architecture, parameters, training data,
  optimiser steps, held-out scores) and the SHA-256 check of every load. ``$HSINR_PRETRAINED_DIR`` points elsewhere.
- :mod:`.load`: :func:`load_model` takes a registry name (``"srgb"``, ``"cie1964"``, ``"nikon_d700_cave"``) or a
  checkpoint path and returns ``(model, meta)``.
- :mod:`.register`: :func:`register_weights` copies a trained ``best.pt`` into ``weights/`` without its training
  state and records it (``benchmarks/register_pretrained.py`` is its command line).

``hsinr models`` lists the registry; ``hsinr reconstruct photo.jpg -o cube.h5`` uses the default model (``srgb``).
How the weights are trained and scored: ``docs/pretrained.md``.
"""

from .load import load_model, looks_like_path, resolve
from .register import register_weights
from .registry import (
    ENV_DIR,
    default_name,
    file_sha256,
    get_entry,
    is_shipped,
    model_names,
    read_registry,
    registry_dir,
    verified_weight_path,
)

__all__ = [
    "ENV_DIR",
    "default_name",
    "file_sha256",
    "get_entry",
    "is_shipped",
    "load_model",
    "looks_like_path",
    "model_names",
    "read_registry",
    "register_weights",
    "registry_dir",
    "resolve",
    "verified_weight_path",
]
