"""Experiment configuration: YAML files merged over defaults, plus ``key.sub=value`` overrides from the CLI.

Every key is documented in ``configs/README.md``. The resolved configuration is written into the run folder, so that
a run can always be repeated.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .errors import ConfigError

DEFAULTS: dict = {
    "name": "experiment",
    "seed": 0,
    "task": "spectral_sr",
    "model": {"name": "inr_hsisr", "args": {}},
    "data": {
        "kind": "folder",  # cave | arad | icvl | harvard | nus | folder | synthetic
        "root": None,
        "response": "cie1964_xyz",  # builtin name, or a file (e.g. nikon_d700_cave.mat); "path:key" for camspec
        "wavelengths": {"start": 400, "stop": 700, "count": 31},
        "split": {"ratios": [0.6, 0.2, 0.2], "seed": 0},  # or explicit lists: {"train": [...], "val": [...], "test": [...]}
        "patch_size": 64,
        "patches_per_epoch": 1000,
        "augment": True,
        "synthetic": {"count": 20, "size": 128, "seed": 0, "kind": "natural"},
    },
    "train": {
        "epochs": 1000,
        "batch_size": 8,
        "lr": 1.0e-4,
        "lr_step": 200,  # epochs between learning-rate decays
        "lr_gamma": 0.1,
        "loss": "l1",
        "device": "auto",
        "max_minutes": None,  # wall-clock budget; checked at the end of each epoch
        "val_every": 1,
        "val_tile": 512,
        "threads": None,
    },
}


def deep_merge(base: dict, update: dict) -> dict:
    """A copy of ``base`` with ``update`` merged in recursively (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> dict:
    """Defaults ← YAML file ← ``overrides`` (``["train.epochs=5", "model.args.cell_size=8"]``, YAML values)."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        config = deep_merge(config, loaded)
    for item in overrides or []:
        set_dotted(config, item)
    return config


def set_dotted(config: dict, assignment: str) -> None:
    """Apply one ``a.b.c=value`` override in place; the value is parsed as YAML (``5``, ``1e-4``, ``[1,2]``, ``null``)."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r} is not of the form key.sub=value")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {assignment!r}: {exc}") from None
    node = config
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {assignment!r}: {part!r} is not a section")
    node[parts[-1]] = value


def save_config(config: dict, path: str | Path) -> None:
    """Write the resolved configuration as YAML."""
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False))
