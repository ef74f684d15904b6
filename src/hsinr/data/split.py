"""Train / validation / test splits of scene names: seeded, written to the run folder, reused.

A *split* is a dict ``{"train": [...], "val": [...], "test": [...]}`` of scene names, each list sorted. Training writes
it to ``<run_dir>/split.json`` and evaluation reads the same file, so the two always see the same scenes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io.atomic import write_text_atomic

SUBSETS = ("train", "val", "test")
SPLIT_FILE = "split.json"


def make_split(names: Iterable[str], ratios: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0) -> dict[str, list[str]]:
    """Split scene names at random into train / val / test.

    The result depends only on the *set* of names, the ratios and the seed: names are sorted, then shuffled with
    ``numpy.random.default_rng(seed)``; the first ``n_train`` shuffled names go to train, the next ``n_val`` to val,
    the rest to test. Each list in the result is sorted.

    Rounding: ratios are normalised to sum to 1 and the counts are ``n * ratio`` rounded down, the names left over
    going one each to the subsets with the largest fractional parts (ties: train, then val, then test). When there
    are at least 3 names, every subset whose ratio is positive then gets at least one name, taken from the largest
    subset. Examples with the default ratios: 3 names -> 1/1/1, 4 -> 2/1/1, 5 -> 3/1/1, 10 -> 6/2/2; with fewer
    than 3 names some subsets stay empty (1 -> 1/0/0, 2 -> 1/1/0).

    Args:
        names: scene names, unique.
        ratios: three non-negative fractions (train, val, test) with a positive sum.
        seed: random seed.

    Raises:
        ConfigError: duplicate names or invalid ratios.
    """
    ordered = sorted(names)
    duplicates = sorted(name for name, count in Counter(ordered).items() if count > 1)
    if duplicates:
        raise ConfigError(f"duplicate scene names cannot be split: {', '.join(duplicates)}")
    counts = _subset_sizes(len(ordered), _check_ratios(ratios))
    order = np.random.default_rng(seed).permutation(len(ordered))
    shuffled = [ordered[i] for i in order]
    split, start = {}, 0
    for subset, count in zip(SUBSETS, counts, strict=True):
        split[subset] = sorted(shuffled[start : start + count])
        start += count
    return split


def leave_one_out(names: Iterable[str], held_out: str | Sequence[str]) -> dict[str, list[str]]:
    """The protocol for a handful of real scenes: train on all but ``held_out``, validate and test on ``held_out``.

    With 3 or 4 scenes there is nothing to spare for a separate validation set, so ``val`` and ``test`` hold the same
    scenes; numbers reported on such a split are test numbers of a model selected on the test scenes. Scenes that
    overlap in content (two crops of one photograph) must not be on opposite sides: leave one of them out of
    ``names``.

    Raises:
        ConfigError: a held-out name is not among ``names``, or nothing is left for training.
    """
    all_names = sorted(set(names))
    held = sorted({held_out} if isinstance(held_out, str) else set(held_out))
    unknown = [name for name in held if name not in all_names]
    if unknown:
        raise ConfigError(f"held-out scenes {', '.join(unknown)} are not in the dataset ({', '.join(all_names)})")
    train = [name for name in all_names if name not in held]
    if not train or not held:
        raise ConfigError("leave_one_out needs at least one scene held out and one scene left for training")
    return {"train": train, "val": list(held), "test": list(held)}


def save_split(path: str | Path, split: dict[str, list[str]], **info) -> None:
    """Write ``split`` as JSON (keys train/val/test, plus any ``info`` such as ``seed`` and ``ratios``), atomically."""
    _check_split(split, str(path))
    payload = {subset: sorted(split[subset]) for subset in SUBSETS}
    payload.update(info)
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")


def load_split(path: str | Path) -> dict[str, list[str]]:
    """Read a split written by :func:`save_split`; returns only the train/val/test lists.

    Raises:
        ConfigError: the file is missing, is not JSON, or lacks a subset.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: split file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not a valid JSON split file ({exc})") from None
    if not isinstance(payload, dict):
        raise ConfigError(f"{path}: expected a JSON object with keys {', '.join(SUBSETS)}")
    _check_split(payload, str(path))
    return {subset: list(payload[subset]) for subset in SUBSETS}


def split_for(
    run_dir: str | Path, names: Iterable[str], ratios: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0
) -> dict[str, list[str]]:
    """The split of a run: ``<run_dir>/split.json`` when it exists, else a new :func:`make_split` written there.

    An existing file always wins over ``ratios`` and ``seed`` (a resumed run and its evaluation must see the scenes
    the run was trained on); scenes added to the dataset since are in no subset.

    Raises:
        ConfigError: the existing file names scenes that are not in ``names``.
    """
    run_dir = Path(run_dir)
    path = run_dir / SPLIT_FILE
    available = set(names)
    if path.exists():
        split = load_split(path)
        missing = sorted({name for subset in SUBSETS for name in split[subset]} - available)
        if missing:
            raise ConfigError(
                f"{path}: names scenes that are not in the dataset: {', '.join(missing)}; "
                "point to the dataset the run was made with, or delete the file to make a new split"
            )
        return split
    split = make_split(available, ratios, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_split(path, split, seed=seed, ratios=[float(r) for r in ratios])
    return split


def _check_ratios(ratios: Sequence[float]) -> np.ndarray:
    """Validate three non-negative ratios with a positive sum; return them normalised to sum to 1."""
    values = np.asarray(ratios, dtype=np.float64).reshape(-1)
    if values.size != 3 or not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ConfigError(f"split ratios must be three non-negative numbers (train, val, test), got {list(ratios)}")
    return values / values.sum()


def _subset_sizes(n: int, ratios: np.ndarray) -> list[int]:
    """Largest-remainder rounding of ``n * ratios``, then at least one name per positive-ratio subset when n >= 3."""
    exact = n * ratios
    counts = np.floor(exact).astype(int)
    remainder = exact - counts
    for index in np.argsort(-remainder, kind="stable")[: n - counts.sum()]:
        counts[index] += 1
    if n >= 3:
        for index in np.flatnonzero((counts == 0) & (ratios > 0)):
            counts[np.argmax(counts)] -= 1
            counts[index] += 1
    return [int(c) for c in counts]


def _check_split(split: dict, where: str) -> None:
    """Raise :class:`ConfigError` unless ``split`` has train/val/test lists of names and no training scene is in
    val or test (val and test may share scenes, as in :func:`leave_one_out`)."""
    for subset in SUBSETS:
        entries = split.get(subset)
        if not isinstance(entries, list) or not all(isinstance(name, str) for name in entries):
            raise ConfigError(f"{where}: split subset {subset!r} must be a list of scene names")
    leaked = sorted(set(split["train"]) & (set(split["val"]) | set(split["test"])))
    if leaked:
        raise ConfigError(f"{where}: scenes in both train and val/test: {', '.join(leaked)}")
