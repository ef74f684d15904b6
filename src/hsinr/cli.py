"""The ``hsinr`` command line: a thin layer that parses arguments, calls the library and prints.

Each subcommand lives in its own module under :mod:`hsinr.commands` and provides ``add_parser(subparsers)`` (which
registers the subcommand and sets ``func``) . User errors (:class:`hsinr.errors.HsinrError`) end with one line on
stderr and exit code 2; anything else is a bug and keeps its traceback. Library modules report progress through
:mod:`logging` (``logging.getLogger(__name__)``); :func:`configure_logging` shows their INFO messages on stderr as
``[module] message``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import __version__, commands
from .errors import HsinrError

EXIT_USER_ERROR = 2


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
        result = args.func(args)
    except HsinrError as exc:
        print(f"hsinr {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hsinr {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
