"""Atomic outputs: every file the project writes appears complete at its final name, or not at all.

A writer gets a temporary path *beside* the target (same folder, so same file system), writes there, and only when
it finished without error is the file flushed to disk (``fsync``) and renamed over the target with
:func:`os.replace`, which POSIX makes atomic. On any exception — a library error, a full disk, Ctrl-C
(``KeyboardInterrupt``) — the temporary file is removed and the target is left as it was: a file that was already
at the output path is never deleted or truncated by a failed write.

Temporary names are hidden and recognisable: ``.<name>.<8 hex>.tmp<suffix>`` (the target's suffix is kept, because
imageio, matplotlib and ``np.savez`` choose the format from it). A process killed with SIGKILL cannot clean up;
:func:`remove_stale_temporaries` removes such leftovers (the run folder does it when a run starts).

Write errors of the operating system become one-line :class:`~hsinr.errors.DataError` messages
(:func:`output_error`): a full disk (``ENOSPC``), a read-only or forbidden folder (``EROFS``, ``EACCES``).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import DataError

TEMPORARY_PATTERN = re.compile(r"^\..+\.[0-9a-z_]{8}\.tmp(\.[^.]+)?$")
"""Names made by :func:`temporary_beside` (and by :func:`hsinr.checkpoint.atomic_torch_save`)."""


def temporary_beside(target: str | os.PathLike) -> Path:
    """A fresh hidden temporary path in ``target``'s folder: ``.<name>.<8 hex>.tmp<suffix>`` (not created)."""
    target = Path(target)
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a name made by :func:`temporary_beside`."""
    return bool(TEMPORARY_PATTERN.match(Path(path).name))


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a closed file's data to the disk (no-op where the OS does not allow opening it for that)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable (best effort: some file systems refuse to open or fsync a directory)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def commit(temporary: str | os.PathLike, target: str | os.PathLike) -> None:
    """``fsync`` the finished ``temporary`` file and rename it over ``target`` atomically."""
    fsync_file(temporary)
    os.replace(temporary, target)
    _fsync_folder(Path(target).parent)


def discard(temporary: str | os.PathLike) -> None:
    """Remove a temporary file; never raises."""
    with suppress(OSError):
        Path(temporary).unlink(missing_ok=True)


def is_disk_full(exc: BaseException) -> bool:
    """True for an ``OSError`` meaning "no space left" (h5py reports it only in the message text)."""
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc)


def output_error(exc: BaseException, target: str | os.PathLike) -> DataError:
    """A one-line :class:`DataError` for an OS error while writing ``target`` (disk full, read-only, …)."""
    target = Path(target)
    if is_disk_full(exc):
        return DataError(
            f"{target}: disk full while writing (no space left in {target.parent}); nothing was written at this path"
        )
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DataError(f"{target}: cannot write in {target.parent} ({os.strerror(code)})")
    if code == errno.ENOENT and not target.parent.is_dir():
        return DataError(f"{target}: output folder {target.parent} does not exist")
    if code in (errno.EISDIR,) or target.is_dir():
        return DataError(f"{target}: is a folder, not a file")
    text = str(exc).strip()
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else type(exc).__name__)
    return DataError(f"{target}: cannot write ({reason})")


def check_free_space(folder: str | os.PathLike, nbytes: int, target: str | os.PathLike) -> None:
    """:class:`DataError` before writing when ``folder`` has less than ``nbytes`` free."""
    with suppress(OSError):  # a folder whose usage cannot be read: let the write itself decide
        free = shutil.disk_usage(folder).free
        if nbytes > free:
            raise DataError(
                f"{target}: needs {nbytes / 2**20:.1f} MiB but only {free / 2**20:.1f} MiB are free in {Path(folder)}"
            )


def preallocate(path: str | os.PathLike, nbytes: int) -> None:
    """Reserve ``nbytes`` of disk for an existing file, so writing through a memory map cannot die of SIGBUS on a
    full disk: the shortage is an ``OSError`` (``ENOSPC``) now instead. File systems without ``fallocate`` are
    left as they are."""
    if not hasattr(os, "posix_fallocate") or nbytes <= 0:
        return
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, int(nbytes))
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


def check_output_folder(target: str | os.PathLike) -> Path:
    """The target file as a :class:`Path`, after checking that it is not itself a folder and that its folder exists
    and may be written in (a read-only file system, or a folder without write permission, is refused)."""
    target = Path(target)
    if target.is_dir():
        raise DataError(f"{target}: is a folder; give a file name")
    if not target.parent.is_dir():
        raise DataError(f"{target}: output folder {target.parent} does not exist")
    if not _writable(target.parent):
        raise DataError(f"{target}: cannot write in {target.parent} (read-only or not permitted)")
    return target


def prepare_output_folder(folder: str | os.PathLike) -> Path:
    """Create the output *folder* of a command (``evaluate -o``, ``benchmark -o``, ``synth -o``, figures), or refuse
    in one line: a file in its place, a folder that cannot be created, a folder that cannot be written in.

    Raises:
        DataError: naming ``folder`` and the reason.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: is a file, not a folder; give a folder name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from None
    if not _writable(folder):
        raise DataError(f"{folder}: cannot write in this output folder (read-only or not permitted)")
    return folder


def _writable(folder: Path) -> bool:
    """Whether files may be created in ``folder`` (``access(2)``, which also reports a read-only file system)."""
    return os.access(folder, os.W_OK | os.X_OK)


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write; rename it over ``target`` when the block succeeds.

    On any exception (``KeyboardInterrupt`` included) the temporary file is removed and ``target`` is untouched;
    an ``OSError`` of the write (disk full, read-only folder) becomes a one-line :class:`DataError`.

    Example::

        with atomic_path("out/preview.png") as tmp:
            imageio.v3.imwrite(tmp, image)
    """
    target = check_output_folder(target)
    temporary = temporary_beside(target)
    try:
        yield temporary
        commit(temporary, target)
    except OSError as exc:
        discard(temporary)
        raise output_error(exc, target) from exc
    except BaseException:
        discard(temporary)
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as temporary:
        Path(temporary).write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files (:func:`is_temporary`) directly inside ``folder``; returns what was removed.

    Call it only where no other process writes at the same time (a run folder under its lock)."""
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and is_temporary(path):
                discard(path)
                removed.append(path)
    return removed
