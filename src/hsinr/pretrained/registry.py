"""The registry of shipped weights: one JSON file beside a ``weights/`` folder.

``registry.json`` (in this package, or in the folder named by the environment variable ``HSINR_PRETRAINED_DIR``, which
tests and packagers use to point elsewhere) holds::

    {"format": "hsinr-pretrained-registry-1",
     "default": "srgb",
     "models": {"srgb": {"file": "weights/srgb.pt", "sha256": "…", "response": "srgb", "architecture": {…},
                         "parameters": 123456, "training_data": "…", "steps": 4000, "heldout": {…},
                         "config": "configs/pretrained/srgb.yaml", "description": "…", "bytes": 512000}, …}}

An entry whose ``sha256`` is ``null`` is *planned*: it says how the weight will be trained but no file is shipped yet.
``file`` is relative to the registry folder. Every load checks the file's SHA-256 against the entry
(:func:`verified_weight_path`), so a corrupted or swapped file is an error, never a silent wrong model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..io.atomic import write_text_atomic

FORMAT = "hsinr-pretrained-registry-1"
ENV_DIR = "HSINR_PRETRAINED_DIR"
"""Environment variable naming a folder with its own ``registry.json`` and ``weights/`` (overrides the package's)."""

REGISTRY_FILE = "registry.json"
ENTRY_FIELDS = (
    "file",
    "sha256",
    "bytes",
    "response",
    "architecture",
    "parameters",
    "training_data",
    "steps",
    "heldout",
    "config",
    "description",
    "hsinr_version",
)
"""Fields of a registry entry, in the order they are written."""


def registry_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder holding ``registry.json``: ``root`` if given, else ``$HSINR_PRETRAINED_DIR``, else this package."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(__file__).resolve().parent


def read_registry(root: str | os.PathLike | None = None) -> dict:
    """The registry as ``{"format", "default", "models": {name: entry}}``; an empty one when the file is absent.

    A file that is not valid JSON or not of this format raises :class:`ConfigError` naming it.
    """
    path = registry_dir(root) / REGISTRY_FILE
    if not path.is_file():
        return {"format": FORMAT, "default": None, "models": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable weights registry ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("models"), dict):
        raise ConfigError(f"{path}: not an hsinr weights registry (expected format {FORMAT!r})")
    return data


def write_registry(data: dict, root: str | os.PathLike | None = None) -> Path:
    """Write ``data`` as ``registry.json`` (sorted model names, fields in :data:`ENTRY_FIELDS` order), atomically."""
    folder = registry_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    models = {}
    for name in sorted(data["models"]):
        entry = data["models"][name]
        ordered = {key: entry.get(key) for key in ENTRY_FIELDS}
        ordered.update({key: value for key, value in entry.items() if key not in ordered})
        models[name] = ordered
    text = json.dumps({"format": FORMAT, "default": data.get("default"), "models": models}, indent=2) + "\n"
    path = folder / REGISTRY_FILE
    write_text_atomic(path, text)
    return path


def model_names(root: str | os.PathLike | None = None) -> list[str]:
    """Names listed in the registry (planned ones included), sorted."""
    return sorted(read_registry(root)["models"])


def default_name(root: str | os.PathLike | None = None) -> str | None:
    """The registry's default model name (``"srgb"`` for the package), or ``None``."""
    return read_registry(root).get("default")


def get_entry(name: str, root: str | os.PathLike | None = None) -> dict:
    """The entry of ``name``; :class:`ConfigError` listing the known names when it is not in the registry."""
    models = read_registry(root)["models"]
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise ConfigError(
            f"no pretrained model named {name!r} (registry: {known}); pass a checkpoint path (.pt) for your own model"
        )
    return dict(models[name], name=name)


def is_shipped(entry: dict) -> bool:
    """Whether an entry has a weights file recorded (a ``sha256``); planned entries have none."""
    return bool(entry.get("sha256"))


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verified_weight_path(name: str, root: str | os.PathLike | None = None) -> tuple[Path, dict]:
    """The weights file of registry model ``name`` after checking its SHA-256; returns ``(path, entry)``.

    Raises :class:`ConfigError` (one line) when the model is unknown, planned but not shipped, its file is missing,
    or the file's SHA-256 differs from the registry's.
    """
    entry = get_entry(name, root)
    if not is_shipped(entry):
        how = f"hsinr train {entry['config']} -o DIR" if entry.get("config") else "hsinr train CONFIG -o DIR"
        raise ConfigError(
            f"pretrained model {name!r} is listed but its weights are not shipped with this installation yet; "
            f"train it ({how}) and pass --model DIR/best.pt"
        )
    path = registry_dir(root) / entry["file"]
    if not path.is_file():
        raise ConfigError(f"pretrained model {name!r}: weights file {path} is missing from the installation")
    actual = file_sha256(path)
    if actual != entry["sha256"]:
        raise ConfigError(
            f"pretrained model {name!r}: {path} has SHA-256 {actual[:12]}… but the registry expects "
            f"{entry['sha256'][:12]}…: the file is corrupted or was replaced; reinstall hsinr"
        )
    return path, entry
