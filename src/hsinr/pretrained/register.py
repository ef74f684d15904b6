"""Put a trained checkpoint into the package as a shipped weight and record it in the registry.

:func:`register_weights` (run by ``benchmarks/register_pretrained.py RUN_DIR --name srgb``) takes a run folder's
``best.pt`` (or any checkpoint file), drops the training state (optimiser, scheduler and RNG states: only
``{format, name, args, state_dict, meta}`` is kept), writes it to ``weights/<name>.pt`` beside the registry, and
records its SHA-256, size, parameter count, camera response, architecture, training data and optimiser steps. Held-out
scores come from a separate run (the same recipe trained without the test scenes), so they are passed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ConfigError
from .registry import file_sha256, is_shipped, read_registry, registry_dir, write_registry

SIZE_BUDGET_BYTES = 10 * 1024 * 1024
"""All shipped weights together should stay well under this (issue 13: "a few MB in all, well under 10 MB")."""


def checkpoint_of(source: str | os.PathLike) -> Path:
    """``source`` itself when it is a file, ``source/best.pt`` when it is a run folder; :class:`ConfigError` else."""
    source = Path(source)
    if source.is_dir():
        source = source / "best.pt"
    if not source.is_file():
        raise ConfigError(f"{source}: no such checkpoint (give a run folder with best.pt, or a .pt file)")
    return source


def steps_of(payload: dict, checkpoint: Path) -> int | None:
    """Optimiser steps behind a checkpoint: ``meta["step"]``/``["steps"]``, its training state, or the run's
    ``history.jsonl`` line of the checkpoint's epoch (``best.pt`` records only its epoch); ``None`` when unknown."""
    meta = payload.get("meta") or {}
    for key in ("step", "steps"):
        if isinstance(meta.get(key), int):
            return int(meta[key])
    training = payload.get("training") or {}
    if isinstance(training.get("step"), int):
        return int(training["step"])
    history = checkpoint.parent / "history.jsonl"
    epoch = meta.get("epoch")
    if epoch == 0:
        return 0  # a closed-form fit (least squares) writes epoch 0: no optimiser steps
    if epoch is None or not history.is_file():
        return None
    for line in history.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("epoch") == epoch and isinstance(record.get("step"), int):
            return int(record["step"])
    return None


def describe_training_data(meta: dict) -> str | None:
    """Short text from the checkpoint meta's ``data`` and ``split``, e.g. ``"cave: cave_256 (26 training scenes)"``
    or, with ``data.extra_train``, ``"cave: cave_256 (26 training scenes) + 8 synthetic scenes"``."""
    data = meta.get("data") or {}
    if not data:
        return None
    text = str(data.get("kind") or "data")
    if data.get("root"):
        text += f": {Path(str(data['root'])).name}"
    train = [name for name in (meta.get("split") or {}).get("train") or [] if not name.startswith("extra/")]
    if train:
        text += f" ({len(train)} training scenes)"
    extra = data.get("extra_train") or {}
    if extra:
        count = (extra.get("synthetic") or {}).get("count") if extra.get("kind") == "synthetic" else None
        text += f" + {count} synthetic scenes" if count else f" + {extra.get('kind')}: {extra.get('root')}"
    return text


def register_weights(
    source: str | os.PathLike,
    name: str,
    *,
    root: str | os.PathLike | None = None,
    heldout: dict | None = None,
    training_data: str | None = None,
    steps: int | None = None,
    config: str | None = None,
    description: str | None = None,
    make_default: bool = False,
) -> tuple[dict, list[str]]:
    """Copy a trained checkpoint into ``<registry>/weights/<name>.pt`` and update the registry entry ``name``.

    Args:
        source: a run folder (its ``best.pt`` is used) or a checkpoint file.
        name: registry name (letters, digits, ``_``, ``-``), e.g. ``"srgb"``.
        root: registry folder (default: the package's, or ``$HSINR_PRETRAINED_DIR``).
        heldout: held-out scores to record (e.g. ``{"psnr": 38.8, "sam": 9.6, "protocol": "..."}``); kept from the
            existing entry when ``None``.
        training_data, steps, config, description: override what is read from the checkpoint / kept from the entry.
        make_default: also make ``name`` the registry's default.

    Returns:
        ``(entry, warnings)``: the registry entry written, and warnings (e.g. shipped weights over the size budget).
    """
    import torch

    from ..checkpoint import atomic_torch_save, load_checkpoint, read_checkpoint
    from ..complexity import count_parameters

    if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ConfigError(f"registry name {name!r}: use letters, digits, '_' and '-' only")
    checkpoint = checkpoint_of(source)
    payload = read_checkpoint(checkpoint)
    shipped = {key: payload[key] for key in ("format", "name", "args", "state_dict", "meta")}
    # float32 tensors are stored as float16 (half the bytes; loading casts them back): three shipped weights stay
    # under the size budget, and the outputs change by ~1e-4 of full scale (tests/test_pretrained.py checks this).
    shipped["state_dict"] = {
        key: value.half() if value.dtype == torch.float32 else value for key, value in shipped["state_dict"].items()
    }
    folder = registry_dir(root)
    relative = f"weights/{name}.pt"
    destination = folder / relative
    atomic_torch_save(shipped, destination)
    model, meta = load_checkpoint(destination)  # proves the shipped file loads on its own

    registry = read_registry(root)
    entry = dict(registry["models"].get(name) or {})
    entry.update(
        {
            "file": relative,
            "sha256": file_sha256(destination),
            "bytes": destination.stat().st_size,
            "response": meta.get("response") or entry.get("response"),
            "architecture": {"name": payload["name"], "args": payload["args"]},
            "parameters": count_parameters(model),
            "training_data": training_data or describe_training_data(meta) or entry.get("training_data"),
            "steps": steps if steps is not None else steps_of(payload, checkpoint),
            "hsinr_version": meta.get("hsinr_version"),
        }
    )
    if heldout is not None:
        entry["heldout"] = heldout
    entry.setdefault("heldout", {})
    if config is not None:
        entry["config"] = config
    if description is not None:
        entry["description"] = description
    registry["models"][name] = entry
    if make_default or not registry.get("default"):
        registry["default"] = name
    write_registry(registry, root)

    warnings = []
    total = sum(int(e.get("bytes") or 0) for e in registry["models"].values() if is_shipped(e))
    if total > SIZE_BUDGET_BYTES:
        warnings.append(
            f"shipped weights now total {total / 2**20:.1f} MiB, over the {SIZE_BUDGET_BYTES / 2**20:.0f} "
            "MiB budget of the package"
        )
    return dict(entry, name=name), warnings
