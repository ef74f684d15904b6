"""The ``hsinr`` command line: a thin layer that parses arguments, calls the library and prints.

Each subcommand lives in its own module under :mod:`hsinr.commands` and provides ``add_parser(subparsers)`` (which
registers the subcommand and sets ``func``) . User errors (:class:`hsinr.errors.HsinrError`) end with one line on
stderr and exit code 2; anything else is a bug and keeps its traceback. Ctrl-C ends with one line and exit code 130,
SIGTERM with one line and exit code 143 (128 + 15): both unwind the command, so temporary files of unfinished
outputs are removed (see :mod:`hsinr.io.atomic`). Library modules report progress through :mod:`logging`
(``logging.getLogger(__name__)``); :func:`configure_logging` shows their INFO messages on stderr as
``[module] message``. Warnings of the libraries (tifffile, h5py, torch, …) are held while a command runs
(:class:`_HeldWarnings`), so that a user error is the only line it prints.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from . import __version__, commands
from .errors import HsinrError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
"""Ctrl-C (``KeyboardInterrupt``): 128 + SIGINT, as a shell reports it."""
EXIT_TERMINATED = 143
"""SIGTERM (``kill PID``, a batch system's time limit): 128 + SIGTERM."""


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM during a command, so that it unwinds like Ctrl-C:
    ``finally`` blocks run and unfinished outputs are removed (:func:`hsinr.io.atomic.atomic_path`)."""


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (the previous handler is restored
    afterwards). A forked child that inherited the handler dies of the signal as it would without it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pid = os.getpid()

    def unwind(signum, frame):
        if os.getpid() != pid:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _HoldingHandler(logging.Handler):
    """Keeps the formatted log records of level WARNING and above in ``lines`` instead of printing them."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.lines = lines
        self.setFormatter(logging.Formatter("[%(name)s] %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class _HeldWarnings:
    """Holds the warnings a command raises — Python :mod:`warnings` and library log records (tifffile logs its
    warnings) of level WARNING and above — so that a user error is the only line the command prints.

    Held lines are shown before the next message of an ``hsinr`` logger (a long run shows them as it goes) and when
    the command ends in success or in a bug's traceback; they are dropped when it ends with a user error, Ctrl-C or
    SIGTERM. Messages of the ``hsinr`` loggers themselves and the commands' own ``warning:`` lines are not held.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._catch = warnings.catch_warnings()
        self._handler = _HoldingHandler(self.lines)

    def _hold_warning(self, message, category, filename, lineno, file=None, line=None) -> None:
        self.lines.append(warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n"))

    def _show_first(self, record: logging.LogRecord) -> bool:
        self.flush()
        return True

    def flush(self) -> None:
        """Print the held lines on stderr and forget them."""
        for line in self.lines:
            print(line, file=sys.stderr)
        self.lines.clear()

    def __enter__(self) -> _HeldWarnings:
        self._catch.__enter__()
        warnings.showwarning = self._hold_warning
        logging.getLogger().addHandler(self._handler)
        for handler in logging.getLogger("hsinr").handlers:
            handler.addFilter(self._show_first)
        return self

    def __exit__(self, kind, value, traceback) -> None:
        for handler in logging.getLogger("hsinr").handlers:
            handler.removeFilter(self._show_first)
        logging.getLogger().removeHandler(self._handler)
        self._catch.__exit__(kind, value, traceback)
        if kind is None or not issubclass(kind, (HsinrError, KeyboardInterrupt, Terminated)):
            self.flush()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (pytest and callers may swap it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _ShortNameFormatter(logging.Formatter):
    """``[benchmark] message`` for a record of the ``hsinr.benchmark`` logger."""

    def format(self, record: logging.LogRecord) -> str:
        record.short_name = record.name.rpartition(".")[2]
        return super().format(record)


def configure_logging(level: int = logging.INFO) -> None:
    """Show the ``hsinr`` loggers' messages of ``level`` and above on stderr; calling it again changes nothing."""
    logger = logging.getLogger("hsinr")
    logger.setLevel(level)
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_ShortNameFormatter("[%(short_name)s] %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand found in :mod:`hsinr.commands`."""
    parser = argparse.ArgumentParser(
        prog="hsinr",
        description="Hyperspectral image reconstruction with implicit neural representations.",
    )
    parser.add_argument("--version", action="version", version=f"hsinr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with _sigterm_unwinds(), _HeldWarnings():
            result = args.func(args)
    except HsinrError as exc:
        print(f"hsinr {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hsinr {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"hsinr {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
