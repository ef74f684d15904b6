"""A run folder belongs to one run: claim it before training writes anything into it.

:func:`claim_run_folder` decides, *before* a single file of the run is written, whether training may use the folder:

* a folder that already holds a run (``last.pt``, ``best.pt`` or ``history.jsonl``) is refused unless the caller
  continues it (``resume``) or replaces it (``overwrite``: those files and ``config.yaml`` are deleted; a
  ``split.json`` is kept, so a re-run uses the same split);
* ``resume`` needs a ``last.pt`` with its training state, made by the same settings: every configuration key that
  changes what the next step computes (model, task, data, seed, patch size, optimiser, schedule, …) must be equal;
  only :data:`RESUME_MAY_CHANGE` (the budget, the device, how often to validate, …) may differ. With
  ``allow_changed`` (``hsinr train --resume --allow-changed``) other changes are a logged warning naming the keys
  instead: the run continues from ``last.pt`` but is no longer the run one uninterrupted training would give;
* a lock file (``.hsinr.lock``, ``fcntl.flock``) refuses a second concurrent writer. The operating system releases the
  lock when the process ends, however it ends (``kill -9`` included), so a lock is never stale; the file itself stays;
* temporary files of saves that were killed (``.last.pt.<8 chars>.tmp``) are removed.

Every refusal is a one-line :class:`~hsinr.errors.ConfigError`. Under ``torchrun`` only rank 0 claims the folder
(the other ranks write nothing).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from .checkpoint import read_checkpoint
from .errors import ConfigError
from .io.atomic import remove_stale_temporaries

LOG = logging.getLogger(__name__)
RUN_FILES = ("last.pt", "best.pt", "history.jsonl")
"""Files whose presence means the folder holds a run."""
REPLACED_BY_OVERWRITE = (*RUN_FILES, "config.yaml")
LOCK_NAME = ".hsinr.lock"
RESUME_MAY_CHANGE = (
    "name",
    "train.epochs",
    "train.steps",
    "train.max_minutes",
    "train.early_stop",
    "train.device",
    "train.threads",
    "train.val_every",
    "train.save_every",
    "train.val_tile",
    "train.compile",
    "data.root",
)
"""Configuration keys (and sections below them) that ``--resume`` accepts changed: they do not alter the steps."""


class RunFolder:
    """A claimed run folder: holds the lock until :meth:`release` (or the end of a ``with`` block)."""

    def __init__(self, path: Path, handle=None) -> None:
        self.path = Path(path)
        self._handle = handle

    @property
    def locked(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        """Release the lock (idempotent). The lock file stays: deleting it would let two writers lock two files."""
        if self._handle is not None:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            finally:
                self._handle.close()
                self._handle = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holds_run(folder: str | os.PathLike) -> list[str]:
    """Names of the :data:`RUN_FILES` present in ``folder`` (empty: no run there)."""
    folder = Path(folder)
    return [name for name in RUN_FILES if (folder / name).exists()]


def _is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _flatten(tree, prefix: str = "") -> dict:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def changed_settings(saved: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between the configuration a run was made with and ``current``, except
    :data:`RESUME_MAY_CHANGE` and keys the saved configuration does not have (written by an older version)."""
    old, new = _flatten(saved), _flatten(current)

    def may_change(key: str) -> bool:
        return any(key == allowed or key.startswith(allowed + ".") for allowed in RESUME_MAY_CHANGE)

    changed = []
    for key in sorted(set(old) | set(new)):
        if may_change(key) or key not in old:
            continue
        if old.get(key) != new.get(key):
            changed.append(f"{key}: {old.get(key)!r} → {new.get(key)!r}")
    return changed


def _check_resume(run_dir: Path, config: dict | None, allow_changed: bool = False) -> None:
    last = run_dir / "last.pt"
    if not last.is_file():
        raise ConfigError(f"{last}: nothing to resume (no last checkpoint in the run folder)")
    payload = read_checkpoint(last, training=True)
    saved = payload["meta"].get("config")
    if config is not None and isinstance(saved, dict):
        changed = changed_settings(saved, config)
        if changed and allow_changed:
            LOG.warning(
                "%s: resuming with changed settings (%s); the run no longer continues exactly",
                run_dir,
                "; ".join(changed),
            )
        elif changed:
            shown = "; ".join(changed[:4]) + (f"; and {len(changed) - 4} more" if len(changed) > 4 else "")
            raise ConfigError(
                f"{run_dir}: --resume with changed settings would not continue the run exactly "
                f"({shown}); restore them, accept them with --allow-changed, or start a new run with --overwrite or "
                "another -o"
            )


def _lock(run_dir: Path):
    path = run_dir / LOCK_NAME
    try:
        handle = open(path, "a+")
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot write in the run folder ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "?"
        handle.close()
        raise ConfigError(
            f"{run_dir}: another training (pid {owner}) is writing into this run folder; wait for it "
            "to end or choose another -o"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def claim_run_folder(
    run_dir: str | os.PathLike,
    config: dict | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    allow_changed: bool = False,
) -> RunFolder:
    """Check that a training may write into ``run_dir``, then lock it; returns the claimed :class:`RunFolder`.

    Args:
        run_dir: the run folder (created when missing, after the checks).
        config: the resolved configuration of the new run, compared with the saved one on ``resume``.
        resume: continue the run in the folder (needs ``last.pt`` with its training state and unchanged settings,
            unless ``allow_changed``).
        overwrite: replace the run in the folder (its checkpoints, history and config are deleted once locked).
        allow_changed: with ``resume``, log a warning naming the changed settings instead of refusing them.

    Raises:
        ConfigError: ``run_dir`` is a file; it holds a run and neither flag is given; ``resume`` with nothing or
            something else to resume (or changed settings without ``allow_changed``); both flags; another process
            holds the lock; the folder is not writable.
    """
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: continue the run or replace it")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: is a file, not a run folder")
    if not _is_main_rank():
        return RunFolder(run_dir)
    if resume:
        _check_resume(run_dir, config, allow_changed)
    elif holds_run(run_dir) and not overwrite:
        raise ConfigError(
            f"{run_dir}: already holds a run ({', '.join(holds_run(run_dir))}); continue it with "
            "--resume or replace it with --overwrite"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot create the run folder ({exc.strerror or exc})") from None
    folder = RunFolder(run_dir, _lock(run_dir))
    try:
        if not resume and not overwrite and holds_run(run_dir):  # a run finished between the check and the lock
            raise ConfigError(
                f"{run_dir}: already holds a run; continue it with --resume or replace it with --overwrite"
            )
        for stale in remove_stale_temporaries(run_dir):
            LOG.info("removed %s (left by an interrupted save)", stale)
        if overwrite:
            for name in REPLACED_BY_OVERWRITE:
                (run_dir / name).unlink(missing_ok=True)
    except BaseException:
        folder.release()
        raise
    return folder
